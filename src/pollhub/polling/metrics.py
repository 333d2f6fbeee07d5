"""Prometheus metrics of the poll path (served at ``/metrics``)."""

from prometheus_client import Counter, Histogram

POLLS = Counter(
    "pollhub_polls_total", "Resource polls by element and outcome", ["element", "result"]
)
CHANGES = Counter(
    "pollhub_changes_total", "Changes found by element and event type", ["element", "event_type"]
)
POLL_SECONDS = Histogram("pollhub_poll_seconds", "Duration of one resource poll")
POLL_LAG = Histogram(
    "pollhub_poll_lag_seconds",
    "Delay from a poll's due time to its start",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)

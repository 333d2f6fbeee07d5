"""Log lines as ``key=value`` pairs, with the instance and resource on every poll line."""

from __future__ import annotations

import logging

from pollhub.settings import get_settings

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is printed.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """``time level logger message key=value …`` — greppable and parseable."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{key}={value}" for key, value in sorted(extras.items()))
        return line


def configure_logging() -> None:
    """Send pollhub's logs to stderr at ``POLLHUB_LOG_LEVEL``.

    APScheduler logs two INFO lines per job run, and the worker's job runs every second:
    its loggers stay at WARNING unless ``POLLHUB_LOG_LEVEL=DEBUG`` asks for everything.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = get_settings().log_level.upper()
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(
        logging.NOTSET if level == "DEBUG" else logging.WARNING
    )

"""The element catalog over HTTP: ``/elements`` and each element's OAuth URL."""

"""Polling: the poller configuration language, dates, and the poll loop."""

"""Event delivery: the notification outbox, signed callbacks, retries, history.

Changes found by the poller or received as provider webhooks are written to the outbox
(:mod:`pollhub.delivery.outbox`) in the caller's transaction; a :class:`Dispatcher`
(:mod:`pollhub.delivery.dispatcher`) claims due notifications and POSTs them, signed, to
each instance's callback URL. This package knows nothing of polling or of providers: it
delivers what is in the outbox, wherever it came from.
"""

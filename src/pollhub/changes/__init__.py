"""Change detection shared by polling and webhooks: what is new, what was seen before.

Both the poller and the webhook receiver (and its catch-up reads) remember a fingerprint
(a sha256 digest) of the last version of every object, classify each observation with
:func:`.verdicts.classify`, and — after a read that enumerates everything — treat the
remembered objects that are missing from it as deleted (:meth:`.memory.Memory.forget_missing`).
"""

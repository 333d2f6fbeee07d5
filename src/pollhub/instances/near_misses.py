"""Warnings for configuration keys that look like a misspelt known key.

Unknown keys are kept as sent (Cloud Elements does the same), so ``refresh_intervall`` or
``event.notifcation.enabled`` would otherwise be silently ignored: events stay off, the
interval stays 15 minutes. The instance's responses name the key that was probably meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pollhub.elements.base import Element
from pollhub.instances.config import SECRET_KEYS, InstanceConfiguration

# At most this many characters typed wrong, left out or added make a near miss; more than
# that is another key (``callback.headers`` is not a slip of ``callback.url``).
MAX_SLIPS = 2
# The tail of a known key that a near miss may be compared with (``refresh_interval`` for
# ``event.poller.refresh_interval``); shorter tails (``enabled``, ``key``) match too much.
MIN_TAIL_LENGTH = 10


def known_keys(element: Element) -> frozenset[str]:
    """Every configuration key pollhub acts on for ``element``."""
    aliases = {f.alias for f in InstanceConfiguration.model_fields.values() if f.alias}
    return frozenset(
        aliases
        | SECRET_KEYS
        | set(element.required_configuration)
        | set(element.optional_configuration)
    )


def near_miss_warnings(element: Element, keys: Iterable[str]) -> list[str]:
    """One warning per key of ``keys`` that is not known but close to a known key."""
    known = known_keys(element)
    candidates = _candidates(known)
    warnings = []
    for key in keys:
        if key in known:
            continue
        normal = _normalized(key)
        slips, nearest = min((_slips(normal, c), c) for c in candidates)
        if slips <= MAX_SLIPS:
            warnings.append(
                f"configuration '{key}' is not a key pollhub knows: it is kept as sent and "
                f"has no effect. Did you mean '{candidates[nearest]}'?"
            )
    return warnings


def _candidates(known: frozenset[str]) -> dict[str, str]:
    """Normalized forms of the known keys and of their longer tails → the known key."""
    candidates: dict[str, str] = {}
    for key in sorted(known):
        parts = _normalized(key).split(".")
        for start in range(len(parts)):
            tail = ".".join(parts[start:])
            if start == 0 or len(tail) >= MIN_TAIL_LENGTH:
                candidates.setdefault(tail, key)
    return candidates


def _slips(typed: str, meant: str) -> int:
    """How many characters differ between two keys (replaced, missing or extra)."""
    opcodes = difflib.SequenceMatcher(None, typed, meant, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in opcodes if tag != "equal")


def _normalized(key: str) -> str:
    # Case, underscores and dashes are the usual slips: ``signature_key`` for ``signature.key``.
    return key.strip().lower().replace("_", ".").replace("-", ".")

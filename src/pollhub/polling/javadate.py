"""Java ``SimpleDateFormat`` patterns: compile once, then format and parse.

Cloud Elements ran on the JVM, so poller configurations describe dates with Java
``SimpleDateFormat`` patterns such as ``yyyy-MM-dd'T'HH:mm:ss'Z'`` (reference
``cloud_elements.md`` sections 3.3-3.4). Pure: no clock, no I/O.

Where we deliberately differ from Java (all in the direction of reading more provider
dates correctly, never of reading a date differently from a format that worked in Java):

* Parsing is strict about the calendar: month 13 or 31 February is an error, where a
  lenient Java ``SimpleDateFormat`` would roll over into the next month.
* A fraction of a second is a decimal fraction when ``S`` follows a ``.`` or ``,`` literal
  (``ss.SSS``): it may be missing or have 1-9 digits when parsing (providers send
  ``08:30:12Z`` and .NET's 7-digit ``08:30:12.1234567Z`` for the same configured format),
  and digits beyond microseconds are truncated. Java would read ``.5`` as 5 milliseconds
  and ``.1234567`` as 20 minutes. When formatting, ``.SSS`` gives milliseconds like Java;
  other counts give that many decimal digits. ``S`` anywhere else keeps Java's meaning, a
  count of milliseconds.
* After a seconds field an optional fraction is accepted even if the pattern has no
  ``S``, and when a pattern has no zone field but ends with a number, an optional ISO
  zone suffix (``Z``, ``+02``, ``+0200``, ``+02:00``) is accepted and wins over the
  configured zone. Java ignored trailing text; we read it rather than discard it.
* Zone fields (``Z``, ``X``, ``z``) accept any zone spelling when parsing: ``Z``,
  ``-08``, ``-0800``, ``-08:00``, ``GMT``/``UTC`` with or without an offset, and the
  abbreviations :func:`~pollhub.polling.timezones.zone_from_value` knows.
* ``yy`` reads two digits with Python's ``%y`` pivot (69-99 are 19xx, 00-68 are 20xx)
  instead of Java's window around the current date, which would make parsing depend on
  the clock. Four digits under ``yy`` are read as the full year, like Java.
* A wall-clock time that happens twice (the hour after daylight saving ends) in a value
  without an offset is read as its first occurrence (Python's ``fold=0``).
* Month and weekday names are English (the JVM default locale on Cloud Elements' servers)
  and matched case-insensitively; a parsed weekday is checked to be a weekday name and
  otherwise ignored (the date fields decide, as in Java).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from pollhub.polling.timezones import zone_from_value

__all__ = ["DateFormat", "compile_format"]

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_SUPPORTED_LETTERS = frozenset("yMdHhmsSaZXzE")
# Every letter Java's SimpleDateFormat knows, so the error can say "unsupported" rather
# than "not a pattern letter".
_JAVA_LETTERS = frozenset("GyYMLwWDdFEuaHkKhmsSzZX")
_NUMERIC_LETTERS = frozenset("ydHhmsS")
_ZONE_LETTERS = frozenset("ZXz")


@dataclass(frozen=True)
class _Literal:
    text: str


@dataclass(frozen=True)
class _Field:
    letter: str
    count: int

    @property
    def is_numeric(self) -> bool:
        return self.letter in _NUMERIC_LETTERS or (self.letter == "M" and self.count <= 2)


@dataclass(frozen=True)
class _Fraction:
    """``.SSS``: a separator then a decimal fraction of a second (see module docstring)."""

    separator: str
    count: int


_Token = _Literal | _Field | _Fraction


def _tokenize(pattern: str) -> list[_Literal | _Field]:
    """Split a Java pattern into literals and letter runs, following Java's quoting."""
    tokens: list[_Literal | _Field] = []
    literal: list[str] = []

    def flush_literal() -> None:
        if literal:
            tokens.append(_Literal("".join(literal)))
            literal.clear()

    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            if pattern.startswith("''", i):  # '' is one quote, inside or outside quotes
                literal.append("'")
                i += 2
                continue
            i += 1
            while True:
                end = pattern.find("'", i)
                if end < 0:
                    raise ValueError(f"unterminated quote in date format {pattern!r}")
                literal.append(pattern[i:end])
                i = end + 1
                if not pattern.startswith("'", i):
                    break
                literal.append("'")
                i += 1
        elif char.isascii() and char.isalpha():
            run = len(pattern[i:]) - len(pattern[i:].lstrip(char))
            _check_letter(pattern, char, run)
            flush_literal()
            tokens.append(_Field(char, run))
            i += run
        else:
            literal.append(char)
            i += 1
    flush_literal()
    return tokens


def _check_letter(pattern: str, letter: str, count: int) -> None:
    if letter not in _JAVA_LETTERS:
        raise ValueError(
            f"illegal pattern letter {letter!r} in date format {pattern!r}"
            " (quote literal text, e.g. 'T')"
        )
    if letter not in _SUPPORTED_LETTERS:
        raise ValueError(f"unsupported pattern letter {letter!r} in date format {pattern!r}")
    if letter == "X" and count > 3:
        raise ValueError(f"pattern letter 'X' repeats {count} times in {pattern!r} (max 3)")
    if letter == "z" and count > 3:
        raise ValueError(f"long time zone names ('zzzz') are not supported in {pattern!r}")


def _with_fractions(tokens: list[_Literal | _Field]) -> list[_Token]:
    """Turn a ``.``/``,`` literal followed by ``S`` into one :class:`_Fraction`."""
    result: list[_Token] = []
    for token in tokens:
        previous = result[-1] if result else None
        if (
            isinstance(token, _Field)
            and token.letter == "S"
            and isinstance(previous, _Literal)
            and previous.text[-1] in ".,"
        ):
            result.pop()
            if len(previous.text) > 1:
                result.append(_Literal(previous.text[:-1]))
            result.append(_Fraction(previous.text[-1], token.count))
        else:
            result.append(token)
    return result


class DateFormat:
    """A compiled Java ``SimpleDateFormat`` pattern that formats and parses.

    Get one with :func:`compile_format` (cached) rather than constructing it directly.
    """

    def __init__(self, pattern: str) -> None:
        if not pattern:
            raise ValueError("date format is empty")
        self.pattern = pattern
        self._tokens = _with_fractions(_tokenize(pattern))
        self.has_zone = any(
            isinstance(t, _Field) and t.letter in _ZONE_LETTERS for t in self._tokens
        )
        self._regex, self._groups = self._build_regex()

    def __repr__(self) -> str:
        return f"DateFormat({self.pattern!r})"

    # -- formatting

    def format(self, dt: datetime) -> str:
        """``dt`` written in this pattern, in ``dt``'s own zone."""
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"cannot format naive datetime {dt!r}; give it a time zone")
        return "".join(_format_token(token, dt) for token in self._tokens)

    # -- parsing

    def parse(self, value: str, default_zone: tzinfo = UTC) -> datetime:
        """``value`` read with this pattern, as an aware datetime in UTC.

        Without a zone in the value, the time is in ``default_zone`` (the configured
        zone). Raises ValueError naming the value and the pattern when it does not fit.
        """
        match = self._regex.fullmatch(value)
        if match is None:
            raise ValueError(f"date {value!r} does not match format {self.pattern!r}")
        parts = _Parts(zone=default_zone)
        try:
            for group, token in self._groups:
                text = match.group(group)
                if text is not None:
                    _read_token(token, text, parts)
            return parts.to_datetime()
        except (ValueError, OverflowError) as exc:
            raise ValueError(
                f"date {value!r} is not a valid date for format {self.pattern!r}: {exc}"
            ) from None

    def _build_regex(self) -> tuple[re.Pattern[str], list[tuple[str, _Token]]]:
        pieces: list[str] = []
        groups: list[tuple[str, _Token]] = []
        tokens = self._tokens
        for i, token in enumerate(tokens):
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            if isinstance(token, _Literal):
                pieces.append(re.escape(token.text))
                continue
            name = f"g{i}"
            groups.append((name, token))
            if isinstance(token, _Fraction):
                pieces.append(f"(?:[.,](?P<{name}>[0-9]{{1,9}}))?")
                continue
            abuts_number = isinstance(following, _Field) and following.is_numeric
            pieces.append(f"(?P<{name}>{_field_regex(token, abuts_number)})")
            if token.letter == "s" and not (isinstance(following, _Fraction) or abuts_number):
                extra = f"x{i}"
                groups.append((extra, _Fraction(".", 0)))  # read only, never formatted
                pieces.append(f"(?:[.,](?P<{extra}>[0-9]{{1,9}}))?")
        last = tokens[-1]
        if not self.has_zone and (
            isinstance(last, _Fraction) or (isinstance(last, _Field) and last.is_numeric)
        ):
            groups.append(("zone_suffix", _Field("X", 3)))
            pieces.append(r"(?P<zone_suffix>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?")
        return re.compile("".join(pieces)), groups


@lru_cache(maxsize=512)
def compile_format(pattern: str) -> DateFormat:
    """The compiled form of a Java date pattern; raises ValueError for a bad pattern."""
    return DateFormat(pattern)


def _two(number: int) -> str:
    return f"{number:02d}"


def _offset_text(dt: datetime, separator: str, with_minutes: bool = True) -> str:
    offset = dt.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    hours = _two(minutes // 60)
    return f"{sign}{hours}{separator}{_two(minutes % 60)}" if with_minutes else sign + hours


def _zone_name(dt: datetime) -> str:
    """Java's short zone name: ``UTC``, ``PST``, else ``GMT-08:00``."""
    name = dt.tzname()
    if name and name.isalpha():
        return name
    if not dt.utcoffset():
        return "GMT"
    return "GMT" + _offset_text(dt, ":")


def _format_token(token: _Token, dt: datetime) -> str:
    if isinstance(token, _Literal):
        return token.text
    if isinstance(token, _Fraction):
        digits = f"{dt.microsecond:06d}"
        return token.separator + digits[: token.count].ljust(token.count, "0")
    return _FORMATTERS[token.letter](dt, token.count)


def _format_year(dt: datetime, count: int) -> str:
    return _two(dt.year % 100) if count == 2 else str(dt.year).zfill(count)


def _format_month(dt: datetime, count: int) -> str:
    if count >= 3:
        name = _MONTHS[dt.month - 1]
        return name if count >= 4 else name[:3]
    return str(dt.month).zfill(count)


def _format_weekday(dt: datetime, count: int) -> str:
    name = _WEEKDAYS[dt.weekday()]
    return name if count >= 4 else name[:3]


def _format_iso_offset(dt: datetime, count: int) -> str:
    if not dt.utcoffset():
        return "Z"
    return _offset_text(dt, ":" if count == 3 else "", with_minutes=count > 1)


_FORMATTERS: dict[str, Callable[[datetime, int], str]] = {
    "y": _format_year,
    "M": _format_month,
    "d": lambda dt, n: str(dt.day).zfill(n),
    "H": lambda dt, n: str(dt.hour).zfill(n),
    "h": lambda dt, n: str(dt.hour % 12 or 12).zfill(n),
    "m": lambda dt, n: str(dt.minute).zfill(n),
    "s": lambda dt, n: str(dt.second).zfill(n),
    # Java's S is a count of milliseconds, zero-padded to the letter count.
    "S": lambda dt, n: str(dt.microsecond // 1000).zfill(n),
    "a": lambda dt, n: "PM" if dt.hour >= 12 else "AM",
    "E": _format_weekday,
    "Z": lambda dt, n: _offset_text(dt, ""),
    "X": _format_iso_offset,
    "z": lambda dt, n: _zone_name(dt),
}

_ZONE_VALUE_RE = (
    r"(?i:(?:GMT|UTC|UT)(?:[+-][0-9]{1,2}(?::?[0-9]{2})?)?|[A-Z]{2,5}|Z"
    r"|[+-][0-9]{2}(?::?[0-9]{2})?)"
)


def _names_regex(names: tuple[str, ...]) -> str:
    # Full names first so "May"/"March" are not cut short by their 3-letter forms.
    alternatives = sorted({*names, *(name[:3] for name in names)}, key=len, reverse=True)
    return "(?i:" + "|".join(alternatives) + ")"


def _field_regex(field: _Field, abuts_number: bool) -> str:
    if field.is_numeric:
        # Java ignores the letter count when parsing a number, except to split numbers
        # that touch (yyyyMMdd).
        return f"[0-9]{{{field.count}}}" if abuts_number else "[0-9]{1,9}"
    if field.letter == "M":
        return _names_regex(_MONTHS)
    if field.letter == "E":
        return _names_regex(_WEEKDAYS)
    if field.letter == "a":
        return "(?i:AM|PM)"
    return _ZONE_VALUE_RE


@dataclass
class _Parts:
    """The fields read from a value, defaulting like Java (1970-01-01T00:00:00)."""

    zone: tzinfo
    year: int = 1970
    month: int = 1
    day: int = 1
    hour24: int | None = None
    hour12: int | None = None
    pm: bool = False
    minute: int = 0
    second: int = 0
    microsecond: int = 0

    def to_datetime(self) -> datetime:
        if self.hour24 is not None:
            hour = self.hour24
        elif self.hour12 is not None:
            if not 1 <= self.hour12 <= 12:
                raise ValueError(f"hour {self.hour12} is not 1-12")
            hour = self.hour12 % 12 + (12 if self.pm else 0)
        else:
            hour = 0
        local = datetime(
            self.year, self.month, self.day, hour, self.minute, self.second,
            self.microsecond, tzinfo=self.zone,
        )  # fmt: skip
        return local.astimezone(UTC)


def _read_token(token: _Token, text: str, parts: _Parts) -> None:
    if isinstance(token, _Fraction):
        parts.microsecond = int(text[:6].ljust(6, "0"))
        return
    if isinstance(token, _Literal):
        return
    letter = token.letter
    if letter == "y":
        year = int(text)
        if token.count == 2 and len(text) == 2:
            year += 2000 if year < 69 else 1900
        parts.year = year
    elif letter == "M":
        parts.month = int(text) if token.is_numeric else _name_index(_MONTHS, text) + 1
    elif letter == "d":
        parts.day = int(text)
    elif letter == "H":
        parts.hour24 = int(text)
    elif letter == "h":
        parts.hour12 = int(text)
    elif letter == "m":
        parts.minute = int(text)
    elif letter == "s":
        parts.second = int(text)
    elif letter == "S":
        milliseconds = int(text)
        if milliseconds > 999:
            raise ValueError(f"milliseconds {milliseconds} is not 0-999")
        parts.microsecond = milliseconds * 1000
    elif letter == "a":
        parts.pm = text.upper() == "PM"
    elif letter == "E":
        _name_index(_WEEKDAYS, text)  # checked, then ignored: the date decides
    else:
        parts.zone = zone_from_value(text)


def _name_index(names: tuple[str, ...], text: str) -> int:
    folded = text.casefold()
    for index, name in enumerate(names):
        if folded in (name.casefold(), name[:3].casefold()):
            return index
    raise ValueError(f"{text!r} is not one of {', '.join(names)}")

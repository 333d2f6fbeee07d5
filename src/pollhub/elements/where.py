"""Cloud Elements' query language: the ``where`` parameter of hub calls and poller URLs.

``field op value`` conditions joined by ``and`` / ``or`` (``and`` binds tighter), with
parentheses. Operators: ``= != <> > >= < <= like in``; values are single-quoted strings
(``''`` escapes a quote), numbers, ``true``/``false``/``null``, or for ``in`` a
parenthesised list. Fields are dotted paths into the object (``metadata.updateTime``).

Three things are done with a parsed expression:

- :func:`matches` applies it to an object the provider returned (the fallback for what a
  provider cannot filter on);
- :func:`translate` turns what it can into the provider's own query parameters, through a
  resource's ``filters`` map, and returns what is left to apply to fetched objects;
- :func:`render` writes it back as text (for ``GET /instances/{id}/poller``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

ValueFormat = Literal["text", "quoted", "epochSeconds", "epochMilliseconds"]
"""How a condition's value is written into a provider's parameter: as it is; as one term
of a search query (in double quotes when it holds spaces or query syntax); or a date as
seconds or milliseconds since 1970."""

Operator = Literal["=", "!=", ">", ">=", "<", "<=", "like", "in"]
OPERATORS: tuple[Operator, ...] = ("=", "!=", ">", ">=", "<", "<=", "like", "in")

Scalar = str | int | float | bool | None
Value = Scalar | tuple[Scalar, ...]


class WhereError(ValueError):
    """The expression cannot be parsed; the message says where and why."""


@dataclass(frozen=True)
class Condition:
    """One ``field op value`` comparison."""

    field: str
    op: Operator
    value: Value


@dataclass(frozen=True)
class All:
    """Every part must hold (``and``)."""

    parts: tuple[Expression, ...]


@dataclass(frozen=True)
class Any_:
    """At least one part must hold (``or``)."""

    parts: tuple[Expression, ...]


Expression = Condition | All | Any_

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<op><>|!=|>=|<=|=|>|<)
      | (?P<paren>[(),])
      | (?P<word>[A-Za-z_$@][\w.$@:-]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "like", "in", "true", "false", "null", "not"}


@dataclass(frozen=True)
class _Token:
    kind: Literal["string", "number", "op", "paren", "word", "keyword"]
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise WhereError(f"unexpected {text[position:].strip()[:20]!r} at {position}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "word" and value.lower() in _KEYWORDS:
            found.append(_Token("keyword", value.lower(), match.start(kind)))
        else:
            found.append(_Token(kind, value, match.start(kind)))  # type: ignore[arg-type]
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._next = 0

    def parse(self) -> Expression:
        if not self._tokens:
            raise WhereError("empty expression")
        expression = self._or()
        if self._next < len(self._tokens):
            token = self._tokens[self._next]
            raise WhereError(f"unexpected {token.text!r} at {token.at}")
        return expression

    def _peek(self) -> _Token | None:
        return self._tokens[self._next] if self._next < len(self._tokens) else None

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:
            raise WhereError("the expression ends too early")
        self._next += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "keyword" and token.text == word:
            self._next += 1
            return True
        return False

    def _or(self) -> Expression:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Any_(tuple(parts))

    def _and(self) -> Expression:
        parts = [self._factor()]
        while self._keyword("and"):
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def _factor(self) -> Expression:
        token = self._peek()
        if token is not None and token.kind == "paren" and token.text == "(":
            self._take()
            inner = self._or()
            self._close()
            return inner
        return self._condition()

    def _close(self) -> None:
        token = self._take()
        if token.text != ")":
            raise WhereError(f"expected ')' at {token.at}, found {token.text!r}")

    def _condition(self) -> Condition:
        field = self._take()
        if field.kind != "word":
            raise WhereError(f"expected a field name at {field.at}, found {field.text!r}")
        op_token = self._take()
        if op_token.kind == "op":
            op: Operator = "!=" if op_token.text == "<>" else op_token.text  # type: ignore[assignment]
            return Condition(field.text, op, self._scalar())
        if op_token.kind == "keyword" and op_token.text == "like":
            return Condition(field.text, "like", self._scalar())
        if op_token.kind == "keyword" and op_token.text == "in":
            return Condition(field.text, "in", self._list())
        raise WhereError(f"expected an operator after {field.text!r} at {op_token.at}")

    def _scalar(self) -> Scalar:
        token = self._take()
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.text]
        raise WhereError(f"expected a value at {token.at}, found {token.text!r}")

    def _list(self) -> tuple[Scalar, ...]:
        opening = self._take()
        if opening.text != "(":
            raise WhereError(f"expected '(' after 'in' at {opening.at}")
        values = [self._scalar()]
        while (token := self._take()).text == ",":
            values.append(self._scalar())
        if token.text != ")":
            raise WhereError(f"expected ',' or ')' at {token.at}, found {token.text!r}")
        return tuple(values)


def parse(text: str) -> Expression:
    """Parse a where expression; raises :class:`WhereError` naming the problem."""
    return _Parser(text).parse()


def conditions(expression: Expression) -> list[Condition]:
    """Every condition in the expression, in order."""
    if isinstance(expression, Condition):
        return [expression]
    return [c for part in expression.parts for c in conditions(part)]


# ------------------------------------------------------------------------------ render


def _render_value(value: Value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_render_value(v) for v in value) + ")"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def render(expression: Expression) -> str:
    """The expression as where-language text."""
    if isinstance(expression, Condition):
        return f"{expression.field} {expression.op} {_render_value(expression.value)}"
    joiner = " and " if isinstance(expression, All) else " or "
    texts = [
        f"({render(part)})" if isinstance(part, All | Any_) else render(part)
        for part in expression.parts
    ]
    return joiner.join(texts)


# ---------------------------------------------------------------------------- evaluate


def field_value(obj: Any, path: str) -> Any:
    """The value at a dotted path (``metadata.updateTime``, ``sources.0.updateTime``), or
    None. A key that itself holds dots (``@odata.nextLink``) is found whole."""
    if not path:
        return obj
    if isinstance(obj, Mapping):
        if path in obj:
            return obj[path]
        for at in (i for i, char in enumerate(path) if char == "."):
            if path[:at] in obj:
                found = field_value(obj[path[:at]], path[at + 1 :])
                if found is not None:
                    return found
        return None
    if isinstance(obj, list):
        head, _, rest = path.partition(".")
        if head.isdecimal() and int(head) < len(obj):
            return field_value(obj[int(head)], rest)
    return None


def _as_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _comparable(left: Any, right: Scalar) -> tuple[Any, Any] | None:
    """Both sides in one comparable type: dates, numbers, then text."""
    if left is None or right is None:
        return None
    left_date, right_date = _as_date(left), _as_date(right)
    if left_date is not None and right_date is not None:
        return left_date, right_date
    if isinstance(right, bool) or isinstance(left, bool):
        return (str(left).lower(), str(right).lower())
    if isinstance(right, int | float) or isinstance(left, int | float):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            return None
    return str(left), str(right)


def _like(value: Any, pattern: Scalar) -> bool:
    if value is None or pattern is None:
        return False
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in str(pattern)
    )
    return re.fullmatch(regex, str(value), re.IGNORECASE | re.DOTALL) is not None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _holds(condition: Condition, obj: Any) -> bool:
    actual = field_value(obj, condition.field)
    if condition.op == "like":
        return _like(actual, condition.value)  # type: ignore[arg-type]
    if condition.op == "in":
        options = condition.value if isinstance(condition.value, tuple) else (condition.value,)
        return any(_holds(Condition(condition.field, "=", v), obj) for v in options)
    if condition.value is None:
        return (actual is None) == (condition.op == "=")
    pair = _comparable(actual, condition.value)  # type: ignore[arg-type]
    if pair is None:
        return condition.op == "!="
    return _COMPARE[condition.op](*pair)


def matches(expression: Expression | None, obj: Any) -> bool:
    """Whether a fetched object satisfies the expression (None: no condition)."""
    if expression is None:
        return True
    if isinstance(expression, Condition):
        return _holds(expression, obj)
    if isinstance(expression, All):
        return all(matches(part, obj) for part in expression.parts)
    return any(matches(part, obj) for part in expression.parts)


# --------------------------------------------------------------------------- translate


@dataclass(frozen=True)
class Translation:
    """A where expression split into what the provider filters and what we filter.

    ``params`` go to the provider; ``sent`` are the conditions they carry; ``residual`` is
    applied to the fetched objects (None: nothing left).
    """

    params: dict[str, str]
    sent: tuple[Condition, ...]
    residual: Expression | None


ParamFor = Callable[[Condition], tuple[str, str] | None]
"""How one condition becomes one query parameter (name, value), or None if it cannot."""


def translate(
    expression: Expression | None,
    param_for: ParamFor,
    joiners: Mapping[str, str] | None = None,
) -> Translation:
    """Send the ``and``-ed conditions the provider can filter; keep the rest.

    An ``or`` cannot be carried by separate query parameters (the provider ``and``s
    them), so it is applied to the fetched objects. Two conditions that need the same
    parameter are joined with ``joiners[param]`` (e.g. `` and `` inside an OData
    ``$filter``); without a joiner the second is applied locally.
    """
    joiners = joiners or {}
    if expression is None:
        return Translation({}, (), None)
    parts: Sequence[Expression] = expression.parts if isinstance(expression, All) else [expression]
    params: dict[str, str] = {}
    sent: list[Condition] = []
    left: list[Expression] = []
    for part in parts:
        mapped = param_for(part) if isinstance(part, Condition) else None
        if mapped is None or (mapped[0] in params and mapped[0] not in joiners):
            left.append(part)
            continue
        name, value = mapped
        params[name] = f"{params[name]}{joiners[name]}{value}" if name in params else value
        sent.append(part)  # type: ignore[arg-type]
    residual: Expression | None = None
    if len(left) == 1:
        residual = left[0]
    elif left:
        residual = All(tuple(left))
    return Translation(params, tuple(sent), residual)


def scalar_text(value: Value) -> str:
    """A condition's value as a provider query parameter value."""
    if isinstance(value, tuple):
        return ",".join(scalar_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_QUERY_SYNTAX = re.compile(r'[\s(){}:"]|^-')


def formatted_value(value: Value, fmt: ValueFormat = "text") -> str | None:
    """A condition's value written in ``fmt`` (see :data:`ValueFormat`), or None when it
    cannot be: a value that is no date for an epoch, a double quote inside a query term
    (search syntaxes such as Gmail's have no escape for it), a list or an empty value. A
    poller placeholder not yet rendered (``${gmtDate:…}``, in a poller's description)
    stays as it is: a poll renders it to a date before translating."""
    if fmt == "text" or (isinstance(value, str) and _PLACEHOLDER.fullmatch(value)):
        return scalar_text(value)
    if isinstance(value, tuple) or value is None or value == "":
        return None
    if fmt == "quoted":
        text = scalar_text(value)
        if '"' in text:
            return None
        return f'"{text}"' if _QUERY_SYNTAX.search(text) else text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # already a number of seconds or milliseconds
    moment = _as_date(value)
    if moment is None:
        return None
    milliseconds = int(moment.timestamp() * 1000)
    return str(milliseconds // 1000 if fmt == "epochSeconds" else milliseconds)

"""The where language: parsing, applying to fetched objects, translating to provider filters."""

from __future__ import annotations

from typing import Any

import pytest

from pollhub.elements import where
from pollhub.elements.where import All, Any_, Condition, WhereError

DOC: dict[str, Any] = {
    "title": "Q3 report.pdf",
    "size": 1200,
    "shared": True,
    "owner": {"name": "Ann O'Neil"},
    "modified": "2026-11-21T08:30:12Z",
}


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    assert where.parse("a = 1 or b = 2 and c = 3") == Any_(
        (Condition("a", "=", 1), All((Condition("b", "=", 2), Condition("c", "=", 3))))
    )
    assert where.parse("(a = 1 or b = 2) and c = 3") == All(
        (Any_((Condition("a", "=", 1), Condition("b", "=", 2))), Condition("c", "=", 3))
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title = 'it''s'", Condition("title", "=", "it's")),
        ("size >= 10.5", Condition("size", ">=", 10.5)),
        ("size <> 3", Condition("size", "!=", 3)),
        ("shared = true", Condition("shared", "=", True)),
        ("owner.name like 'Ann%'", Condition("owner.name", "like", "Ann%")),
        ("title in ('a', 'b')", Condition("title", "in", ("a", "b"))),
        (
            "lastUpdated>'2026-11-21T08:30:12Z'",
            Condition("lastUpdated", ">", "2026-11-21T08:30:12Z"),
        ),
        ("title AND_NOT = 'x'", None),
    ],
)
def test_conditions_parse_each_operator_and_value_kind(
    text: str, expected: Condition | None
) -> None:
    if expected is None:
        with pytest.raises(WhereError):
            where.parse(text)
    else:
        assert where.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "title =", "title 'x'", "= 'x'", "title = 'open", "(a = 1", "a in 1", "a = 1 b = 2"],
)
def test_malformed_expressions_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(WhereError):
        where.parse(text)


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("title = 'Q3 report.pdf'", True),
        ("title != 'Q3 report.pdf'", False),
        ("size > 1000 and size < 2000", True),
        ("size > 5000 or shared = true", True),
        ("owner.name like '%o''neil'", True),
        ("title like 'Q_ report%'", True),
        ("title in ('a', 'Q3 report.pdf')", True),
        ("modified > '2026-11-21T08:30:11Z'", True),
        ("modified > '2026-11-21T09:00:00+01:00'", True),
        ("modified >= '2026-11-22'", False),
        ("missing = 'x'", False),
        ("missing != 'x'", True),
        ("missing = null", True),
    ],
)
def test_expressions_apply_to_fetched_objects(text: str, holds: bool) -> None:
    assert where.matches(where.parse(text), DOC) is holds


def test_translation_sends_what_maps_and_keeps_the_rest() -> None:
    mapping = {("modified", ">"): "modifiedAfter", ("title", "="): "title"}

    def param_for(condition: Condition) -> tuple[str, str] | None:
        name = mapping.get((condition.field, condition.op))
        return (name, where.scalar_text(condition.value)) if name else None

    expression = where.parse("modified > '2026-01-01T00:00:00Z' and size > 3 and title = 'x'")
    translation = where.translate(expression, param_for)
    assert translation.params == {"modifiedAfter": "2026-01-01T00:00:00Z", "title": "x"}
    assert translation.residual == Condition("size", ">", 3)

    either = where.parse("modified > '2026-01-01T00:00:00Z' or title = 'x'")
    assert where.translate(either, param_for).params == {}
    assert where.translate(either, param_for).residual == either


def test_conditions_on_one_parameter_are_joined_or_kept_local() -> None:
    def param_for(condition: Condition) -> tuple[str, str]:
        return "$filter", f"{condition.field} eq '{condition.value}'"

    expression = where.parse("a = '1' and b = '2'")
    joined = where.translate(expression, param_for, {"$filter": " and "})
    assert joined.params == {"$filter": "a eq '1' and b eq '2'"}
    assert joined.residual is None
    first_only = where.translate(expression, param_for)
    assert first_only.params == {"$filter": "a eq '1'"}
    assert first_only.residual == Condition("b", "=", "2")


def test_render_writes_an_expression_back_as_text() -> None:
    text = "(a = 'it''s' or b in (1, 2)) and c like 'x%'"
    assert where.render(where.parse(text)) == text

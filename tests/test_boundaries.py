"""The provider boundary, checked on the source tree: outside ``elements/`` (and the
sandbox's simulators) no module names an element key or imports an element's module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pollhub
from pollhub.elements import catalog
from pollhub.elements.builtin import DEFINITIONS, BuiltinDefinition

SOURCE = Path(pollhub.__file__).parent
# Where providers are known by name: the elements themselves and the simulated providers.
PROVIDER_PACKAGES = {"elements", "sandbox"}


def modules_outside_the_providers() -> list[Path]:
    return [
        path
        for path in sorted(SOURCE.rglob("*.py"))
        if path.relative_to(SOURCE).parts[0] not in PROVIDER_PACKAGES
    ]


def code_strings(tree: ast.AST) -> list[ast.Constant]:
    """String constants that are code, not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def capability_modules() -> set[str]:
    names = set()
    for path in DEFINITIONS.glob("*.json"):
        capabilities = BuiltinDefinition.model_validate_json(path.read_text()).capabilities
        if capabilities:
            names.add(capabilities)
    return names


def test_no_module_outside_elements_and_the_sandbox_names_an_element_key() -> None:
    keys = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, catalog())) + r")(?![\w])")
    offenders = []
    for path in modules_outside_the_providers():
        for node in code_strings(ast.parse(path.read_text())):
            if keys.search(node.value):
                offenders.append(f"{path.relative_to(SOURCE)}:{node.lineno} {node.value!r}")

    assert offenders == []


def test_no_module_outside_elements_imports_an_element_s_own_module() -> None:
    private = {f"pollhub.elements.{name}" for name in capability_modules()}
    offenders = []
    for path in modules_outside_the_providers():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                imported = {alias.name for alias in node.names}
            else:
                continue
            if imported & private:
                offenders.append(f"{path.relative_to(SOURCE)}:{node.lineno}")

    assert offenders == []

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


# A platform configuration key (``event.notification.callback.url``) or a prefix of some
# (``oauth.user.``), as a whole string or quoted inside a message.
PLATFORM_KEY = r"(?:oauth|event|notification)\.[a-z0-9_.]*"
# The one typed view of a stored configuration, where each platform key is spelled out.
CONFIGURATION_VIEW = Path("db/configuration.py")


def configuration_keys() -> set[str]:
    """Every key the typed view names, and every key a built-in definition declares."""
    view = ast.parse((SOURCE / CONFIGURATION_VIEW).read_text())
    named = {node.value for node in code_strings(view) if re.fullmatch(PLATFORM_KEY, node.value)}
    declared = {
        entry.key
        for path in DEFINITIONS.glob("*.json")
        for entry in BuiltinDefinition.model_validate_json(path.read_text()).configuration
    }
    return named | declared


def spells_a_key(text: str, known: set[str]) -> bool:
    quoted = {match.strip("'\"") for match in re.findall(r"""['"][a-z0-9_.]+['"]""", text)}
    return (
        bool(re.fullmatch(PLATFORM_KEY, text))
        or text in known
        or any(re.fullmatch(PLATFORM_KEY, q) or q in known for q in quoted)
    )


def test_configuration_keys_are_spelled_out_only_in_the_typed_view() -> None:
    # A key read by string in a second module is a second place to change (and to get
    # wrong) when it changes; element keys belong to the element's definition file (and
    # the sandbox's simulated provider of that element).
    known = configuration_keys()
    element_keys = known - {k for k in known if re.fullmatch(PLATFORM_KEY, k)}
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if relative == CONFIGURATION_VIEW:
            continue
        allowed = element_keys if relative.parts[0] == "sandbox" else set()
        for node in code_strings(ast.parse(path.read_text())):
            if node.value not in allowed and spells_a_key(node.value, known - allowed):
                offenders.append(f"{relative}:{node.lineno} {node.value!r}")

    assert offenders == []


def key_constants() -> set[str]:
    """The names of the typed view's key constants (``CALLBACK_URL``...)."""
    view = ast.parse((SOURCE / CONFIGURATION_VIEW).read_text())
    return {
        target.id
        for node in view.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and re.fullmatch(PLATFORM_KEY, node.value.value)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }


def names_a_key_constant(node: ast.AST, modules: set[str], constants: set[str]) -> bool:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id in modules and node.attr in constants
    return isinstance(node, ast.Name) and node.id in constants


def test_stored_configurations_are_read_only_through_the_typed_view() -> None:
    # Writing a key (building a configuration) may use the view's constants; looking one
    # up in a stored configuration must go through StoredConfiguration.
    key_names = key_constants()
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE)
        if relative == CONFIGURATION_VIEW:
            continue
        tree = ast.parse(path.read_text())
        modules, constants = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "pollhub.db.configuration":
                constants |= {a.asname or a.name for a in node.names if a.name in key_names}
            elif isinstance(node, ast.ImportFrom) and node.module == "pollhub.db":
                modules |= {a.asname or a.name for a in node.names if a.name == "configuration"}
        for node in ast.walk(tree):
            looked_up = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "get" and node.args:
                    looked_up = node.args[0]
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                looked_up = node.slice
            if looked_up is not None and names_a_key_constant(looked_up, modules, constants):
                offenders.append(f"{relative}:{node.lineno}")

    assert offenders == []

"""The front end's layers, read from its source with ast: screens and commands share views from tui/render
(and neutral helpers beside it), so no screen imports from pynn_tui.commands, no view imports a command or a
screen, and no module reaches for another module's private (leading-underscore) names."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pynn_tui as tui

TOP = tui.__name__  # the name the front end is imported by, whatever its folder is called
PACKAGE = Path(tui.__file__).parent


def module_name(path: Path) -> str:
    parts = (TOP, *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Whether a dotted name is a module or package of tui (rather than a name inside one)."""
    top, *parts = name.split(".")
    path = PACKAGE.joinpath(*parts)
    return top == TOP and (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file())


def absolute(node: ast.ImportFrom, module: str, package: bool) -> str:
    """The module a `from ... import` in `module` reads, with relative imports resolved."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if package else module.split(".")[:-1]
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


class Source:
    """One module of tui: its name and its parsed text."""

    def __init__(self, module: str, text: str, package: bool = False):
        self.module, self.package = module, package
        self.tree = ast.parse(text, module)

    @classmethod
    def of(cls, path: Path) -> "Source":
        return cls(module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py")

    def imports(self) -> list[tuple[int, str, str | None]]:
        """(line, module, name) for every import, name None for `import module`; a name that is itself a module
        of tui (from pynn_tui.commands import explain) counts as importing that module."""
        found = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found += [(node.lineno, alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = absolute(node, self.module, self.package)
                for alias in node.names:
                    inner = f"{module}.{alias.name}"
                    found.append((node.lineno, inner, None) if is_module(inner) else
                                 (node.lineno, module, alias.name))
        return found

    def private_uses(self) -> list[str]:
        """Where the module imports a private name of another tui module, or reads one through a module it
        imported (import tui.commands.explain as explain; explain._ranking)."""
        problems, aliases = [], {}
        for line, module, name in self.imports():
            if module.split(".")[0] != TOP or module == self.module:
                continue
            if name is not None and name.startswith("_"):
                problems.append(f"{self.module}:{line} imports {name} from {module}")
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    # `import tui.a.b` binds tui; `import tui.a.b as m` binds the module itself
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                        alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                module = absolute(node, self.module, self.package)
                for alias in node.names:
                    if is_module(f"{module}.{alias.name}"):
                        aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                dotted, value = [], node.value
                while isinstance(value, ast.Attribute):
                    dotted.insert(0, value.attr)
                    value = value.value
                if isinstance(value, ast.Name) and value.id in aliases:
                    owner = ".".join([aliases[value.id], *dotted])
                    if is_module(owner) and owner != self.module:
                        problems.append(f"{self.module}:{node.lineno} reads {node.attr} of {owner}")
        return problems


def sources(folder: str = "") -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_the_package_is_read_from_its_folder():
    # guards the checks below against passing on an empty or wrong folder
    names = {module_name(p) for p in sources()}
    assert {f"{TOP}.screens.outputs", f"{TOP}.commands.explain", f"{TOP}.render.heatmap"} <= names
    # and imports are read under the name the modules have: the Outputs screen's base class is found
    outputs = Source.of(PACKAGE / "screens" / "outputs.py")
    assert (f"{TOP}.screens.widgets", "InspectScreen") in [(m, name) for _, m, name in outputs.imports()]


def test_no_screen_imports_a_command():
    found = [f"{module_name(path)}:{line} imports {module}" + (f".{name}" if name else "")
             for path in sources("screens") for line, module, name in Source.of(path).imports()
             if module.split(".")[:2] == [TOP, "commands"]]
    assert not found, "screens share views from tui/render, not commands:\n" + "\n".join(found)


def test_no_view_imports_a_command_or_the_app():
    found = [f"{module_name(path)}:{line} imports {module}"
             for path in sources("render") for line, module, _ in Source.of(path).imports()
             if module.split(".")[:2] in ([TOP, "commands"], [TOP, "screens"], [TOP, "app"])]
    assert not found, "views sit below the commands and the app:\n" + "\n".join(found)


def test_no_module_uses_another_modules_private_names():
    found = [problem for path in sources() for problem in Source.of(path).private_uses()]
    assert not found, "what two modules share is public (and usually a view in tui/render):\n" + "\n".join(found)


@pytest.mark.parametrize("text, expected", [
    ("from {top}.commands.explain import _ranking", "imports _ranking from {top}.commands.explain"),
    ("from ..commands.explain import _ranking", "imports _ranking from {top}.commands.explain"),
    ("import {top}.commands.explain as explain\nexplain._ranking", "reads _ranking of {top}.commands.explain"),
    ("import {top}.commands.explain\n{top}.commands.explain._ranking", "reads _ranking of {top}.commands.explain"),
    ("from {top}.commands import explain\nexplain._ranking", "reads _ranking of {top}.commands.explain"),
])
def test_the_checks_see_each_way_of_reaching_into_a_command(text, expected):
    # a screen that is not on disk: the checks read it as if it were tui/screens/sample.py
    screen = Source(f"{TOP}.screens.sample", text.format(top=TOP))
    assert [p for p in screen.private_uses() if expected.format(top=TOP) in p]
    assert [m for _, m, _ in screen.imports() if m == f"{TOP}.commands.explain"]


def test_the_checks_let_a_module_use_its_own_and_other_libraries_private_names():
    own = f"from {TOP}.commands.explain import _ranking\nimport os\nos._exit\nfrom pynn import _build\n"
    assert Source(f"{TOP}.commands.explain", own).private_uses() == []

"""The layout of benchmarks/: the suites are scripts over benchmarks/common, with no import circle
and no underscore name imported from another benchmarks module (read with ast, nothing imported)."""

from __future__ import annotations

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
PACKAGE = BENCHMARKS.name


def module_name(path: Path) -> str:
    parts = list(path.relative_to(BENCHMARKS.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(BENCHMARKS.rglob("*.py"))}


def absolute(node: ast.ImportFrom, name: str, path: Path) -> str:
    """The module an ``from ... import`` names, relative imports resolved against ``name`` (its importer)."""
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, str, int]]:
    """(module imported, name imported from it or '', line) for every benchmarks import of a module,
    those inside functions included (a lazy import closes a circle all the same)."""
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            source = absolute(node, name, path)
            if source.split(".")[0] != PACKAGE:
                continue
            for a in node.names:
                submodule = f"{source}.{a.name}"
                if submodule in known:  # from benchmarks.common import stats: the module stats
                    found.append((submodule, "", node.lineno))
                else:
                    found.append((source, a.name, node.lineno))
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: {target for target, _, _ in imports(name, path, known) if target in known and target != name}
            for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def private_imports() -> list[str]:
    """``from benchmarks.x import _name`` (or ``x._name`` on an imported benchmarks module) across modules."""
    mods = modules()
    known = set(mods)
    bad = []
    for name, path in mods.items():
        aliases = {}
        for target, imported, line in imports(name, path, known):
            if imported.startswith("_") and not imported.startswith("__") and target != name:
                bad.append(f"{path.relative_to(BENCHMARKS.parent)}:{line}: {imported} from {target}")
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):  # import benchmarks.x as y / from benchmarks import x: y._name
            if isinstance(node, ast.Import):
                aliases.update({a.asname or a.name: a.name for a in node.names if a.name in known})
            elif isinstance(node, ast.ImportFrom):
                source = absolute(node, name, path)
                aliases.update({a.asname or a.name: f"{source}.{a.name}" for a in node.names
                                if f"{source}.{a.name}" in known})
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = ast.unparse(node.value)
                if aliases.get(base, name) != name:
                    bad.append(f"{path.relative_to(BENCHMARKS.parent)}:{node.lineno}: {base}.{node.attr}")
    return bad


def test_the_checks_find_what_they_look_for(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert module_name(BENCHMARKS / "common" / "__init__.py") == "benchmarks.common"
    source = tmp_path / "m.py"
    source.write_text("from benchmarks.common import stats\nfrom benchmarks.compare import _private, public\n"
                      "def f():\n    import benchmarks.zero_shot\n")
    known = {"benchmarks.common.stats", "benchmarks.compare", "benchmarks.zero_shot"}
    assert imports("benchmarks.m", source, known) == [("benchmarks.common.stats", "", 1),
                                                       ("benchmarks.compare", "_private", 2),
                                                       ("benchmarks.compare", "public", 2),
                                                       ("benchmarks.zero_shot", "", 4)]


def test_benchmarks_have_no_import_circle():
    edges = graph()
    assert "benchmarks.compare" in edges and "benchmarks.common.stats" in edges  # it read the tree
    assert cycles(edges) == []


def test_no_benchmarks_module_imports_another_ones_private_names():
    assert private_imports() == []


def test_common_imports_no_suite():
    """benchmarks/common is what the suites share: it imports none of them."""
    edges = graph()
    common = f"{PACKAGE}.common"
    wrong = {m: sorted(t for t in targets if not t.startswith(common) and t != PACKAGE)
             for m, targets in edges.items() if m.startswith(common)}
    assert {m: t for m, t in wrong.items() if t} == {}

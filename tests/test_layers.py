"""The package's layers run one way: a module imports only from its own layer or below, and no
two modules import each other, directly or around a loop (imports inside functions count)."""
import ast
from pathlib import Path

import pytest

import tmvlib

PACKAGE = Path(tmvlib.__file__).parent

# Bottom to top. A module may import from its own top-level package and from any lower layer;
# two packages in one layer stay independent of each other.
LAYERS = (
    ("fingerprint", "progress", "runtime", "contracts", "atomic", "formatting"),
    ("parallel",),
    ("config",),
    ("metrics",),
    ("data",),
    ("artifacts",),
    ("runs",),
    ("models",),
    ("uncertainty", "explain"),
    ("stages",),
    ("tables",),
    ("report", "orchestration"),
    ("card",),
    ("cli",),
)
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> tuple[str, bool]:
    """(``tmvlib.a.b``, is a package ``__init__``)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Absolute ``tmvlib`` modules imported by the file, with line numbers."""
    name, is_package = module_name(path)
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("tmvlib"):
                # ``from . import x`` may name a submodule
                found += [(f"{target}.{a.name}" if not node.module else target, node.lineno)
                          for a in node.names] if not node.module else [(target, node.lineno)]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("tmvlib")]
    return found


def resolve(target: str, modules: set[str]) -> str:
    """The longest known module that ``target`` names (``tmvlib.x.y.func`` -> ``tmvlib.x.y``)."""
    parts = target.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, list[tuple[str, int]]]:
    files = {module_name(p)[0]: p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {mod: [(resolve(t, modules), line) for t, line in imports_of(path)]
            for mod, path in sorted(files.items())}


def top(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_top_level_module_has_a_layer():
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert names <= set(LEVEL), f"declare the layer of {sorted(names - set(LEVEL))} in LAYERS"


def test_no_import_from_a_higher_layer_or_a_sibling():
    bad = []
    for module, targets in import_graph().items():
        if not top(module):
            continue
        for target, line in targets:
            a, b = top(module), top(target)
            if not b or a == b:
                continue
            if LEVEL[b] >= LEVEL[a]:
                bad.append(f"{module}:{line} imports {target} ({b} is not below {a})")
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    graph = {m: {t for t, _ in targets if t and t != m and t != "tmvlib"}
             for m, targets in import_graph().items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # a package imports its submodules to re-export them: not a cycle back to itself
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("source, expect", [
    ("from ..tables.trust import x\n", "tables"),
    ("from .similarity import x\n", "explain"),
])
def test_relative_imports_resolve(tmp_path, source, expect, monkeypatch):
    path = PACKAGE / "explain" / "_layer_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source)
    assert top(imports_of(path)[0][0]) == expect

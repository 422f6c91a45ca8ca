"""The layers of the house (ARCHITECTURE.md): every module imports only from its own floor or below, and no two
modules import each other, directly or through others. Function-local imports count like any other.

The floors are read from the code block under "Layers of the house" in ARCHITECTURE.md, so the document and the
code cannot drift apart: a module the document does not place fails too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "neurosim"
_NAMES = r"[\w.]+(?:\.py|/)"


def read_floors(text: str) -> dict[str, int]:
    """Top-level entry of the package (``"ledger"``, ``"chip"``, ``"_blas"``) -> its floor number."""
    block = text.split("## Layers of the house", 1)[1].split("```", 2)[1]
    floors: dict[str, int] = {}
    floor = None
    for line in block.splitlines():
        m = re.match(r"^(\d+)?\s*(.*)$", line)
        if m.group(1):
            floor = int(m.group(1))
        names = re.split(r"\s{2,}", m.group(2).strip())[0]
        if floor is None or not re.fullmatch(rf"{_NAMES}(?:,\s*{_NAMES})*", names):
            continue  # a description line
        for name in re.split(r",\s*", names):
            floors[name.removesuffix(".py").removesuffix("/")] = floor
    return floors


FLOORS = read_floors((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def floor_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # the package's __init__: the public facade, the top floor
        return max(FLOORS.values())
    if parts[1] not in FLOORS:
        raise AssertionError(f"ARCHITECTURE.md places no floor for neurosim.{parts[1]} (module {module})")
    return FLOORS[parts[1]]


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The package modules an import statement in ``module`` reaches (the most specific existing module)."""
    is_package = MODULES[module].name == "__init__.py"
    if isinstance(node, ast.Import):
        bases = [alias.name for alias in node.names]
        candidates = [[b] for b in bases]
    else:
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        candidates = [[f"{base}.{alias.name}", base] for alias in node.names]
    out = []
    for options in candidates:
        for name in options:
            if name in MODULES:
                out.append(name)
                break
    return out


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # walk: function-local imports too
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module].update(t for t in _resolve(module, node) if t != module)
    return graph


GRAPH = import_graph()


def test_the_layer_list_is_read_from_architecture_md():
    assert FLOORS["errors"] == 1 and FLOORS["profiles"] == 2 and FLOORS["ledger"] == 3 and FLOORS["memory"] == 4
    assert FLOORS["record"] == 5 and FLOORS["chip"] == 6 and FLOORS["plots"] == 7 and FLOORS["training"] == 8
    assert FLOORS["experiments"] == 9 and FLOORS["cli"] == 10


def test_every_module_has_a_floor():
    for module in MODULES:
        floor_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_downwards(module):
    upward = [(target, floor_of(target)) for target in sorted(GRAPH[module]) if floor_of(target) > floor_of(module)]
    assert not upward, f"{module} (floor {floor_of(module)}) imports upwards: {upward}"


def test_no_import_cycles():
    # Tarjan's strongly connected components: any component of two or more modules is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_checker_sees_local_upward_imports_and_cycles(tmp_path):
    """The walk above finds an import inside a function, and the parser reads continuation lines."""
    tree = ast.parse("def f():\n    from ..training import train\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _resolve("neurosim.chip.chip", node) == ["neurosim.training.loop"] or \
        _resolve("neurosim.chip.chip", node) == ["neurosim.training"]
    floors = read_floors("## Layers of the house\n```\n1  a.py, b.py\n2  c/   text\n   d/   more\n"
                         "               continued text, with words\n```\n")
    assert floors == {"a": 1, "b": 1, "c": 2, "d": 2}

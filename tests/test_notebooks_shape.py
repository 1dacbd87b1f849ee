"""Notebooks tell the story and call tested functions: no function definitions in a notebook and
no long cells (the parameters cell and the imports cell excepted)."""
import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_LINES = 15


def code_cells(path: Path):
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] == "code":
            yield index, cell, "".join(cell["source"])


def imports_only(source: str) -> bool:
    """Imports, then at most a few setup calls and assignments (``setup_notebook()``)."""
    body = ast.parse(source).body
    return sum(not isinstance(n, (ast.Import, ast.ImportFrom)) for n in body) <= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_function_definitions_in_notebooks(path):
    found = [f"cell {i}: def {n.name}" for i, _, src in code_cells(path)
             for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert not found, f"{path.name} defines functions; move them into tmvlib: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cells_are_short(path):
    long = [f"cell {i}: {len(src.splitlines())} lines" for i, cell, src in code_cells(path)
            if len(src.splitlines()) > MAX_LINES
            and "parameters" not in cell["metadata"].get("tags", []) and not imports_only(src)]
    assert not long, f"{path.name} has cells over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_hand_built_artifact_paths(path):
    """Every artifact path comes from tmvlib.artifacts, never ``run / "metrics" / ...``."""
    found = [f"cell {i}" for i, _, src in code_cells(path) if 'run / "' in src]
    assert not found, f"{path.name} builds artifact paths by hand in {found}; use tmvlib.artifacts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_reference_notebooks_run_the_current_code(path):
    """nbval executes the committed ci copies in tests/notebooks/, not notebooks/: their cells
    must be the chapter's current cells (plus papermill's injected parameters), or ``make test``
    checks old code. ``make refs`` brings them up to date."""
    reference = ROOT / "tests" / "notebooks" / path.name
    assert reference.is_file(), f"{reference} is missing: run make refs"

    def cells(notebook: Path) -> list[tuple[str, str]]:
        found = json.loads(notebook.read_text())["cells"]
        return [(c["cell_type"], "".join(c["source"])) for c in found
                if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]

    assert cells(reference) == cells(path), (
        f"tests/notebooks/{path.name} is not the current notebooks/{path.name}: run make refs")

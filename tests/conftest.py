"""Shared fixtures."""
from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest

# nbval kernels inherit this: progress bars would otherwise differ from the stored outputs
os.environ.setdefault("TMV_PROGRESS", "0")
# and this: OpenMP threads that spin while waiting stall a 2-core machine shared with other jobs
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from tmv_testing import make_nih


@pytest.fixture
def nih_root(tmp_path: Path) -> Path:
    """Six patients: pneumonia, no finding, other findings, one AP, one downsampled, one boxed."""
    rows = [
        ("00000001_000.png", "Pneumonia", "1", 40, "M", "PA"),
        ("00000001_001.png", "Pneumonia|Effusion", "1", 41, "M", "AP"),
        ("00000002_000.png", "No Finding", "2", 30, "F", "PA"),
        ("00000003_000.png", "Effusion", "3", 60, "F", "PA"),
        ("00000004_000.png", "No Finding", "4", 25, "M", "AP"),
        ("00000005_000.png", "No Finding", "5", 70, "F", "PA"),
        ("00000006_000.png", "Pneumonia", "6", 55, "M", "PA"),
    ]
    return make_nih(tmp_path / "nih14", rows, boxes=[("00000006_000.png", "Pneumonia")],
                    expert=[("00000002_000.png", "test")], widths={"00000005_000.png": 64})


@pytest.fixture
def shared_data() -> Path:
    """The real prepared data beside the checkout (CI has it); skipped where it is absent."""
    root = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not (root / "nih14" / "manifest.csv").is_file():
        pytest.skip(f"real data not found at {root}")
    return root


_failed_notebooks: set[Path] = set()
_glue: dict[Path, dict[str, str]] = {}  # glued values nbval has seen, per reference notebook
_nbval_lock: ExitStack | None = None  # the ci run's lock, held while nbval rewrites the run


def _is_reference_notebook(item) -> bool:
    path = Path(str(item.fspath))
    return path.suffix == ".ipynb" and path.parent.name == "notebooks"


def pytest_collection_modifyitems(config, items):
    """The ci notebooks (nbval) and what reads their run are ``notebooks`` and ``slow``:
    ``pytest -m "not slow"`` is the developer's quick pass (see pyproject's markers)."""
    for item in items:
        if Path(str(item.fspath)).parent.name == "notebooks":
            item.add_marker(pytest.mark.notebooks)
            item.add_marker(pytest.mark.slow)


def pytest_runtest_setup(item):
    """The first reference notebook takes the ``ci`` run's lock, as ``tmv chapter`` would: a
    ``make refs`` or ``make book PROFILE=ci`` started meanwhile stops instead of mixing runs; and
    sets the ci profile's environment for the kernels to come, as ``tmv chapter`` does."""
    global _nbval_lock
    if _is_reference_notebook(item) and _nbval_lock is None:
        from tmvlib.config import profile_environment
        from tmvlib.runs import run_lock

        # the kernels nbval starts inherit it: the ci book computes with 2 torch threads everywhere
        os.environ.update(profile_environment("ci"))

        _nbval_lock = ExitStack()
        _nbval_lock.enter_context(run_lock("ci", command="pytest (nbval, tests/notebooks)"))


def pytest_runtest_logreport(report):
    """Remember the reference notebooks with a failing cell: they get no completion record."""
    path = Path(report.fspath)
    if report.failed and path.suffix == ".ipynb":
        _failed_notebooks.add(path)


def pytest_runtest_teardown(item, nextitem):
    """nbval runs the ci reference notebooks cell by cell, as ``tmv chapter`` would run them but
    without it: collect each cell's glued values; after a chapter's last cell, record its resolved
    params, its glued values and its completion record as ``tmv chapter`` does (unless a cell
    failed), so that the next chapter finds what it declares it reads."""
    global _nbval_lock
    path = Path(str(item.fspath))
    if not _is_reference_notebook(item):
        return
    from tmvlib.runs.glue import glued_values, write_glue

    _glue.setdefault(path, {}).update(glued_values(getattr(item, "test_outputs", None) or []))
    if nextitem is not None and Path(str(nextitem.fspath)) == path:
        return
    if path not in _failed_notebooks:
        from tmvlib.config import load_params, record_run
        from tmvlib.runs import write_record

        params = load_params(path.stem, "ci")
        record_run(params["run_id"], path.stem, params)
        # the chapter's glued values, as tmv chapter keeps them (the numeric regression reads them)
        write_glue(params["run_id"], path.stem, _glue.pop(path, {}))
        write_record(params["run_id"], path.stem, params, command=f"nbval {path.name}")
    if (nextitem is None or not _is_reference_notebook(nextitem)) and _nbval_lock is not None:
        _nbval_lock.close()  # the last notebook: later tests (tmv predict) may read the run
        _nbval_lock = None

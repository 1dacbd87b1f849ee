"""Shared fixtures."""
from __future__ import annotations

import os
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


def pytest_runtest_teardown(item, nextitem):
    """nbval runs the ci reference notebooks cell by cell, as ``tmv chapter`` would run them but
    without it: after a chapter's last cell, record its resolved params as ``tmv chapter`` does,
    so that the next chapter finds what it declares it reads."""
    path = Path(str(item.fspath))
    if path.suffix != ".ipynb" or path.parent.name != "notebooks":
        return
    if nextitem is not None and Path(str(nextitem.fspath)) == path:
        return
    from tmvlib.config import load_params, record_run

    params = load_params(path.stem, "ci")
    record_run(params["run_id"], path.stem, params)

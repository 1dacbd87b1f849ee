"""Every test here gets its own artifacts folder (``TMV_ARTIFACTS``)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def artifacts(tmp_path, monkeypatch):
    folder = tmp_path / "artifacts"
    monkeypatch.setenv("TMV_ARTIFACTS", str(folder))
    return folder

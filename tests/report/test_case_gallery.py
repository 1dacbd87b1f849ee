"""The failure-audit gallery: one colour scale, one PNG per case, the overview and the galleries
of a rule (display captured), on tiny hand-built cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tmvlib.report import case_gallery
from tmvlib.report.case_gallery import case_overview, case_pngs, show_cases, spread_scale
from tmvlib.tables.cases import CaseMaps

RECORDS = [{"image_id": "a", "set": "test", "reasons": ["danger zone"], "label": 1, "prob": 0.12345,
            "threshold": 0.4, "decision_uncertainty": 0.12, "mutual_information": 0.01, "ensemble_variance": 0.0,
            "instability": 0.2, "uncertainty": 0.12345, "flip_rate": 0.0, "tta_count": 2, "view": "AP", "sex": "F",
            "age": 60.0, "quality": "full", "observations": [{"rule": "edge peak", "text": "Edge."}]},
           {"image_id": "b", "set": "external", "reasons": ["shifted-set failure", "danger zone"], "label": 0,
            "prob": 0.9, "threshold": 0.4, "decision_uncertainty": 0.1, "mutual_information": 0.02,
            "ensemble_variance": 0.01, "instability": 0.6, "uncertainty": 0.1, "flip_rate": 0.5, "tta_count": 2,
            "view": None, "sex": None, "age": np.nan, "quality": None, "observations": []}]


def test_spread_scale():
    spread = np.array([[[np.nan, 0.0], [1.0, 2.0]]])
    assert spread_scale(spread) == pytest.approx(np.quantile([0.0, 1.0, 2.0], 0.99))
    assert spread_scale(np.full((1, 2, 2), np.nan)) == 1.0 and spread_scale(np.zeros((0, 4, 4))) == 1.0


def test_case_pngs_one_per_record():
    s = 16
    maps = CaseMaps(np.random.default_rng(0).random((2, s, s)), np.array([True, False]),
                    np.random.default_rng(1).random((2, s, s)), np.array([True, False]))
    pngs = case_pngs(RECORDS, torch.zeros((2, 1, s, s), dtype=torch.uint8), maps, np.full((2, s, s), 0.1),
                     {"a": [(1.0, 1.0, 4.0, 4.0)]}, spread_max=0.2, scorecam_top_k=8)
    assert len(pngs) == 2 and all(p.startswith(b"\x89PNG") for p in pngs)


def test_overview_and_empty_note():
    table = case_overview(RECORDS, "1 - confidence", "instability (TTA)")
    assert list(table.columns) == ["image_id", "set", "reasons", "label", "p", "1 - confidence", "instability (TTA)",
                                   "view", "observations"]
    assert table.loc[1, "reasons"] == "shifted-set failure, danger zone" and table.loc[0, "p"] == 0.123
    assert table.loc[0, "observations"] == "edge peak" and table.loc[1, "observations"] == ""
    assert "No case was selected" in case_overview([], "u", "i").data


def test_show_cases_displays_at_most_cap(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setattr(case_gallery, "png_to_jpeg", lambda png: b"jpeg:" + png)
    pngs = [b"A", b"B"]
    assert show_cases(RECORDS, pngs, "danger zone", cap=1) == 2
    assert [s.data for s in shown] == [b"jpeg:A"]
    assert show_cases(RECORDS, pngs, "shifted-set failure") == 1 and shown[-1].data == b"jpeg:B"
    assert show_cases(RECORDS, pngs, "least stable explanation") == 0 and len(shown) == 2

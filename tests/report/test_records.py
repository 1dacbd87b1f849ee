"""JSON-safe values and the PNG + JSON of an audited case."""
import json

import numpy as np
import pandas as pd
import pytest

from tmvlib.report.records import clear_cases, json_safe, write_case


def test_json_safe():
    value = {"a": np.float32(0.5), "b": np.nan, "c": np.int64(3), "d": (1, np.bool_(True)),
             "e": np.array([1.0, np.inf]), 4: pd.NA, "f": ["x"]}
    out = json_safe(value)
    assert out == {"a": 0.5, "b": None, "c": 3, "d": [1, True], "e": [1.0, None], "4": None,
                   "f": ["x"]}
    json.dumps(out, allow_nan=False)


def test_write_case_and_clear(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")  # figures left open by other tests would hide whether this one is closed
    from tmvlib.report.failure_figures import case_text, failure_case_grid, figure_png, png_to_jpeg

    gray = np.full((2, 16, 16), 128, np.uint8)
    maps = np.random.default_rng(0).random((2, 16, 16)).astype(np.float32)
    spread = maps * 0.1
    spread[1, 0, 0] = np.nan
    record = {"image_id": "00000001_000", "set": "test", "reasons": ["danger zone"], "label": 1,
              "prob": np.float32(0.1), "threshold": 0.5, "decision_uncertainty": 0.1,
              "mutual_information": np.nan, "ensemble_variance": 0.001, "instability": 0.4,
              "flip_rate": 0.25, "tta_count": 8, "view": "AP", "sex": None, "age": np.nan,
              "quality": "full"}
    text = case_text(record, ["Confident error."])
    assert "2/8" in text and "dec. unc. 0.10" in text and "sex n/a" in text and "age n/a" in text and "- Confident error." in text
    fig = failure_case_grid(gray, maps, maps, spread, [text, "second"],
                            boxes=[[(2, 2, 4, 4)], []], scorecam_notes=["chapter 05", "top-k"])
    assert len(fig.axes) == 10
    png, js = write_case(tmp_path / "cases", "00000001_000", fig,
                         {**record, "observations": [{"rule": "r", "text": "t"}]})
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads(js.read_text())
    assert saved["prob"] == pytest.approx(0.1) and saved["mutual_information"] is None
    assert saved["reasons"] == ["danger zone"] and saved["observations"][0]["rule"] == "r"
    assert not plt.get_fignums()  # the figure was closed
    # a case rendered once as PNG bytes (shown in the book and written as is)
    png_bytes = figure_png(failure_case_grid(gray[:1], maps[:1], maps[:1], spread[:1], ["one"]))
    assert png_bytes[:4] == b"\x89PNG" and not plt.get_fignums()
    assert png_to_jpeg(png_bytes)[:3] == b"\xff\xd8\xff"
    png2, _ = write_case(tmp_path / "cases", "00000002_000", png_bytes, {"x": np.nan})
    assert png2.read_bytes() == png_bytes
    assert json.loads((tmp_path / "cases" / "00000002_000.json").read_text()) == {"x": None}
    (tmp_path / "cases" / "keep.txt").write_text("x")
    assert clear_cases(tmp_path / "cases") == 4
    assert [p.name for p in (tmp_path / "cases").iterdir()] == ["keep.txt"]
    with pytest.raises(ValueError, match="plain file name"):
        write_case(tmp_path, "../x", png_bytes, {})
    with pytest.raises(ValueError, match="do not match"):
        failure_case_grid(gray, maps[:1], maps, spread, ["a", "b"])

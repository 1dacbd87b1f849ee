import html
import io
import json

import numpy as np
from PIL import Image

from tmvlib.card.predictor import DISCLAIMER, CardResult
from tmvlib.card.render import card_html, clear_cards, headline, write_card


def _record(status="in distribution"):
    return {
        "image_id": "img_001", "run_id": "ci", "status": status, "task": "Pneumonia vs no Pneumonia",
        "input": {"path": "img_001.png", "format": "PNG", "mode": "L", "bit_depth": 8, "channels": 1,
                  "width": 64, "height": 64, "colour_spread": 0.0, "view": None, "notes": []},
        "model": {"backbone": "efficientnet_lite0", "weights": "efficientnet_lite0: packaged weights", "image_size": 64},
        "prediction": {"probability": 0.71, "probability_uncalibrated": 0.74, "temperature": 1.2, "threshold": 0.6,
                       "threshold_uncalibrated": 0.62, "threshold_rule": "youden", "label": "Pneumonia",
                       "mc_dropout": {"probability": 0.7, "mutual_information": 0.001, "samples": 3,
                                      "sample_range": [0.68, 0.75], "sample_probs": [0.68, 0.7, 0.75], "temperature": 1.1},
                       "ensemble": {"probability": 0.69, "variance": 0.01, "members": 2, "member_range": [0.6, 0.74],
                                    "member_probs": [0.74, 0.6], "temperature": 1.3}},
        "explanation": {"gradcam_peak_region": "lung_proxy", "scorecam_peak_region": "border", "scorecam": "exact",
                        "methods_spearman": 0.5, "methods_peak_distance": 0.3},
        "stability": {"score": "instability (TTA)", "stability": 0.55, "instability (TTA)": 0.45,
                      "flip rate (TTA)": 0.5, "tta_probs": [0.5, 0.8]},
        "trust": {"uncertainty_score": "decision uncertainty", "uncertainty": 0.26, "uncertainty_threshold": 0.3,
                  "confident": True, "instability_score": "instability (TTA)", "instability": 0.45,
                  "instability_threshold": 0.6, "stable": True, "cell": "confident · stable",
                  "cell_error_rate_val": {"rate": 0.2, "low": 0.1, "high": 0.3, "images": 50, "errors": 10}},
        "checks": [{"name": "size", "value": 64.0, "low": 224.0, "high": None, "severity": "note", "fired": True,
                    "message": "small"}],
        "warnings": ["Note: small."], "failure_mode_flags": {}, "disclaimer": DISCLAIMER,
    }


def _result(record):
    rng = np.random.default_rng(0)
    return CardResult(record, rng.integers(0, 255, (64, 64), dtype=np.uint8), rng.random((64, 64)), rng.random((64, 64)))


def test_headline_withholds_the_probability_out_of_distribution():
    assert headline(_record()).startswith("P(Pneumonia) = 0.71 (calibrated)")
    assert headline(_record("out of distribution")).startswith("OUT OF DISTRIBUTION: no reliable probability")


def test_write_card_gives_png_html_json(tmp_path):
    paths = write_card(tmp_path, _result(_record()))
    assert Image.open(io.BytesIO(paths["png"].read_bytes())).size[0] >= 1000
    page = paths["html"].read_text()
    assert html.escape(DISCLAIMER) in page and "Note: small." in page and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # opens offline
    record = json.loads(paths["json"].read_text())
    assert record["prediction"]["probability"] == 0.71 and record["disclaimer"] == DISCLAIMER


def test_clear_cards_removes_an_earlier_runs_cards_and_nothing_else(tmp_path):
    write_card(tmp_path, _result(_record()), stem="old")
    (tmp_path / "notes.txt").write_text("kept")
    assert clear_cards(tmp_path) == 3 and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert clear_cards(tmp_path / "missing") == 0


def test_html_escapes_file_names():
    record = _record()
    record["image_id"] = "<script>x</script>"
    assert "<script>x" not in card_html(record, b"png")

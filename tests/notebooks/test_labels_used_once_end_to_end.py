"""The test and external labels are used once, end to end: the ci chapters 02-08 rerun on a copy
of the ci splits whose NIH test labels and external labels are permuted, and every quantity the
run fits is byte-identical to the ci run's.

``tests/test_test_set_used_once.py`` checks the fitting functions one by one; this runs the
chapters as a user does, so a chapter that passed the wrong rows to a fitter, or fitted something
outside ``tmvlib.tables.fitted``, is caught. The copy lives under a temporary ``TMV_ARTIFACTS``:
chapters 00-01 as they ran (chapter 01's completion record rewritten for the permuted files), then
02-08 run afresh (the split hash covers the labels, so every model is trained again, on the same
training and validation images).

The ci profile subsamples the test and external sets by patient, alternating the two classes
(``data.splits.subsample_patients``), so the permuted labels pick partly other images to
evaluate: per-image values are compared on the images both runs hold, and every fitted quantity
whole. Compared, byte for byte or value for value (never within a tolerance):

- the trained baseline's weights (``checkpoints/baseline.pt``), the decision threshold, the
  temperatures;
- chapter 03's calibrated probabilities of every method and calibrator (temperature, Platt,
  isotonic) on every image;
- the trust scores with the constant-map fill, the combined score of every image (its weights),
  the quadrant cuts' ``confident`` / ``stable`` of every image, and every validation row of
  chapter 07's quadrants (the trust cells' error rates a card shows);
- the failure modes a card may warn about, the deferral rule, the card's input reference (the
  out-of-distribution quantile).

Needs the ci run (make test builds it in the notebooks above); about as long as the ci chapters
02-08 themselves.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tmv_testing import require_ci_run

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = ("02_baseline", "03_uncertainty", "04_gradcam", "05_scorecam", "06_stability", "07_trust_failures",
            "08_trust_card")
SAME_BYTES = ("metrics/baseline_threshold.txt", "metrics/temperatures.json", "metrics/deferral_rule.json",
              "card/reference.json")
SAME_WEIGHTS = ("checkpoints/baseline.pt",)  # a zip that names its temporary file: compared tensor by tensor
SAME_ARRAYS = ("card/reference.npz",)  # a zip whose entries carry their write time: compared array by array
# table -> (its row keys, the columns that must be equal on every image both runs hold; "*": the whole table)
SAME_COLUMNS = {
    "uncertainty": (["image_id", "method", "set"], ["prob", "logit", "threshold", "temperature"]),
    "trust_scores": (["image_id", "set"], ["prob", "decision uncertainty", "instability (MC dropout)",
                                           "instability (ensemble)", "instability (TTA)"]),
    "trust_quadrants": (["image_id", "set"], ["combined", "confident", "stable"]),
    "failure_modes_val": ([], "*"),
}


def _permute(frame: pd.DataFrame, rows: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    out = frame.copy()
    out.loc[rows, "label"] = rng.permutation(out.loc[rows, "label"].to_numpy())
    return out


def shuffled_copy(artifacts: Path, seed: int = 1) -> None:
    """The ci splits with the NIH test labels and the external labels permuted (also in the
    contrast task), chapters 00-01 of the ci run, and 01's completion record for these files."""
    from tmvlib.data.splits import split_hash

    rng = np.random.default_rng(seed)
    splits_src, splits = ROOT / "artifacts" / "splits" / "ci", artifacts / "splits" / "ci"
    shutil.copytree(splits_src, splits)
    meta = json.loads((splits / "split.json").read_text())
    table = pd.read_parquet(splits / "splits.parquet")
    table = _permute(table, table["split"] == "test", rng)
    contrast = pd.read_parquet(splits / "contrast.parquet")
    contrast = _permute(contrast, contrast["split"] == "test", rng)
    external = pd.read_parquet(splits / "external.parquet")
    external = _permute(external, pd.Series(True, index=external.index), rng)
    assert (table["label"] != pd.read_parquet(splits_src / "splits.parquet")["label"]).any()
    table.to_parquet(splits / "splits.parquet", index=False)
    contrast.to_parquet(splits / "contrast.parquet", index=False)
    external.to_parquet(splits / "external.parquet", index=False)
    meta["split_hash"], meta["contrast"]["split_hash"] = split_hash(table), split_hash(contrast)
    (splits / "split.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    run_src, run = ROOT / "artifacts" / "runs" / "ci", artifacts / "runs" / "ci"
    for sub in ("records", "glue"):
        (run / sub).mkdir(parents=True)
        for chapter in ("00_sanity_check", "01_data"):
            shutil.copy(run_src / sub / f"{chapter}.json", run / sub / f"{chapter}.json")
    shutil.copy(run_src / "config.yaml", run / "config.yaml")
    _python("from tmvlib.config import load_params; from tmvlib.runs.records import write_record; "
            "write_record('ci', '01_data', load_params('01_data', 'ci'), 'labels permuted (test)')", artifacts)


def _python(code: str, artifacts: Path) -> None:
    env = {**os.environ, "TMV_ARTIFACTS": str(artifacts), "TMV_PROGRESS": "0"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def test_permuted_test_and_external_labels_move_no_fitted_quantity(tmp_path):
    require_ci_run()
    artifacts = tmp_path / "artifacts"
    shuffled_copy(artifacts)
    for chapter in CHAPTERS:
        _python(f"from pathlib import Path; from tmvlib.cli import run_chapter; "
                f"run_chapter({chapter!r}, 'ci', output_dir=Path({str(tmp_path / 'notebooks')!r}))", artifacts)
    ours, theirs = ROOT / "artifacts" / "runs" / "ci", artifacts / "runs" / "ci"
    predictions = pd.read_parquet(theirs / "metrics" / "baseline_predictions.parquet")
    assert (predictions["label"].to_numpy() != pd.read_parquet(
        ours / "metrics" / "baseline_predictions.parquet")["label"].to_numpy()).any()  # the labels did move
    for name in SAME_BYTES:
        assert (theirs / name).read_bytes() == (ours / name).read_bytes(), name
    for name in SAME_WEIGHTS:
        a, b = (torch.load(run / name, map_location="cpu", weights_only=False) for run in (ours, theirs))
        a, b = (c.get("state_dict", c) if isinstance(c, dict) else c for c in (a, b))
        assert a.keys() == b.keys(), name
        assert all(torch.equal(a[k], b[k]) for k in a), name
    for name in SAME_ARRAYS:
        with np.load(ours / name) as a, np.load(theirs / name) as b:
            assert sorted(a.files) == sorted(b.files), name
            for key in a.files:
                assert np.array_equal(a[key], b[key]), f"{name}: {key}"
    for table, (keys, columns) in SAME_COLUMNS.items():
        a, b = (pd.read_parquet(run / "metrics" / f"{table}.parquet") for run in (ours, theirs))
        if columns == "*":
            pd.testing.assert_frame_equal(a, b, check_exact=True, obj=table)
            continue
        both = a[keys + columns].merge(b[keys + columns], on=keys, suffixes=("", " (permuted)"))
        assert len(both) >= min(len(a), len(b)) // 4, f"{table}: too few images in common ({len(both)})"
        for column in columns:
            pd.testing.assert_series_equal(both[column], both[f"{column} (permuted)"], check_names=False,
                                           check_exact=True, obj=f"{table}: {column}")
    a, b = (pd.read_parquet(run / "metrics" / "trust_quadrants.parquet") for run in (ours, theirs))
    pd.testing.assert_frame_equal(a[a["set"] == "val"], b[b["set"] == "val"], check_exact=True,
                                  obj="trust_quadrants (validation rows: the trust cells' error rates)")

"""The randomisation verdict in words: counts per verdict, constant maps named as missing."""
import numpy as np
import pandas as pd

from tmvlib.report.findings import sanity_text
from tmvlib.tables.explanation import sanity_table

from tmv_testing import sanity_verdict_of_toys as verdict_of


def _rows(values):
    rows = [{"test": "cascading", "step": 0, "layer": "none", "spearman": 1.0, "ssim": 1.0, "image_id": i,
             "patient_id": i} for i in "abcd"]
    for step, (layer, rho) in enumerate(values, start=1):
        rows += [{"test": "cascading", "step": step, "layer": layer, "spearman": v, "ssim": 0.2, "image_id": i,
                  "patient_id": i} for i, v in zip("abcd", rho)]
    return pd.DataFrame(rows)


def test_sanity_text_counts_steps_and_missing_maps():
    verdict = verdict_of(sanity_table(_rows([("fc", [0.1, 0.0, 0.2, 0.1]), ("head", [np.nan] * 4)]), n_boot=100))
    text = sanity_text(verdict)
    assert text.startswith("is undetermined on the randomisation checks: of 2 steps (cascading; 4 images each")
    assert "1 pass, 0 fail and 1 undetermined (1 because every randomised map was constant)" in text
    assert "4 randomised maps were constant, left out and reported as missing, not as passes" in text
    passed = sanity_text(verdict_of(sanity_table(_rows([("fc", [0.1, 0.0, 0.2, 0.1])]), n_boot=100)))
    assert passed.startswith("passes the randomisation checks") and "missing" not in passed

import numpy as np
import pandas as pd
from tmv_testing import SHORTCUT_PROBS as PROBS
from tmv_testing import SHORTCUT_THRESHOLDS as THRESHOLDS
from tmv_testing import shortcut_evaluation as evaluation

from tmvlib.report.shortcut import (called_verdict, contrast_auroc_text, evaluation_counts, gap_verdict,
                                    model_difference_verdict, shortcut_table)
from tmvlib.tables.shortcut_control import (COMPARISON_COLUMNS, MODEL_NAMES, contrast_auroc_table,
                                            shortcut_comparisons)


def test_table_and_sentences_from_the_paired_rows():
    frame = evaluation()
    aurocs = contrast_auroc_table(frame, PROBS, n_boot=100)
    comparisons = shortcut_comparisons(frame, PROBS, THRESHOLDS, n_boot=100)
    table = shortcut_table(aurocs, comparisons, "Pneumonia")
    assert list(table.index) == ["Pneumonia vs No Finding", "Pneumonia vs other findings",
                                 "Pneumonia vs every other image"]
    assert set(MODEL_NAMES.values()) < set(table.columns) and "Holm p" in table.columns
    assert "the No Finding contrast has a higher AUROC" in gap_verdict(comparisons, "no_finding")
    assert "no measurable difference" in gap_verdict(comparisons, "all")
    called = called_verdict(comparisons, "no_finding")
    assert called.startswith("85% of the other-finding negatives against 12% of the No Finding")
    assert "the other-finding group has a higher share called positive" in called
    assert "trained against every other image has a higher AUROC" in model_difference_verdict(
        comparisons, "vs other findings")
    assert contrast_auroc_text(aurocs, "vs other findings", "no_finding").endswith("no better than chance")
    assert contrast_auroc_text(aurocs, "vs other findings", "all").endswith(", better than chance")
    assert evaluation_counts(frame) == {"images": 180, "patients": 90, "positive": 60,
                                        "no_finding": 60, "other": 60}


def test_undefined_rows_say_so():
    row = {c: np.nan for c in COMPARISON_COLUMNS}
    names = ["AUROC gap, " + MODEL_NAMES["all"], "called positive, " + MODEL_NAMES["all"],
             "AUROC difference vs other findings"]
    table = pd.DataFrame([{**row, "comparison": name} for name in names])
    assert gap_verdict(table, "all").startswith("undefined")
    assert called_verdict(table, "all").startswith("undefined")
    assert model_difference_verdict(table, "vs other findings").startswith("undefined")

import pandas as pd
import pytest

from tmvlib.report.replication import (finding_sentences, finding_text, finding_verdicts, holds_text,
                                       replication_display, tta_budget_text)
from tmvlib.tables.replication import AUROC_TEST, NLL_CHANGE, ERROR_AUROC_CONFIDENCE


def test_verdicts_count_agreement_with_the_reference():
    rows = []
    for name, (low, high) in {"a": (0.6, 0.8), "b": (0.55, 0.7), "c": (0.45, 0.6)}.items():
        rows.append({"replicate": name, "backbone": name, "quantity": AUROC_TEST, "value": (low + high) / 2,
                     "low": low, "high": high})
        wide = 0.05 if name == "c" else 0.01  # c's null is too wide to be within the margin of 0.02
        rows.append({"replicate": name, "backbone": name, "quantity": NLL_CHANGE, "value": 0.0, "low": -wide,
                     "high": wide})
    verdicts = finding_verdicts(pd.DataFrame(rows), reference="a")
    assert "a" not in set(verdicts["replicate"])  # the reference holds trivially: left out
    assert holds_text(verdicts, AUROC_TEST) == (
        "holds in 1 of the 2 other configurations (1 above, 1 include the reference value, 0 below): not in c")
    # a repeated null holds only within the equivalence margin, not because it includes 0
    assert holds_text(verdicts, NLL_CHANGE) == (
        "holds in 1 of the 2 other configurations (within the equivalence margin ±0.02: 1; 0 above, 2 include "
        "the reference value, 0 below): not in c")
    assert ERROR_AUROC_CONFIDENCE not in set(verdicts["quantity"])
    with pytest.raises(KeyError, match="reference"):
        finding_verdicts(pd.DataFrame(rows), reference="z")


def test_display_has_a_column_per_seed_and_the_spread():
    rows = pd.DataFrame([{"quantity": AUROC_TEST, "backbone": b, "seed": s, "replicate": f"{b} · seed {s}",
                          "value": v, "low": v - 0.1, "high": v + 0.1}
                         for b, vals in {"lite0": (0.8, 0.7), "lite1": (0.75, 0.65)}.items()
                         for s, v in zip((0, 1), vals)])
    shown = replication_display(rows)
    assert list(shown.columns) == ["seed 0", "seed 1", "spread over seeds"]
    assert shown.loc[(AUROC_TEST, "lite0"), "spread over seeds"] == "0.700 - 0.800"
    verdicts = finding_verdicts(rows, reference="lite0 · seed 0")
    assert finding_sentences(verdicts) == [f"{finding_text(AUROC_TEST, 'above')}: holds in 3 of the 3 other "
                                           "configurations (3 above, 0 include the reference value, 0 below)"]


def test_tta_budget_says_when_fewer_perturbations_are_used():
    assert "fewer than chapter 06's 6" in tta_budget_text(2, 6)
    assert tta_budget_text(2, 2).endswith("as many as chapter 06")


def test_the_reference_is_checked_against_chapter_06s_tta_findings():
    from tmvlib.report.replication import tta_reference_text
    from tmvlib.tables.replication import ERROR_AUROC_INSTABILITY, PRIMARY_ENDPOINT

    table = pd.DataFrame([{"replicate": "ref", "quantity": ERROR_AUROC_INSTABILITY, "value": 0.55, "low": 0.45,
                           "high": 0.65},
                          {"replicate": "ref", "quantity": PRIMARY_ENDPOINT, "value": 0.02, "low": 0.01, "high": 0.03}])
    same = pd.DataFrame([{"quantity": ERROR_AUROC_INSTABILITY, "value": 0.5, "low": 0.4, "high": 0.6},
                         {"quantity": PRIMARY_ENDPOINT, "value": 0.02, "low": 0.005, "high": 0.04}])
    assert tta_reference_text(table, same, "ref") == "the reference gives chapter 06's verdict on both TTA-based findings"
    other = same.assign(low=[0.52, -0.01])
    text = tta_reference_text(table, other, "ref")
    assert text.startswith("the reference's verdict differs from chapter 06's on ") and PRIMARY_ENDPOINT in text

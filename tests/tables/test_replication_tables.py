import numpy as np
import pandas as pd
import pytest

from tmvlib.report.replication import finding_verdicts, holds_text
from tmvlib.tables.replication import (AUROC_EXTERNAL, AUROC_TEST, ECE_CHANGE, ERROR_AUROC_CONFIDENCE, FINDINGS,
                                       replicate_quantities, seed_spread)


def _set(rng, n, signal):
    labels = np.tile([0, 1], n // 2)
    logits = signal * (labels - 0.5) * 2 + rng.normal(0, 1, n)
    frame = pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], "patient_id": np.arange(n) // 2, "label": labels})
    return frame, logits


def test_quantities_read_validation_only_and_contain_their_estimates():
    rng = np.random.default_rng(0)
    parts = {"val": _set(rng, 120, 1.5), "test": _set(rng, 120, 1.5), "external": _set(rng, 120, 0.0)}
    sets, logits = {k: v[0] for k, v in parts.items()}, {k: v[1] for k, v in parts.items()}
    table = replicate_quantities(sets, logits, "youden", n_boot=100)
    assert set(FINDINGS) <= set(table["quantity"])
    q = table.set_index("quantity")
    assert q.loc[AUROC_TEST, "low"] > 0.5 and q.loc[AUROC_EXTERNAL, "low"] < 0.5 < q.loc[AUROC_EXTERNAL, "high"]
    assert ((table["low"] <= table["value"]) & (table["value"] <= table["high"])).all()
    # the threshold comes from validation: changing the test logits leaves it unchanged
    moved = replicate_quantities(sets, {**logits, "test": logits["test"] + 5}, "youden", n_boot=20)
    assert moved["threshold"].iloc[0] == table["threshold"].iloc[0]
    with pytest.raises(ValueError, match="test: 120 images but 3 logits"):
        replicate_quantities(sets, {**logits, "test": logits["test"][:3]}, "youden", n_boot=20)


def test_verdicts_count_agreement_with_the_reference():
    rows = []
    for name, (low, high) in {"a": (0.6, 0.8), "b": (0.55, 0.7), "c": (0.45, 0.6)}.items():
        rows.append({"replicate": name, "backbone": name, "quantity": AUROC_TEST, "value": (low + high) / 2,
                     "low": low, "high": high})
        rows.append({"replicate": name, "backbone": name, "quantity": ECE_CHANGE, "value": 0.0, "low": -0.01,
                     "high": 0.01})
    verdicts = finding_verdicts(pd.DataFrame(rows), reference="a")
    assert holds_text(verdicts, AUROC_TEST) == "holds in 2/3 configurations: not in c"
    assert holds_text(verdicts, ECE_CHANGE) == "holds in 3/3 configurations"
    assert ERROR_AUROC_CONFIDENCE not in set(verdicts["quantity"])
    with pytest.raises(KeyError, match="reference"):
        finding_verdicts(pd.DataFrame(rows), reference="z")
    spread = seed_spread(pd.DataFrame(rows))
    assert set(spread.columns) >= {"backbone", "quantity", "seeds", "mean", "min", "max"}

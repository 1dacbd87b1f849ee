import numpy as np
import pandas as pd
import pytest

from tmvlib.tables.quadrants import QuadrantRules
from tmvlib.tables.replication import (AUROC_EXTERNAL, AUROC_TEST, ECE_CHANGE, ERROR_AUROC_CONFIDENCE, FINDINGS,
                                       NLL_CHANGE, replicate_quantities, seed_spread)


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
    assert {AUROC_TEST, AUROC_EXTERNAL, NLL_CHANGE, ERROR_AUROC_CONFIDENCE} <= set(table["quantity"]) <= set(FINDINGS) | {
        "smooth ECE, NIH test, uncalibrated", "smooth ECE, NIH test, temperature-scaled", ECE_CHANGE}
    q = table.set_index("quantity")
    assert q.loc[AUROC_TEST, "low"] > 0.5 and q.loc[AUROC_EXTERNAL, "low"] < 0.5 < q.loc[AUROC_EXTERNAL, "high"]
    assert ((table["low"] <= table["value"]) & (table["value"] <= table["high"])).all()
    # the threshold comes from validation: changing the test logits leaves it unchanged
    moved = replicate_quantities(sets, {**logits, "test": logits["test"] + 5}, "youden", n_boot=20)
    assert moved["threshold"].iloc[0] == table["threshold"].iloc[0]
    with pytest.raises(ValueError, match="test: 120 images but 3 logits"):
        replicate_quantities(sets, {**logits, "test": logits["test"][:3]}, "youden", n_boot=20)


def test_trust_quantities_fit_on_validation():
    from tmvlib.tables.replication import (DANGER_SHARE, ERROR_AUROC_INSTABILITY, PRIMARY_ENDPOINT,
                                           replicate_trust_frame, replicate_trust_quantities)

    rng = np.random.default_rng(4)
    frames, probs, stability = {}, {}, {}
    for name in ("val", "test"):
        frame, logits = _set(rng, 160, 1.0)
        frames[name], probs[name] = frame, 1 / (1 + np.exp(-logits))
        wrong = (probs[name] >= 0.5) != frame["label"].to_numpy().astype(bool)
        instability = np.where(wrong, 0.6, 0.3) + rng.normal(0, 0.1, len(frame))  # unstable when wrong
        instability[0] = np.nan  # a constant map
        stability[name] = pd.DataFrame({"image_id": frame["image_id"], "instability": instability,
                                        "flip_rate": rng.random(len(frame))})
    per_image = replicate_trust_frame(frames, probs, 0.5, stability)
    assert per_image["instability (TTA)"].notna().all()  # filled with the validation maximum
    table = replicate_trust_quantities(per_image, QuadrantRules(0.75, 0.75, None), n_boot=100).set_index("quantity")
    assert table.loc[ERROR_AUROC_INSTABILITY, "low"] > 0.5
    assert table.loc[PRIMARY_ENDPOINT, "high"] < 0  # the combined score defers errors earlier
    assert 0 <= table.loc[DANGER_SHARE, "low"] <= table.loc[DANGER_SHARE, "value"] <= table.loc[DANGER_SHARE, "high"]


def test_seed_spread_summarises_each_quantity_over_seeds():
    rows = pd.DataFrame([{"replicate": f"b · seed {s}", "backbone": "b", "seed": s, "quantity": AUROC_TEST,
                          "value": v, "low": v - 0.1, "high": v + 0.1} for s, v in enumerate((0.7, 0.8, 0.75))])
    spread = seed_spread(rows).iloc[0]
    assert (spread["seeds"], spread["min"], spread["max"]) == (3, 0.7, 0.8)
    assert spread["mean"] == pytest.approx(0.75)


def test_chapter_06s_own_tta_findings_are_read_from_its_tables():
    from tmvlib.tables.replication import ERROR_AUROC_INSTABILITY, PRIMARY_ENDPOINT, chapter06_findings

    rng = np.random.default_rng(1)
    wrong = rng.random(200) < 0.3
    scores = pd.DataFrame({"set": "test", "patient_id": np.arange(200) // 2, "correct": ~wrong,
                           "instability (TTA)": wrong + rng.random(200)})
    endpoints = pd.DataFrame([{"comparison": "primary", "value": 0.01, "low": -0.01, "high": 0.03}])
    rows = chapter06_findings(scores, endpoints, n_boot=50).set_index("quantity")
    assert rows.loc[ERROR_AUROC_INSTABILITY, "low"] > 0.5 and rows.loc[PRIMARY_ENDPOINT, "value"] == 0.01

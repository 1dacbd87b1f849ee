"""Curated examples for the explanation chapters: one image per outcome and confidence level.

Outcome at the decision threshold: TP, FP, FN, TN. Confidence is the *margin*: the distance of
the image's logit from the threshold's logit, i.e. how far the model is from changing its
decision (not max(p, 1 - p), which reads oddly when the threshold is not 0.5). For each outcome
the highest- and lowest-margin images are picked; ties are broken by image id, so the selection
is deterministic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.splits import patient_unit_interval
from ..metrics.confidence import decision_margin, predicted_positive

OUTCOMES = ("TP", "FP", "FN", "TN")


def outcomes(labels: np.ndarray, probs: np.ndarray, threshold: float) -> np.ndarray:
    """(N,) strings TP / FP / FN / TN for labels in {0, 1} and ``prob >= threshold`` positive."""
    labels = np.asarray(labels)
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    predicted = predicted_positive(probs, threshold)
    table = np.array([["TN", "FP"], ["FN", "TP"]])
    return table[labels.astype(int), predicted.astype(int)]


def curated_samples(frame: pd.DataFrame, threshold: float, per_level: int = 1) -> pd.DataFrame:
    """Pick ``per_level`` images per outcome and confidence level ("high", "low").

    frame: one row per image with ``image_id, label, prob``. Returns the picked rows with
    ``outcome``, ``confidence`` ("high" | "low") and ``margin``, ordered TP, FP, FN, TN, high
    before low; an outcome with fewer than 2 x per_level images contributes what it has (each
    image at most once). Outcomes with no image are absent, never filled in.
    """
    missing = {"image_id", "label", "prob"} - set(frame.columns)
    if missing:
        raise ValueError(f"curated_samples needs columns {sorted(missing)}")
    data = frame.assign(outcome=outcomes(frame["label"], frame["prob"], threshold),
                        margin=decision_margin(frame["prob"], threshold))
    picks = []
    for outcome in OUTCOMES:
        group = data[data["outcome"] == outcome].sort_values(["margin", "image_id"],
                                                             ascending=[False, True])
        high = group.head(per_level)
        low = group.drop(high.index).sort_values(["margin", "image_id"]).head(per_level)
        picks += [high.assign(confidence="high"), low.assign(confidence="low")]
    return pd.concat(picks, ignore_index=True)


def explanation_subset(frame: pd.DataFrame, curated_ids, boxed_ids, max_images: int | None = None
                       ) -> pd.DataFrame:
    """The images an expensive method (exact Score-CAM) explains: every image with a box in
    ``boxed_ids`` plus the curated ones, in ``frame``'s order.

    With ``max_images`` (quick profiles) the curated images come first, then boxed ones in frame
    order, up to ``max(max_images, number of curated images)``. Returns the rows with a fresh index.
    """
    curated = frame["image_id"].isin(list(curated_ids))
    chosen = frame[frame["image_id"].isin(list(boxed_ids)) | curated]
    if max_images is not None:
        first = chosen["image_id"].isin(list(curated_ids))
        chosen = pd.concat([chosen[first], chosen[~first]]).head(max(max_images, int(first.sum()))).sort_index()
    return chosen.reset_index(drop=True)


def sanity_sample(frame: pd.DataFrame, n: int, salt: str = "tmv-sanity") -> pd.DataFrame:
    """The images of the randomisation checks, by a rule fixed in advance: one image per patient
    (the first in ``image_id`` order), patients in salted-hash order
    (``tmvlib.data.splits.patient_unit_interval``), the first ``n``. Deterministic; independent of
    the maps, the model and the outcome; the rows keep ``frame``'s index. Fewer than ``n`` patients
    raise."""
    firsts = frame.sort_values("image_id", kind="stable").drop_duplicates("patient_id")
    if len(firsts) < n:
        raise ValueError(f"the randomisation checks ask for {n} images of distinct patients; "
                         f"only {len(firsts)} patients are available")
    order = firsts["patient_id"].map(lambda pid: patient_unit_interval(pid, salt))
    return firsts.assign(_order=order).sort_values("_order", kind="stable").head(n).drop(columns="_order")

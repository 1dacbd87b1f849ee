"""Tables of the stability chapter (06): which images, the perturbations used, how stable the
maps are per set and source, and which images are the most and least stable.

Per-perturbation stability rows and their per-image summary come from
:mod:`tmvlib.explain.stability` and :func:`tmvlib.explain.similarity.stability_summary`; the
summary has one row per ``image_id, set, source`` with ``spearman, iou_topk, dice_topk,
com_shift_pct, flip_rate, spearman_kept, iou_topk_kept, instability`` (Ghorbani et al. 2019,
"Interpretation of Neural Networks Is Fragile", AAAI, for the metrics). Intervals are
patient-bootstrap means (``tmvlib.metrics.bootstrap.patient_bootstrap_mean``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..data.splits import subsample_patients
from ..explain.perturbations import Perturbation
from ..metrics.frames import require_columns
from .explanation import interval_rows

STABILITY_SETS = ("val", "test", "external")


def stability_sets(predictions: pd.DataFrame, external_images: int) -> dict[str, pd.DataFrame]:
    """The images of chapter 06: every NIH validation and test image and chapter 04's external
    subsample.

    Args:
        predictions: chapter 02's per-image predictions (``set`` in val / test / external,
            ``image_id, patient_id, prob`` ...).
        external_images: chapter 04's ``external_images`` (whole patients,
            ``tmvlib.data.splits.subsample_patients``).
    Returns:
        ``{"val", "test", "external"}`` -> that set's rows with a fresh 0..N-1 index.
    """
    require_columns(predictions, ["set"], "stability_sets")
    frames = {name: predictions[predictions["set"] == name].reset_index(drop=True) for name in ("val", "test")}
    frames["external"] = subsample_patients(predictions[predictions["set"] == "external"],
                                            external_images).reset_index(drop=True)
    return frames


def perturbation_table(perturbations: Sequence[Perturbation]) -> pd.DataFrame:
    """One row per perturbation: ``name, rotation (deg), translate x, translate y, scale,
    brightness, contrast, gamma, noise sigma``, rounded to 3 decimals."""
    return pd.DataFrame([{"name": p.name, "rotation (deg)": p.rotation, "translate x": p.translate[0],
                          "translate y": p.translate[1], "scale": p.scale, "brightness": p.brightness,
                          "contrast": p.contrast, "gamma": p.gamma, "noise sigma": p.noise}
                         for p in perturbations]).round(3)


def stability_quantities(top_k: float) -> dict[str, str]:
    """Summary column -> the quantity's label in chapter 06's table (``top_k`` names the IoU and
    Dice cut, e.g. "IoU top 15%"), in the table's column order."""
    return {"spearman": "Spearman", "iou_topk": f"IoU top {top_k:.0%}", "dice_topk": f"Dice top {top_k:.0%}",
            "com_shift_pct": "COM shift (% width)", "flip_rate": "label flip rate",
            "spearman_kept": "Spearman (kept)", "iou_topk_kept": f"IoU top {top_k:.0%} (kept)"}


def with_patient_ids(summary: pd.DataFrame, frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """A copy of ``summary`` with a last column ``patient_id``, looked up by ``image_id`` in
    ``frames`` (set -> rows with ``image_id, patient_id``; the first row of an image wins)."""
    patient = pd.concat(frames.values()).drop_duplicates("image_id").set_index("image_id")["patient_id"]
    out = summary.copy()
    out["patient_id"] = out["image_id"].map(patient)
    return out


def stability_interval_table(summary: pd.DataFrame, top_k: float, n_boot: int = 1000,
                             seed: int = 0) -> pd.DataFrame:
    """Mean of each stability quantity over the images of each set and source, with a 95%
    patient-bootstrap interval.

    Args:
        summary: per-image summary (see the module doc) with ``set, source, patient_id``
            (:func:`with_patient_ids`).
        top_k: the IoU / Dice cut, for the labels (:func:`stability_quantities`).
    Returns:
        long rows ``set, source, quantity, value, low, high, images`` (``images``: those with a
        defined value), sets and sources in order of appearance.
    """
    require_columns(summary, ["set", "source", "patient_id"], "stability_interval_table")
    columns = stability_quantities(top_k)
    rows = []
    for (name, source), group in summary.groupby(["set", "source"], sort=False):
        rows += interval_rows({label: group[col].to_numpy() for col, label in columns.items()},
                              group["patient_id"].to_numpy(), n_boot, seed, set=name, source=source)
    return pd.DataFrame(rows)


def row_positions(frame: pd.DataFrame, image_ids: Sequence[str]) -> list[int]:
    """Position (0-based row number) in ``frame`` of each of ``image_ids`` (the first row with
    that ``image_id``); ValueError for an id not in ``frame``."""
    ids = frame["image_id"].tolist()
    return [ids.index(i) for i in image_ids]


def stability_extremes(summary: pd.DataFrame, frame: pd.DataFrame, set_name: str = "test",
                       source: str = "TTA", n: int = 2) -> pd.DataFrame:
    """The ``n`` most stable then the ``n`` least stable images of one set under one source.

    Args:
        summary: per-image summary with ``image_id, set, source, instability``.
        frame: the set's images (``image_id, prob``), in the order their maps are stored.
    Returns:
        rows ``image_id, instability, prob, row`` (``row``: position in ``frame``), lowest
        instability first, then the ``n`` highest in increasing order.
    """
    part = summary[(summary["set"] == set_name) & (summary["source"] == source)].sort_values("instability")
    picks = pd.concat([part.head(n), part.tail(n)])
    probs = frame.set_index("image_id")
    return pd.DataFrame({"image_id": picks["image_id"].to_numpy(),
                         "instability": picks["instability"].to_numpy(),
                         "prob": [probs.loc[i, "prob"] for i in picks["image_id"]],
                         "row": row_positions(frame, picks["image_id"])})


def method_stability_table(method_summary: pd.DataFrame) -> pd.DataFrame:
    """Mean and minimum over images of ``spearman, iou_topk, com_shift_pct`` per ``method``
    (a summary by ``method, image_id``), rounded to 3 decimals."""
    return (method_summary.groupby("method")[["spearman", "iou_topk", "com_shift_pct"]]
            .agg(["mean", "min"]).round(3))


def mean_spearman_by_method(method_summary: pd.DataFrame) -> pd.Series:
    """method -> mean over images of its per-image mean Spearman."""
    return method_summary.groupby("method")["spearman"].mean()

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

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.splits import subsample_patients
from ..explain.perturbations import Perturbation
from ..explain.regions import peak_region
from ..explain.stability import perturbed_probabilities
from ..metrics.confidence import predicted_positive
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
    """The ``n`` most stable then the ``n`` least stable images of one set under one source, among
    those with a measured instability (a blank map, NaN, has none: it is not "least stable").

    Args:
        summary: per-image summary with ``image_id, set, source, instability``.
        frame: the set's images (``image_id, prob``), in the order their maps are stored.
    Returns:
        rows ``image_id, instability, prob, row`` (``row``: position in ``frame``), lowest
        instability first, then the ``n`` highest in increasing order.
    """
    part = summary[(summary["set"] == set_name) & (summary["source"] == source)].dropna(subset=["instability"])
    part = part.sort_values("instability", kind="stable")
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


def reference_peak_regions(frames: Mapping[str, pd.DataFrame],
                           reference: Mapping[str, np.ndarray]) -> pd.Series:
    """Image id -> region of the unperturbed Grad-CAM maximum (``tmvlib.explain.regions.
    peak_region``) of every set, from chapter 06's reference maps at the metric size (``reference``:
    set -> (N, S, S), rows in the order of ``frames[set]``). One definition of the "heat on the
    border" failure mode for validation, test and the trust card (which reduces its map to the
    same size)."""
    regions = {}
    for name, frame in frames.items():
        maps = reference[name]
        if len(maps) != len(frame):
            raise ValueError(f"set {name!r}: {len(maps)} reference maps for {len(frame)} images")
        regions.update(zip(frame["image_id"], (peak_region(m) for m in maps)))
    return pd.Series(regions, name="peak_region")


def factor_table(frame: pd.DataFrame, probs: np.ndarray, names: Sequence[str], threshold: float,
                 n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """What each perturbation factor, alone, does to the prediction (``probs`` from
    ``tmvlib.explain.stability.perturbed_probabilities`` under
    ``tmvlib.explain.perturbations.single_factor_perturbations``).

    Args:
        frame: the N images (``prob``: unperturbed P(positive), ``patient_id``).
        probs: (N, P) perturbed probabilities; names: the P perturbation names.
    Returns:
        rows ``factor, quantity, value, low, high, images`` with patient-bootstrap means of the
        per-image ``label flip`` (the label at ``threshold`` changes), ``probability shift``
        (p' - p, signed) and ``absolute shift`` (|p' - p|), per factor, in ``names`` order.
    """
    require_columns(frame, ["prob", "patient_id"], "factor_table")
    base = frame["prob"].to_numpy(dtype=float)
    probs = np.asarray(probs, dtype=float)
    if probs.shape != (len(frame), len(names)):
        raise ValueError(f"probs must be ({len(frame)}, {len(names)}), got {probs.shape}")
    patients = frame["patient_id"].to_numpy()
    rows = []
    for k, name in enumerate(names):
        shift = probs[:, k] - base
        flips = (predicted_positive(probs[:, k], threshold) != predicted_positive(base, threshold)).astype(float)
        rows += interval_rows({"label flip": flips, "probability shift": shift, "absolute shift": np.abs(shift)},
                              patients, n_boot, seed, factor=name)
    return pd.DataFrame(rows)


def factor_effects(model: nn.Module, images: Mapping[str, torch.Tensor], norm, frames: Mapping[str, pd.DataFrame],
                   perturbations: Sequence[Perturbation], threshold: float, sets: Sequence[str] = ("val", "test"),
                   n_boot: int = 1000, seed: int = 0, batch_size: int = 16) -> pd.DataFrame:
    """:func:`factor_table` of each of ``sets`` (the model's probabilities under each single-factor
    perturbation, ``tmvlib.explain.stability.perturbed_probabilities``), stacked with ``set``."""
    names = [p.name for p in perturbations]
    return pd.concat([factor_table(frames[name], perturbed_probabilities(model, images[name], norm, perturbations,
                                                                          batch_size), names, threshold,
                                   n_boot=n_boot, seed=seed).assign(set=name)
                      for name in sets], ignore_index=True)

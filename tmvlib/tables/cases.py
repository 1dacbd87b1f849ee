"""The audited cases of chapter 07, one record each: every number, the metadata, the maps'
geometry and the observations, as written to ``failure_cases/<image_id>.json``.

The cases themselves are chosen by :func:`tmvlib.tables.failure_audit.select_failure_cases`;
their maps are the stored ones of chapters 04 (Grad-CAM) and 05 (Score-CAM) where those exist,
else computed here (:func:`case_heatmaps`); their test-time spread comes from
:func:`tmvlib.explain.stability.tta_maps` under chapter 06's perturbations. A record is built by
:func:`case_record` and its observations by
:func:`tmvlib.tables.failure_audit.case_observations`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..artifacts import explanation_dir
from ..contracts.scores import DECISION_UNCERTAINTY, ENSEMBLE_VARIANCE, MC_MUTUAL_INFORMATION, TTA_FLIP_RATE
from ..explain.geometry import peak_distance, peak_in_boxes
from ..explain.gradcam import gradcam
from ..explain.regions import peak_region
from ..explain.run import explain_images
from ..explain.stability import PerturbedMaps
from ..explain.store import load_heatmaps
from .failure_audit import case_observations
from .quadrants import METADATA_COLUMNS

# Columns of chapter 07's scores frame that are not scores: identity, outcome and metadata.
NOT_SCORES = ("image_id", "patient_id", "label", "prob", "set", "correct", *METADATA_COLUMNS)
# Short glue keys of the selection rules (tmvlib.tables.failure_audit.REASONS).
REASON_KEYS = {"danger": "danger zone", "fn": "confident false negative", "fp": "confident false positive",
               "unstable": "least stable explanation", "shifted": "shifted-set failure"}


def score_columns(scores: pd.DataFrame) -> list[str]:
    """The score columns of chapter 07's scores frame (all but :data:`NOT_SCORES`), in order."""
    return [c for c in scores.columns if c not in NOT_SCORES]


def reason_count(cases: pd.DataFrame, reason: str) -> int:
    """How many ``cases`` (``select_failure_cases`` rows) a rule picked (alone or with others)."""
    return int(cases["reasons"].map(lambda r: reason in r).sum())


def case_rows(quadrants: Mapping[str, pd.DataFrame], cases: pd.DataFrame) -> pd.DataFrame:
    """The quadrant rows of the cases, in case order (fresh index): every set's rows stacked,
    looked up by ``image_id``."""
    return pd.concat(quadrants.values()).set_index("image_id").loc[cases["image_id"]].reset_index()


def box_findings(boxes: pd.DataFrame) -> pd.Series:
    """image id -> its boxed findings, distinct and sorted, joined by ", " (``boxes``: rows
    ``image_id, finding``, ``tmvlib.artifacts.radiologist_boxes``)."""
    return boxes.groupby("image_id")["finding"].agg(lambda f: ", ".join(sorted(set(f))))


def stored_or_computed(folder: str | Path, method: str, image_ids: Sequence[str], images: torch.Tensor, norm,
                       explain: Callable[[torch.Tensor], np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Maps of ``image_ids`` from ``folder`` (``<image_id>.npy``, ``tmvlib.explain.store``) where
    stored, the others computed now with ``explain`` (``x (B,3,H,W) -> (B,H,W)``, 4 images at a
    time).

    Args:
        method: the maps' method, for the error message (the chapter to rerun).
        images: uint8 (N,1,size,size) in the order of ``image_ids``.
    Returns:
        (float32 maps (N,size,size), bool stored (N,)).
    Raises:
        ValueError: stored maps of another size than ``size``.
    """
    folder = Path(folder)
    stored = np.array([(folder / f"{i}.npy").is_file() for i in image_ids], dtype=bool)
    maps = np.zeros((len(image_ids), size, size), np.float32)
    if stored.any():
        loaded = load_heatmaps(folder, [i for i, s in zip(image_ids, stored) if s])
        if loaded.shape[1:] != (size, size):
            raise ValueError(f"stored {method} maps are {loaded.shape[1:]}, the model input is {size} px: "
                             f"rerun chapter {method}")
        maps[stored] = loaded
    if (~stored).any():
        missing = np.flatnonzero(~stored).tolist()
        maps[missing], _ = explain_images(explain, images[missing], norm, batch_size=4, progress=False)
    return maps, stored


@dataclass
class CaseMaps:
    """Grad-CAM and Score-CAM maps (N,S,S) of the cases, each with ``*_stored`` (N,) bool: the
    map comes from chapter 04 / 05 (else it was computed in chapter 07)."""

    gradcam: np.ndarray
    gradcam_stored: np.ndarray
    scorecam: np.ndarray
    scorecam_stored: np.ndarray


def case_heatmaps(run_id: str, image_ids: Sequence[str], images: torch.Tensor, model, norm,
                  scorecam: Callable[[torch.Tensor], np.ndarray], size: int) -> CaseMaps:
    """Grad-CAM then Score-CAM maps of the cases (:func:`stored_or_computed`: those chapters 04
    and 05 stored in the run's ``explanations/gradcam`` and ``explanations/scorecam``, the
    others computed) at the model's input ``size``; ``scorecam`` computes the missing Score-CAM
    maps (chapter 07: the fast top-k path, :class:`tmvlib.explain.scorecam.ScoreCAM`)."""
    gradcam_maps, gradcam_stored = stored_or_computed(explanation_dir(run_id, "gradcam"), "gradcam", image_ids,
                                                      images, norm, partial(gradcam, model), size)
    scorecam_maps, scorecam_stored = stored_or_computed(explanation_dir(run_id, "scorecam"), "scorecam", image_ids,
                                                        images, norm, scorecam, size)
    return CaseMaps(gradcam_maps, gradcam_stored, scorecam_maps, scorecam_stored)


@dataclass(frozen=True)
class AuditRules:
    """The numbers a case is judged by: chapter 02's decision ``threshold`` (and its rule),
    chapter 07's quadrant scores with their validation cuts, the Grad-CAM / Score-CAM
    ``disagreement`` distance (fraction of the width) and the Score-CAM fast path's top-k."""

    threshold: float
    threshold_rule: str
    uncertainty_score: str
    uncertainty_threshold: float
    instability_score: str
    instability_threshold: float
    disagreement: float
    scorecam_top_k: int


def case_record(case, row: pd.Series, k: int, maps: CaseMaps, tta: PerturbedMaps, spread: np.ndarray,
                rules: AuditRules, scores: Sequence[str], boxes: Sequence[Sequence[float]],
                findings: str | None) -> dict:
    """The record of one audited case (the JSON of ``failure_cases/``).

    Args:
        case: the case's row of ``select_failure_cases`` (``image_id, set, reasons, margin``;
            an ``itertuples`` row). row: its quadrant row (:func:`case_rows`: ``patient_id,
            label, prob, correct, cell, danger, confident, stable``, the scores, the metadata).
        k: the case's position in ``maps``, ``tta`` and ``spread``.
        tta: the cases' Grad-CAM under chapter 06's perturbations (``probs`` (N,P)).
        spread: (N,S,S) TTA spread (``tmvlib.explain.stability.tta_spread_maps``).
        scores: the score columns copied under ``scores`` (:func:`score_columns`).
        boxes: the image's radiologist boxes (x, y, w, h) at the model's input size;
            findings: their findings (:func:`box_findings`), None without a box.
    Returns:
        dict with, in order: ``image_id, patient_id, set, reasons, label, prob, threshold,
        threshold_rule, predicted, correct, margin`` (the decision margin), ``cell, danger,
        confident, stable, uncertainty_score, uncertainty, uncertainty_threshold,
        instability_score, instability, instability_threshold, decision_uncertainty,
        mutual_information, ensemble_variance, flip_rate, tta_count, tta_probs, scores, view,
        sex, age, quality, source, peak_region, peak_region_scorecam, image_size, boxes,
        box_findings, peak_in_box, method_peak_distance, gradcam_source, scorecam_source,
        tta_spread_mean, tta_spread_max, observations``.
    """
    u_name, i_name = rules.uncertainty_score, rules.instability_score
    record = {
        "image_id": case.image_id, "patient_id": row["patient_id"], "set": case.set, "reasons": list(case.reasons),
        "label": int(row["label"]), "prob": float(row["prob"]), "threshold": rules.threshold,
        "threshold_rule": rules.threshold_rule, "predicted": int(row["prob"] >= rules.threshold),
        "correct": bool(row["correct"]), "margin": case.margin,
        "cell": row["cell"], "danger": bool(row["danger"]), "confident": bool(row["confident"]),
        "stable": bool(row["stable"]),
        "uncertainty_score": u_name, "uncertainty": float(row[u_name]),
        "uncertainty_threshold": rules.uncertainty_threshold,
        "instability_score": i_name, "instability": float(row[i_name]),
        "instability_threshold": rules.instability_threshold,
        "decision_uncertainty": float(row[DECISION_UNCERTAINTY]), "mutual_information": float(row[MC_MUTUAL_INFORMATION]),
        "ensemble_variance": float(row[ENSEMBLE_VARIANCE]), "flip_rate": float(row[TTA_FLIP_RATE]),
        "tta_count": len(tta.names), "tta_probs": tta.probs[k].tolist(),
        "scores": {c: row[c] for c in scores},
        "view": row["view"], "sex": row["sex"], "age": row["age"], "quality": row["quality"], "source": row["source"],
        "peak_region": peak_region(maps.gradcam[k]), "peak_region_scorecam": peak_region(maps.scorecam[k]),
        "image_size": maps.gradcam.shape[-1], "boxes": [list(map(float, b)) for b in boxes],  # (x, y, w, h) px
        "box_findings": findings,
        "peak_in_box": peak_in_boxes(maps.gradcam[k], boxes),
        "method_peak_distance": peak_distance(maps.gradcam[k], maps.scorecam[k]),
        "gradcam_source": "chapter 04 (stored)" if maps.gradcam_stored[k] else "computed in chapter 07",
        "scorecam_source": ("chapter 05 (exact, stored)" if maps.scorecam_stored[k] else
                            f"computed in chapter 07 (top-{rules.scorecam_top_k} fast path)"),
        "tta_spread_mean": float(np.nanmean(spread[k])), "tta_spread_max": float(np.nanmax(spread[k])),
    }
    record["observations"] = case_observations(record, rules.threshold, rules.uncertainty_threshold,
                                               rules.instability_threshold, rules.disagreement)
    return record


def case_records(cases: pd.DataFrame, info: pd.DataFrame, maps: CaseMaps, tta: PerturbedMaps,
                 spread: np.ndarray, rules: AuditRules, scores: Sequence[str],
                 boxes: pd.DataFrame, box_of: Mapping[str, list]) -> list[dict]:
    """:func:`case_record` of every case, in case order.

    Args:
        cases: ``select_failure_cases`` rows. info: their quadrant rows (:func:`case_rows`).
        boxes: every radiologist box (``image_id, finding``; for the findings);
            box_of: image id -> its boxes (``tmvlib.tables.explanation.boxes_by_image``).
        the rest: as :func:`case_record`.
    """
    findings = box_findings(boxes)
    return [case_record(case, info.iloc[k], k, maps, tta, spread, rules, scores, box_of.get(case.image_id, []),
                        findings.get(case.image_id))
            for k, case in enumerate(cases.itertuples())]


def observation_counts(records: Sequence[Mapping]) -> pd.DataFrame:
    """How many records each observation rule fired on: one column ``cases``, indexed by rule,
    most frequent first (``value_counts`` order)."""
    rules = pd.Series([o["rule"] for r in records for o in r["observations"]])
    return rules.value_counts().rename("cases").to_frame()


def rule_share(records: Sequence[Mapping], rule: str) -> tuple[int, int]:
    """(records with an observation of ``rule``, records)."""
    return sum(any(o["rule"] == rule for o in r["observations"]) for r in records), len(records)


def boxed_hits(records: Sequence[Mapping]) -> tuple[int, int]:
    """(records whose Grad-CAM maximum lies inside a radiologist box, records with a box)."""
    boxed = [r for r in records if r["peak_in_box"] is not None]
    return sum(bool(r["peak_in_box"]) for r in boxed), len(boxed)

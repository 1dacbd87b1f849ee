"""Cross-fitted evaluation: every folded image evaluated once, by the model of its fold.

Each fold model scores its calibration fold (where its threshold is fitted,
:func:`tmvlib.tables.fitted.calibration_fold_thresholds`) and its test fold. The test rows of all
folds pool into one out-of-fold set of every folded image (:func:`out_of_fold`), each decided by
its own model's threshold: errors and decision margins are relative to that threshold, so they
pool; probabilities are put on one scale by moving each model's threshold to 0.5
(:func:`tmvlib.metrics.confidence.threshold_aligned`), which keeps each model's decisions and
margins and ranks the pooled images around the shared decision.

The pooled intervals resample patients with the fold models held fixed; the spread of the
per-fold estimates is the training variability they do not see. Bates, Hastie & Tibshirani
(2023, "Cross-validation: what does it estimate and how well does it do it?", JASA) show that a
cross-validated estimate targets the average performance of models trained on samples like these
rather than the performance of one fitted model.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..data.folds import DEPLOYED_FOLD
from ..explain.similarity import stability_summary
from ..metrics.confidence import threshold_aligned
from ..metrics.frames import require_columns
from ..uncertainty.calibrators import Calibrator
from ..uncertainty.predictions import method_predictions
from .endpoints import Comparison, comparison_rows, score_difference
from .fitted import fit_trust_score
from .stability import reference_peak_regions
from .summary import metric_summary
from .trust import trust_scores_by_set
from .trust_cells import INSTABILITY_COLUMNS, fill_constant_maps

#: the metrics of :func:`cross_fitted_summary`'s table, in its row order
SUMMARY_METRICS = ("AUROC", "sensitivity", "specificity")

#: the name of the pooled estimate beside the folds'
POOLED = "pooled"

__all__ = ["POOLED", "SUMMARY_METRICS", "cross_fitted_summary", "cross_fitted_trust_scores", "fold_endpoint_estimates",
           "fold_estimates", "fold_stability_frames", "out_of_fold", "pooled_method_predictions", "power_table"]


def out_of_fold(predictions: pd.DataFrame, thresholds: pd.Series) -> pd.DataFrame:
    """The pooled out-of-fold set: the ``test`` rows of every fold model, with its threshold.

    Args:
        predictions: one row per (image, fold model) with ``image_id, fold, role, prob``.
        thresholds: ``fold -> threshold`` (fitted on each model's calibration fold).
    Returns:
        one row per folded image: the test rows with ``threshold`` (its model's) and
        ``aligned_prob`` (:func:`~tmvlib.metrics.confidence.threshold_aligned`; decided at 0.5).
    Raises:
        ValueError: an image tested by two fold models, or a fold without a threshold.
    """
    require_columns(predictions, ["image_id", "fold", "role", "prob"], "the out-of-fold set")
    test = predictions[predictions["role"] == "test"]
    twice = test["image_id"][test["image_id"].duplicated()]
    if len(twice):
        raise ValueError(f"the out-of-fold set: {len(twice)} image(s) are tested by two fold models, "
                         f"e.g. {list(twice[:5])}")
    missing = sorted(set(test["fold"]) - set(thresholds.index))
    if missing:
        raise ValueError(f"the out-of-fold set: fold model(s) {missing} have no threshold")
    threshold = test["fold"].map(thresholds).to_numpy()
    return test.assign(threshold=threshold, aligned_prob=threshold_aligned(test["prob"].to_numpy(), threshold))


def cross_fitted_summary(oof: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """AUROC, sensitivity and specificity of the pooled out-of-fold set and of each fold,
    each with its 95% patient-bootstrap interval (:func:`tmvlib.tables.summary.metric_summary`).

    Pooled: every image at its own model's threshold (``aligned_prob`` at 0.5). Fold ``f``: its
    test fold, its own probabilities at its own threshold.

    Args:
        oof: :func:`out_of_fold`'s rows (``label, patient_id, fold, prob, threshold, aligned_prob``).
    Returns:
        rows ``(model, metric)`` (model ``"pooled"``, then ``"fold 0"``, ...; metrics
        :data:`SUMMARY_METRICS`) with ``value, low, high, images, patients``.
    """
    require_columns(oof, ["label", "patient_id", "fold", "prob", "threshold", "aligned_prob"],
                    "the cross-fitted summary")
    parts = {POOLED: (oof.assign(prob=oof["aligned_prob"]), 0.5)}
    for fold, rows in oof.groupby("fold"):
        parts[f"fold {fold}"] = (rows, float(rows["threshold"].iloc[0]))
    tables = {}
    for model, (rows, threshold) in parts.items():
        summary = metric_summary(rows, threshold, n_boot=n_boot, seed=seed).loc[list(SUMMARY_METRICS)]
        tables[model] = summary[["value", "low", "high"]].assign(images=len(rows),
                                                                 patients=rows["patient_id"].nunique())
    return pd.concat(tables, names=["model", "metric"])


def pooled_method_predictions(sets: Mapping[int, Mapping[str, pd.DataFrame]],
                              logits: Mapping[int, Mapping[str, Mapping[str, np.ndarray]]],
                              calibrators: Mapping[int, Mapping[str, Mapping[str, Calibrator]]],
                              thresholds: pd.Series, role: str = "test") -> pd.DataFrame:
    """Chapter 03's long table (:func:`tmvlib.uncertainty.predictions.method_predictions`) of every
    fold model on its ``role`` images, with its own calibration maps and threshold, pooled.

    Args:
        sets: fold -> role -> images; logits: fold -> method -> role -> ``(S, N)``;
        calibrators: fold -> method -> map (fitted on the calibration fold); thresholds: fold -> t.
    Returns:
        one row per (image, method, calibration) with ``fold``; ``set`` is ``role``; each row's
        ``threshold`` and ``error`` are its own model's (so rows of different folds pool).
    """
    parts = [method_predictions({role: sets[fold][role]}, {m: {role: by_role[role]} for m, by_role in by_method.items()},
                                calibrators[fold], float(thresholds[fold])).assign(fold=fold)
             for fold, by_method in logits.items()]
    return pd.concat(parts, ignore_index=True)


def fold_estimates(frame: pd.DataFrame, metrics: Mapping[str, Callable], methods=None) -> pd.DataFrame:
    """Point estimates of each ``metrics`` (name -> ``f(labels, probs)``) per method and fold of a
    pooled table (``method, fold, label, prob``): the spread over folds beside a pooled interval.

    Returns:
        rows ``method``, columns ``(metric, "fold f")``.
    """
    rows = frame if methods is None else frame[frame["method"].isin(methods)]
    table = {(name, f"fold {fold}"): {method: metric(g["label"].to_numpy(), g["prob"].to_numpy())
                                      for method, g in by_fold.groupby("method", sort=False)}
             for fold, by_fold in rows.groupby("fold") for name, metric in metrics.items()}
    return pd.DataFrame(table).sort_index(axis=1, level=0, sort_remaining=False)


def fold_stability_frames(predictions: pd.DataFrame, external_ids=None,
                          external_fold: int = DEPLOYED_FOLD) -> dict[int, dict[str, pd.DataFrame]]:
    """Chapter 06's image sets for every fold model, named as chapter 06 names them: ``"val"``
    its calibration fold (what it fits on), ``"test"`` its test fold, and for ``external_fold``
    (the deployed model) ``"external"``: the external images ``external_ids``, as that model
    scored them.

    Args:
        predictions: chapter 02's fold predictions (``fold, role, image_id, patient_id, label,
            prob, path``; :func:`tmvlib.artifacts.fold_predictions`), role ``"external"`` for the
            external images every fold model scored.
        external_ids: the external images of chapter 06, in its order (None: no external set).
    Returns:
        fold -> set name -> rows with a fresh 0..N-1 index.
    Raises:
        KeyError: an external image the deployed model did not score.
    """
    require_columns(predictions, ["fold", "role", "image_id", "prob"], "the fold stability sets")
    names = {"calibration": "val", "test": "test"}
    frames = {int(fold): {names[role]: rows[rows["role"] == role].reset_index(drop=True) for role in names}
              for fold, rows in predictions.groupby("fold")}
    if external_ids is not None:
        scored = predictions[(predictions["fold"] == external_fold) & (predictions["role"] == "external")]
        frames[external_fold]["external"] = scored.set_index("image_id").loc[list(external_ids)].reset_index()
    return frames


def cross_fitted_trust_scores(frames: Mapping[int, Mapping[str, pd.DataFrame]], thresholds: pd.Series,
                              stability: Mapping[int, object], features) -> tuple[pd.DataFrame, dict]:
    """Chapter 06's per-image trust scores under every fold model, each fold's fitted on its own
    calibration fold (set ``"val"`` of :func:`fold_stability_frames`): the constant-map fill
    (:func:`tmvlib.tables.trust_cells.fill_constant_maps`) and the combined score
    (:func:`tmvlib.tables.fitted.fit_trust_score`).

    Args:
        stability: fold -> :class:`tmvlib.explain.stability.StabilityBySet` of its frames; every
            fold the same sources (the score columns are those of the sources measured).
        features: the combined score's features (``tmvlib.tables.endpoints.COMBINED_FEATURES``).
    Returns:
        (rows of every fold and set with ``fold``, ``combined`` and ``peak_region`` (of its own
        model's unperturbed Grad-CAM, :func:`tmvlib.tables.stability.reference_peak_regions`), each
        at its own model's threshold; fold -> its fitted combined score).
    Raises:
        ValueError: the folds measured different sources (their columns would not pool).
    """
    measured = {fold: sorted(set(run.rows["source"])) for fold, run in stability.items() if fold in frames}
    if len({tuple(v) for v in measured.values()}) > 1:
        raise ValueError(f"the fold models' stability runs measured different sources: {measured}")
    parts, combined = [], {}
    for fold, sets in frames.items():
        run = stability[fold]
        summary = stability_summary(run.rows, by=["image_id", "set", "source"])
        scores = trust_scores_by_set(sets, float(thresholds[fold]), run.probs, summary)
        scores = fill_constant_maps(scores, [c for c in INSTABILITY_COLUMNS if c in scores])  # the measured sources
        combined[fold] = fit_trust_score(scores, features)  # this fold's calibration rows only
        peaks = scores["image_id"].map(reference_peak_regions(sets, run.reference))
        parts.append(scores.assign(fold=fold, combined=combined[fold].score(scores), peak_region=peaks))
    return pd.concat(parts, ignore_index=True), combined


def fold_endpoint_estimates(scores: pd.DataFrame, comparisons: Sequence[Comparison]) -> pd.DataFrame:
    """The point estimate of each declared comparison on each fold model's own images
    (:func:`tmvlib.tables.endpoints.score_difference`): the spread over folds beside the pooled
    interval. A comparison on a set a fold does not score (the external set, scored by the
    deployed model only) or without an error there is NaN.

    Args:
        scores: :func:`cross_fitted_trust_scores`' rows (``fold, set``, the score columns).
    Returns:
        rows ``comparison`` (in ``comparisons``' order), columns ``fold f``.
    """
    table = {}
    for fold, rows in scores.groupby("fold", sort=True):
        column = {}
        for c in comparisons:
            part = comparison_rows(rows, c)
            try:
                column[c.name] = score_difference(part, c.a, c.b, c.quantity) if len(part) else np.nan
            except ValueError:  # no error, or no correct prediction, in this fold's images
                column[c.name] = np.nan
        table[f"fold {fold}"] = column
    return pd.DataFrame(table).rename_axis("comparison")


def power_table(single: pd.DataFrame, pooled: pd.DataFrame) -> pd.DataFrame:
    """The minimum detectable difference (80% power; alpha / m within a family) of each declared
    comparison under the single split and under cross-fitting, measured on the same run.

    Args:
        single, pooled: :func:`tmvlib.tables.endpoints.endpoint_table` of the single split and of
            the pooled out-of-fold rows.
    Returns:
        rows ``comparison`` with ``quantity, set``, ``detectable, single split``, ``detectable,
        cross-fitted`` and their ratio (cross-fitted / single).
    """
    left = single.set_index("comparison")[["quantity", "set", "mdd"]]
    right = pooled.set_index("comparison")["mdd"]
    table = left.rename(columns={"mdd": "detectable, single split"})
    table["detectable, cross-fitted"] = right.reindex(table.index)
    table["ratio"] = table["detectable, cross-fitted"] / table["detectable, single split"]
    return table

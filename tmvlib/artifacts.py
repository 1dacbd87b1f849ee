"""Every artifact a chapter writes, where it lives, who writes it, and how it is read and written.

:data:`ARTIFACTS` is the one list of a run's files (``artifacts/runs/<run_id>/<path>``) with the
chapter that writes each. Chapters write through :func:`write_table` / :func:`write_text`
(atomic: a reader never sees half a file) and read through :func:`read_table` or the named
readers below, which name the chapter to run when the file is missing, so rerunning a chapter out
of order fails with an instruction rather than a KeyError.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .atomic import atomic_write, atomic_write_text
from .config import CHAPTER_ORDER, chapter_params, declared_params, resolve_data_root, run_dir
from .data.nih import read_nih_boxes
from .data.splits import subsample_patients
from .data.store import load_splits


@dataclass(frozen=True)
class Artifact:
    """One file, folder or glob pattern of a run: its key, path under the run folder and
    writing chapter. ``recorded``: part of the chapter's completion record
    (:mod:`tmvlib.runs.records`); False for a folder other writers share (``checkpoints``, and
    ``cards``, where ``tmv predict`` writes too). ``keys``: a table's identity columns, which name
    its rows (one row per combination; :mod:`tmvlib.runs.values` names rows by them)."""

    name: str
    path: str
    chapter: str
    recorded: bool = True
    keys: tuple[str, ...] = ()


ARTIFACTS: dict[str, Artifact] = {a.name: a for a in (
    Artifact("baseline_checkpoint", "checkpoints/baseline.pt", "02_baseline"),
    Artifact("checkpoints", "checkpoints", "02_baseline", recorded=False),
    Artifact("shards", "shards", "02_baseline", recorded=False),  # per-image stage shards (tmvlib.parallel)
    Artifact("baseline_predictions", "metrics/baseline_predictions.parquet", "02_baseline",
             keys=("image_id",)),
    Artifact("baseline_metrics", "metrics/baseline_metrics.csv", "02_baseline", keys=("set", "metric")),
    Artifact("baseline_threshold", "metrics/baseline_threshold.txt", "02_baseline"),
    Artifact("contrast_checkpoint", "checkpoints/contrast.pt", "02_baseline"),
    Artifact("fold_checkpoints", "checkpoints/fold_*", "02_baseline"),
    Artifact("fold_predictions", "metrics/fold_predictions.parquet", "02_baseline", keys=("image_id", "fold")),
    Artifact("fold_thresholds", "metrics/fold_thresholds.parquet", "02_baseline", keys=("fold",)),
    Artifact("cross_fitted_metrics", "metrics/cross_fitted_metrics.csv", "02_baseline", keys=("model", "metric")),
    Artifact("shortcut_aurocs", "metrics/shortcut_aurocs.parquet", "02_baseline", keys=("contrast", "model")),
    Artifact("shortcut_control", "metrics/shortcut_control.parquet", "02_baseline", keys=("comparison",)),
    Artifact("contrast_fold_checkpoints", "checkpoints/contrast/fold_*", "02_baseline"),
    Artifact("cross_fitted_shortcut_aurocs", "metrics/cross_fitted_shortcut_aurocs.parquet", "02_baseline",
             keys=("contrast", "model")),
    Artifact("cross_fitted_shortcut_control", "metrics/cross_fitted_shortcut_control.parquet", "02_baseline",
             keys=("comparison",)),
    Artifact("uncertainty", "metrics/uncertainty.parquet", "03_uncertainty", keys=("image_id", "method")),
    Artifact("uncertainty_methods", "metrics/uncertainty_methods.csv", "03_uncertainty",
             keys=("set", "method", "metric")),
    Artifact("temperatures", "metrics/temperatures.json", "03_uncertainty"),
    Artifact("ensemble_checkpoints", "checkpoints/ensemble_*", "03_uncertainty"),
    Artifact("shared_views_checkpoints", "checkpoints/shared_views_*", "03_uncertainty"),
    Artifact("fold_ensemble_checkpoints", "checkpoints/fold*_ensemble_*", "03_uncertainty"),
    Artifact("ensemble_diversity", "metrics/ensemble_diversity.parquet", "03_uncertainty",
             keys=("set", "metric", "design")),
    Artifact("explanations_gradcam", "explanations/gradcam", "04_gradcam"),
    Artifact("localization_gradcam", "metrics/localization_gradcam.parquet", "04_gradcam",
             keys=("image_id", "method")),
    Artifact("sanity_gradcam", "metrics/sanity_gradcam.parquet", "04_gradcam",
             keys=("image_id", "step", "layer", "test")),
    Artifact("regions_gradcam", "metrics/regions_gradcam.parquet", "04_gradcam", keys=("image_id",)),
    Artifact("explanations_prior", "explanations/prior", "04_gradcam"),
    Artifact("permuted_label_checkpoint", "checkpoints/permuted_labels.pt", "04_gradcam"),
    Artifact("localization_coverage", "metrics/localization_coverage.parquet", "04_gradcam",
             keys=("method", "quantity", "coverage")),
    Artifact("localization_scorecam", "metrics/localization_scorecam.parquet", "05_scorecam",
             keys=("image_id", "method")),
    Artifact("sanity_scorecam", "metrics/sanity_scorecam.parquet", "05_scorecam",
             keys=("image_id", "step", "layer", "test")),
    Artifact("regions_scorecam", "metrics/regions_scorecam.parquet", "05_scorecam",
             keys=("image_id", "method")),
    Artifact("explanations_scorecam", "explanations/scorecam", "05_scorecam"),
    Artifact("agreement_gradcam_scorecam", "metrics/agreement_gradcam_scorecam.parquet", "05_scorecam",
             keys=("image_id",)),
    Artifact("faithfulness", "metrics/faithfulness.parquet", "05_scorecam", keys=("image_id", "method")),
    Artifact("topk_fidelity", "metrics/topk_fidelity.parquet", "05_scorecam", keys=("image_id",)),
    Artifact("stability_perturbations", "metrics/stability_perturbations.parquet", "06_stability",
             keys=("image_id", "source", "perturbation")),
    Artifact("stability_summary", "metrics/stability_summary.parquet", "06_stability",
             keys=("image_id", "source")),
    Artifact("trust_scores", "metrics/trust_scores.parquet", "06_stability", keys=("image_id",)),
    Artifact("cross_fitted_trust_scores", "metrics/cross_fitted_trust_scores.parquet", "06_stability",
             keys=("image_id", "fold", "set")),
    Artifact("cross_fitted_endpoints", "metrics/cross_fitted_endpoints.parquet", "06_stability", keys=("comparison",)),
    Artifact("trust_endpoints", "metrics/trust_endpoints.parquet", "06_stability",
             keys=("set", "quantity", "comparison")),
    Artifact("perturbation_factors", "metrics/perturbation_factors.parquet", "06_stability",
             keys=("set", "quantity", "factor")),
    Artifact("trust_quadrants", "metrics/trust_quadrants.parquet", "07_trust_failures", keys=("image_id",)),
    Artifact("quadrant_table", "metrics/quadrant_table.parquet", "07_trust_failures", keys=("set", "cell")),
    Artifact("danger_by_stability", "metrics/danger_by_stability.parquet", "07_trust_failures",
             keys=("set", "explanation", "among")),
    Artifact("failure_cases", "metrics/failure_cases.parquet", "07_trust_failures",
             keys=("image_id", "reason")),
    Artifact("failure_case_files", "failure_cases", "07_trust_failures"),
    Artifact("subgroups", "metrics/subgroups.parquet", "07_trust_failures", keys=("grouping", "group")),
    Artifact("failure_modes", "metrics/failure_modes.parquet", "07_trust_failures", keys=("mode",)),
    Artifact("failure_modes_val", "metrics/failure_modes_val.parquet", "07_trust_failures", keys=("mode",)),
    Artifact("subgroup_differences", "metrics/subgroup_differences.parquet", "07_trust_failures",
             keys=("grouping",)),
    Artifact("deferral_rule", "metrics/deferral_rule.json", "07_trust_failures"),
    Artifact("deferral_outcomes", "metrics/deferral_outcomes.parquet", "07_trust_failures",
             keys=("set", "quantity", "score", "rule")),
    Artifact("deferral_resplits", "metrics/deferral_resplits.parquet", "07_trust_failures",
             keys=("score", "rule", "draw")),
    Artifact("deferral_targets", "metrics/deferral_targets.parquet", "07_trust_failures",
             keys=("score", "rule", "max_error")),
    Artifact("cross_fitted_quadrants", "metrics/cross_fitted_quadrants.parquet", "07_trust_failures",
             keys=("image_id", "fold", "set")),
    Artifact("cross_fitted_failure_modes", "metrics/cross_fitted_failure_modes.parquet", "07_trust_failures",
             keys=("mode",)),
    Artifact("cross_fitted_failure_modes_val", "metrics/cross_fitted_failure_modes_val.parquet", "07_trust_failures",
             keys=("mode", "fold")),
    Artifact("cross_fitted_subgroups", "metrics/cross_fitted_subgroups.parquet", "07_trust_failures",
             keys=("grouping", "group")),
    Artifact("cross_fitted_subgroup_differences", "metrics/cross_fitted_subgroup_differences.parquet",
             "07_trust_failures", keys=("grouping", "a", "b")),
    Artifact("cross_fitted_deferral", "metrics/cross_fitted_deferral.parquet", "07_trust_failures",
             keys=("model", "score", "rule", "quantity")),
    Artifact("card_reference", "card", "08_trust_card"),
    Artifact("cards", "cards", "08_trust_card", recorded=False),
    Artifact("ood_flags", "metrics/ood_flags.parquet", "08_trust_card", keys=("image_id",)),
    Artifact("deferral_ood", "metrics/deferral_ood.parquet", "08_trust_card",
             keys=("set", "quantity", "stage")),
    Artifact("replication", "metrics/replication.parquet", "09_replication", keys=("quantity", "replicate")),
    Artifact("replicate_checkpoints", "checkpoints/replicate_*", "09_replication"),
    # every chapter's glued values, read from its executed notebook (tmvlib.runs.glue)
    *(Artifact(f"glue_{chapter}", f"glue/{chapter}.json", chapter) for chapter in CHAPTER_ORDER),
)}


def artifact(name: str) -> Artifact:
    """The registry entry ``name``; KeyError listing the known names."""
    try:
        return ARTIFACTS[name]
    except KeyError:
        raise KeyError(f"unknown artifact {name!r}; known: {sorted(ARTIFACTS)}") from None


def artifact_path(run_id: str, name: str) -> Path:
    """``artifacts/runs/<run_id>/<path of name>`` (whether or not it exists yet)."""
    return run_dir(run_id) / artifact(name).path


def explanation_dir(run_id: str, method: str) -> Path:
    """``artifacts/runs/<run_id>/explanations/<method>/``: heatmaps of one CAM method."""
    if not method or "/" in method or method.startswith("."):
        raise ValueError(f"method must be a plain folder name, got {method!r}")
    return run_dir(run_id) / "explanations" / method


def need_artifact(path: Path, chapter: str) -> Path:
    """``path`` if it exists, else FileNotFoundError naming the chapter that writes it."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run chapter {chapter} first "
                                f"(make chapter CH={chapter[:2]})")
    return path


def existing(run_id: str, name: str) -> Path:
    """The path of artifact ``name``, which must exist (else the error names its chapter)."""
    return need_artifact(artifact_path(run_id, name), artifact(name).chapter)


def read_table(run_id: str, name: str) -> pd.DataFrame:
    """A table artifact (``.parquet`` or ``.csv``) as written by its chapter."""
    path = existing(run_id, name)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def write_table(run_id: str, name: str, frame: pd.DataFrame | pd.Series, **options) -> Path:
    """Write a table artifact atomically: parquet (``index=False`` unless given), CSV
    (pandas' defaults unless given) or, for ``.json``, a Series/DataFrame's ``to_json``."""
    path = artifact_path(run_id, name)
    if path.suffix == ".parquet":
        options.setdefault("index", False)
        return atomic_write(path, lambda tmp: frame.to_parquet(tmp, **options))
    if path.suffix == ".csv":
        return atomic_write(path, lambda tmp: frame.to_csv(tmp, **options))
    if path.suffix == ".json":
        return atomic_write(path, lambda tmp: frame.to_json(tmp, **options))
    raise ValueError(f"artifact {name!r} ({path.name}) is not a table")


def write_text(run_id: str, name: str, text: str) -> Path:
    """Write a text artifact atomically."""
    return atomic_write_text(artifact_path(run_id, name), text)


def baseline_checkpoint(run_id: str) -> Path:
    """Chapter 02's trained model."""
    return existing(run_id, "baseline_checkpoint")


def baseline_training_images(run_id: str, reader: str) -> pd.DataFrame:
    """The images chapter 02 trained the baseline on: the ``training`` part of chapter 01's
    ``train`` split (its selection patients left out, :func:`tmvlib.data.folds.training_roles`),
    subsampled by chapter 02's ``max_images_per_split`` as chapter 02 did (``reader``: the chapter
    asking, whose contract must declare that it reads ``max_images_per_split`` and
    ``selection_share``)."""
    from .data.folds import training_roles

    splits = load_splits(run_id)[0]
    params = declared_params(run_id, reader, "02_baseline")
    roles = training_roles(splits[splits["split"] == "train"], params["selection_share"], params["max_images_per_split"])
    return roles["training"].reset_index(drop=True)


def fold_role_sets(run_id: str, reader: str) -> dict[int, dict[str, pd.DataFrame]]:
    """The images of every role of every fold model, as chapter 02 dealt them
    (:func:`tmvlib.data.folds.role_sets` with its ``selection_share`` and ``max_images_per_split``;
    ``reader``: the chapter asking, whose contract must declare that it reads both), checked
    against the images chapter 02 scored (``fold_predictions``).

    Raises:
        ValueError: chapter 02 scored other images (rerun chapter 02).
    """
    from .data.folds import ROLES, all_role_sets, modelled_folds

    params = declared_params(run_id, reader, "02_baseline")
    splits, _, meta = load_splits(run_id)
    sets = all_role_sets(splits, params["selection_share"], params["max_images_per_split"],
                         modelled_folds(meta["task"]))
    scored = read_table(run_id, "fold_predictions")
    for (fold, role), rows in scored[scored["role"].isin(ROLES)].groupby(["fold", "role"]):
        if rows["image_id"].tolist() != sets[fold][role]["image_id"].tolist():
            raise ValueError(f"chapter 02 scored other images for the {role} role of fold {fold}'s model than "
                             "its parameters deal now: rerun chapter 02")
    return sets


def fold_thresholds(run_id: str) -> pd.Series:
    """Chapter 02's decision threshold of every fold model (``fold -> threshold``), each fitted on
    its calibration fold; parquet keeps every bit, as :func:`write_decision_threshold` does)."""
    return read_table(run_id, "fold_thresholds").set_index("fold")["threshold"]


def baseline_predictions(run_id: str) -> pd.DataFrame:
    """Chapter 02's per-image predictions (``set`` val/test/external) joined with the image
    paths of chapter 01's split table. Row order is chapter 02's."""
    return _with_paths(run_id, read_table(run_id, "baseline_predictions"))


def fold_predictions(run_id: str) -> pd.DataFrame:
    """Chapter 02's fold-model predictions (one row per image and fold model: ``fold, role``
    calibration/test, ``prob``...) joined with the image paths. Row order is chapter 02's."""
    return _with_paths(run_id, read_table(run_id, "fold_predictions"))


def fold_ensemble_checkpoints(run_id: str, fold: int) -> list[Path]:
    """Fold ``fold``'s model (chapter 02, ``fold_<f>.pt``) and its ensemble members 1.. (chapter
    03, ``fold<f>_ensemble_<m>.pt``, as many as chapter 03's ``fold_ensemble_members``)."""
    from .data.folds import fold_ensemble_prefix, fold_model_file

    params = chapter_params(run_id, "03_uncertainty")
    # a chapter 03 recorded before the parameter existed gave every fold ensemble_members members
    members = int(params.get("fold_ensemble_members", params["ensemble_members"]))
    folder = artifact_path(run_id, "checkpoints")
    return [need_artifact(folder / fold_model_file(fold), "02_baseline")] + [
        need_artifact(folder / f"{fold_ensemble_prefix(fold)}_{m}.pt", "03_uncertainty") for m in range(1, members)]


def _with_paths(run_id: str, preds: pd.DataFrame) -> pd.DataFrame:
    """``preds`` with each image's ``path`` from chapter 01's split tables (order kept)."""
    splits, external, _ = load_splits(run_id)
    paths = pd.concat([splits, external])[["image_id", "path"]].drop_duplicates("image_id")
    merged = preds.merge(paths, on="image_id", how="left", validate="many_to_one")
    if merged["path"].isna().any():
        missing = merged.loc[merged["path"].isna(), "image_id"].head(3).tolist()
        raise ValueError(f"chapter 02's predictions name images absent from chapter 01's splits, "
                         f"e.g. {missing}: rerun chapter 02 on the current splits")
    return merged


def write_decision_threshold(run_id: str, rule: str, value: float) -> Path:
    """Write chapter 02's operating threshold as ``<rule> <value>``, the value at full precision
    (``repr``): a rule such as Youden's puts the threshold exactly on one validation image's
    probability, so a rounded copy would send that image to either side of it depending on the
    last bits of its probability, and later chapters would disagree with chapter 02 about it."""
    return write_text(run_id, "baseline_threshold", f"{rule} {float(value)!r}\n")


def decision_threshold(run_id: str) -> tuple[str, float]:
    """Chapter 02's operating threshold: (rule, value), chosen on validation
    (:func:`write_decision_threshold`)."""
    text = existing(run_id, "baseline_threshold").read_text()
    rule, value = text.split()
    return rule, float(value)


def radiologist_boxes(run_id: str, image_size: int) -> pd.DataFrame:
    """NIH radiologist boxes (``image_id, finding, x, y, w, h``) in pixels of a square
    ``image_size`` image (the model input), from the data chapter 01 used (its ``data_root``
    param, else the default search)."""
    data_root = chapter_params(run_id, "01_data").get("data_root")
    return read_nih_boxes(resolve_data_root(data_root) / "nih14", image_size=image_size)


def ensemble_checkpoints(run_id: str) -> list[Path]:
    """Chapter 03's deep-ensemble members in order: member 0 is chapter 02's baseline, then
    ``ensemble_1.pt`` ... (as many as chapter 03 recorded)."""
    members = int(chapter_params(run_id, "03_uncertainty")["ensemble_members"])
    paths = [baseline_checkpoint(run_id)]
    paths += [need_artifact(ensemble_checkpoint(run_id, m), "03_uncertainty") for m in range(1, members)]
    return paths


def ensemble_checkpoint(run_id: str, member: int) -> Path:
    """Path of chapter 03's ensemble member ``member`` (>= 1; member 0 is the baseline)."""
    if member < 1:
        raise ValueError(f"ensemble member {member}: member 0 is chapter 02's baseline checkpoint")
    return artifact_path(run_id, "checkpoints") / f"ensemble_{member}.pt"


def temperatures(run_id: str) -> dict[str, float]:
    """Chapter 03's fitted temperature per method (``{"baseline": T, ...}``), fitted on validation."""
    import json

    return json.loads(existing(run_id, "temperatures").read_text())


def deferral_rule(run_id: str) -> dict:
    """Chapter 07's deferral rule for the card (``tmvlib.uncertainty.abstention.DeferralRule``
    fields), calibrated on validation."""
    import json

    return json.loads(existing(run_id, "deferral_rule").read_text())

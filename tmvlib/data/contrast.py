"""The shortcut control's contrast task: the same positives against the other negative rule.

Chapter 01's task keeps as negatives only images with no finding at all (``no_finding``), so a
model could score well by detecting *any* abnormality. The contrast task is the same task with
the other rule (``all``: every other image is a negative; and the other way round when the main
task is ``all``). Chapter 02 trains a second model on it and scores both models on the test
patients of the ``all`` task, which hold pneumonia, No Finding and other-finding images. Patients
keep their split in both tasks (the split is a function of the patient id alone); the loader
asserts that no evaluation patient trained or selected either model. Under ``split_source: folds``
the contrast task's patients keep the main task's folds (:func:`tmvlib.data.folds.fold_splits`
with its folds), the others are dealt among themselves.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from .errors import DataError
from .exclusions import Exclusions
from .images import check_images
from .folds import fold_splits
from .splits import assign_splits, check_split_classes
from .task import NEGATIVE_RULES, build_binary_task


def contrast_rule(negatives: str) -> str:
    """The other negative rule: ``"no_finding"`` <-> ``"all"``."""
    if negatives not in NEGATIVE_RULES:
        raise ValueError(f"negatives must be one of {NEGATIVE_RULES}, got {negatives!r}")
    return "all" if negatives == "no_finding" else "no_finding"


def task_splits(records: pd.DataFrame, positive: str, negatives: str, views: Iterable[str] | None,
                min_source_width: int | None, split_fractions: Mapping[str, float],
                split_salt: str, localisation_set: bool, on_bad_image: str = "raise",
                official: pd.Series | None = None, folds: int | None = None, fold_salt: str = "tmv-folds-v1",
                known_folds: pd.Series | None = None) -> tuple[pd.DataFrame, Exclusions]:
    """A binary task with its patient-level splits: the task filters, one decode of every file,
    the split, and the refusal of a split without both classes (chapter 01, for its task and the
    contrast task).

    Args:
        records: reader output (:func:`tmvlib.data.read_nih`).
        official: the release's own split (:func:`tmvlib.data.nih.read_official_split`) when
            chapter 01's ``split_source`` is ``"official"``, else None.
        folds: under ``split_source: folds``, the number of patient folds: the non-localisation
            patients are dealt into folds (:func:`tmvlib.data.folds.assign_folds`; with
            ``known_folds``, the main task's, those patients keep theirs,
            :func:`tmvlib.data.folds.extend_folds`) and the split is the deployed fold model's
            roles (:func:`tmvlib.data.folds.deployed_split`), written with a ``fold`` column.
            None: the split of ``split_fractions`` / ``official`` (no ``fold`` column).
        the rest: chapter 01's params of the same names.

    Returns:
        ``(splits, exclusions)``: one row per image with ``label`` and ``split`` (as
        :func:`tmvlib.data.assign_splits`), and the ledger of what the filters dropped.

    Raises:
        DataError: a split lost a class, or (``on_bad_image="raise"``) an image is unreadable.
    """
    log = Exclusions()
    task, _ = build_binary_task(records, positive=positive, negatives=negatives, views=views,
                                min_source_width=min_source_width, exclusions=log)
    task, _ = check_images(task, on_bad_image=on_bad_image, exclusions=log)
    splits = assign_splits(task, fractions=dict(split_fractions), salt=split_salt,
                           localisation_set=localisation_set, official=official)
    if folds is not None:
        splits = fold_splits(splits, folds, fold_salt, known_folds)
    check_split_classes(splits)
    return splits, log


@dataclass(frozen=True)
class ContrastTask:
    """The contrast task of a run and the images both models are scored on.

    Attributes:
        negatives: the contrast model's negative rule (the main task's is the other one).
        splits: the contrast task, one row per image with ``label`` and ``split``.
        evaluation: the test-split images of the ``all`` task (main or contrast), with a
            ``negative`` column: ``"positive"``, ``"No Finding"`` or ``"other finding"``.
    """

    negatives: str
    splits: pd.DataFrame
    evaluation: pd.DataFrame


def negative_kind(frame: pd.DataFrame) -> pd.Series:
    """``"positive"`` for label 1, else ``"No Finding"`` or ``"other finding"`` by the findings."""
    from .schema import NO_FINDING
    kind = frame["findings"].eq(NO_FINDING).map({True: "No Finding", False: "other finding"})
    return kind.where(frame["label"] == 0, "positive")


def _check_unfitted(evaluation: pd.DataFrame, fitted_on: Iterable, control: str, role: str) -> None:
    """Raise :class:`DataError` naming up to 5 patients of ``evaluation`` that are in ``fitted_on``."""
    leaked = sorted(set(evaluation["patient_id"]) & set(fitted_on))
    if leaked:
        raise DataError(f"{len(leaked)} evaluation patient(s) of {control} {role}, e.g. {leaked[:5]}")


def contrast_task(splits: pd.DataFrame, contrast: pd.DataFrame, negatives: str) -> ContrastTask:
    """Bundle the main task's ``splits`` and the ``contrast`` task (rule ``negatives``); the
    evaluation set is the test split of whichever uses every negative.

    Raises:
        DataError: an evaluation patient is in the training or validation split of either task.
    """
    everything = contrast if negatives == "all" else splits
    evaluation = everything[everything["split"] == "test"].copy()
    evaluation["negative"] = negative_kind(evaluation)
    fitted_on = pd.concat([s.loc[s["split"].isin(["train", "val"]), "patient_id"] for s in (splits, contrast)])
    _check_unfitted(evaluation, fitted_on, "the shortcut control", "trained or selected a model")
    return ContrastTask(negatives, contrast, evaluation.reset_index(drop=True))


def fold_evaluation_sets(main_sets: Mapping[int, Mapping[str, pd.DataFrame]],
                         contrast_sets: Mapping[int, Mapping[str, pd.DataFrame]],
                         negatives: str) -> dict[int, pd.DataFrame]:
    """The shortcut control's evaluation images of every fold: the ``test`` role of fold ``f`` of
    whichever task uses every negative (the contrast task when its rule ``negatives`` is
    ``"all"``, else the main task), with a ``negative`` column (:func:`negative_kind`). Both
    fold-``f`` models (the main task's and the contrast task's) score them.

    Args:
        main_sets, contrast_sets: fold -> role -> images of each task
            (:func:`tmvlib.data.folds.all_role_sets`; the contrast task keeps the main task's folds).
    Returns:
        fold -> its evaluation images, folds ascending.
    Raises:
        DataError: the two tasks have different folds, or an evaluation patient of fold ``f`` is in
            the training, selection or calibration role of either fold-``f`` model.
    """
    if sorted(main_sets) != sorted(contrast_sets):
        raise DataError(f"the shortcut control's folds differ: main task {sorted(main_sets)}, "
                        f"contrast task {sorted(contrast_sets)}")
    everything = contrast_sets if negatives == "all" else main_sets
    out = {}
    for fold in sorted(everything):
        evaluation = everything[fold]["test"].copy()
        evaluation["negative"] = negative_kind(evaluation)
        fitted_on = [p for sets in (main_sets, contrast_sets) for role in ("training", "selection", "calibration")
                     for p in sets[fold][role]["patient_id"]]
        _check_unfitted(evaluation, fitted_on, f"fold {fold}'s shortcut control",
                        "trained, selected or calibrated one of its models")
        out[fold] = evaluation.reset_index(drop=True)
    return out

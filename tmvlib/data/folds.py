"""Patient folds for cross-fitted evaluation, and the four roles a fold's model gives them.

Every non-localisation task patient belongs to exactly one of ``k`` folds. The model of fold
``f`` is trained on the other folds, fitted (threshold, calibrators, cuts, the deferral rule) on
the next fold and evaluated on fold ``f``, so that fitting, calibration and evaluation never
share a patient and every patient is evaluated once, by the model that never saw it:

- ``test``: fold ``f``, only evaluated;
- ``calibration``: fold ``(f + 1) mod k``, everything fitted after training is fitted here;
- ``selection``: a fixed, seeded share of the remaining patients, for early stopping only;
- ``training``: the rest.

Folds are stratified by label as far as patients allow: each class's patients (a patient is
positive when any of its images is), in salted-hash order, are dealt round robin, the negatives
continuing where the positives stopped, so every fold holds ``n // k`` or ``n // k + 1`` patients
of each class. Unlike :func:`tmvlib.data.splits.assign_splits`, a patient's fold depends on the
other patients (dealing needs the whole list); it does not depend on the order of the rows.
"""
from __future__ import annotations

import pandas as pd

from .errors import DataError
from .splits import LOCALISATION, check_no_leakage, patient_unit_interval, subsample_patients

#: a fold model's roles, in the order the chapters list them
ROLES = ("training", "selection", "calibration", "test")

#: the ``fold`` of an image in no fold (the localisation set; the official test list of the full profile)
NO_FOLD = -1

#: the fold whose model is deployed (the card, chapters 04-05 and 08; the external set's pooled rows)
DEPLOYED_FOLD = 0

#: the salt of the selection share (the same patients select wherever they train)
SELECTION_SALT = "tmv-selection-v1"

#: the split each of the deployed model's roles takes in chapter 01's single split
#: (``split_source: folds``; the selection patients stay in ``train``, :func:`split_selection`)
SPLIT_OF_ROLE = {"training": "train", "selection": "train", "calibration": "val", "test": "test"}

#: the fold each split takes when nothing is cross-fitted (chapter 01's ``cross_fit: false``, the
#: ``full`` profile): the single split as the roles of one model, the deployed fold's (test fold 0,
#: calibration fold 1 = validation, training and selection = train; :func:`split_folds`)
SPLIT_FOLDS = {"test": 0, "val": 1, "train": 2}

#: the smallest number of folds with all four roles (test, calibration and two training folds:
#: with two, the training patients would all sit in one fold)
MIN_FOLDS = 3


def assign_folds(frame: pd.DataFrame, k: int = 5, salt: str = "tmv-folds-v1", label: str = "label") -> pd.Series:
    """Each patient's fold, stratified by label.

    Args:
        frame: one row per image with ``patient_id`` and ``label`` (0/1): the task images the
            folds cover (the caller leaves the localisation set out).
        k: number of folds, at least :data:`MIN_FOLDS`.
        salt: changes the draw; the same salt and patients always give the same folds.
    Returns:
        int Series ``patient_id -> fold`` in ``0 .. k-1``, sorted by patient id.
    Raises:
        DataError: ``k`` below :data:`MIN_FOLDS`, missing columns, or a class with fewer
            patients than folds (some fold would have no positive or no negative patient).
    """
    if int(k) != k or k < MIN_FOLDS:
        raise DataError(f"folds: k must be an integer of at least {MIN_FOLDS} (test, calibration and "
                        f"training folds), got {k!r}")
    missing = [c for c in ("patient_id", label) if c not in frame.columns]
    if missing:
        raise DataError(f"folds: the frame lacks column(s) {missing}; it has {list(frame.columns)}")
    patient_label = frame.groupby("patient_id")[label].max()
    for value in (1, 0):
        n = int((patient_label == value).sum())
        if n < k:
            raise DataError(f"folds: {n} patient(s) with label {value}, fewer than the {k} folds; "
                            "every fold needs both classes (lower k or add patients)")
    return _deal(patient_label, k, salt)


def _deal(patient_label: pd.Series, k: int, salt: str) -> pd.Series:
    """``patient_id -> fold``: each class's patients in salted-hash order dealt round robin, the
    negatives continuing where the positives stopped."""
    folds: dict[str, int] = {}
    start = 0
    for value in (1, 0):
        patients = sorted(patient_label.index[patient_label == value], key=lambda p: (patient_unit_interval(p, salt), p))
        folds.update({p: (start + i) % k for i, p in enumerate(patients)})
        start = (start + len(patients)) % k
    return pd.Series(folds, name="fold", dtype=int).rename_axis("patient_id").sort_index()


def extend_folds(frame: pd.DataFrame, known: pd.Series, k: int, salt: str = "tmv-folds-v1",
                 label: str = "label") -> pd.Series:
    """``known`` folds (another task's, e.g. chapter 01's main task) for the patients of ``frame``
    that have one; the others dealt among themselves as :func:`assign_folds` deals (a class may
    have fewer patients than folds: they only join folds that already hold both classes). Used
    for the contrast task, whose patients must keep the fold, and so the split, they have in the
    main task.

    Returns:
        int Series ``patient_id -> fold`` of every patient of ``frame``, sorted by patient id.
    """
    patients = frame.groupby("patient_id")[label].max()
    new = patients[~patients.index.isin(known.index)]
    kept = known[known.index.isin(patients.index)].astype(int)
    return pd.concat([kept, _deal(new, k, salt)]).rename("fold").rename_axis("patient_id").sort_index()


def deployed_split(folds: pd.Series, fold: int = DEPLOYED_FOLD) -> pd.Series:
    """Chapter 01's single split under ``split_source: folds``: the roles of the deployed model
    (``fold``'s) as splits, ``patient_id -> split``: its test fold is ``test``, its calibration
    fold ``val`` (where the threshold, calibrators, cuts, card rates and the deferral rule are
    fitted) and the other folds ``train`` (its training and selection patients: the trainers
    take the selection share out of ``train`` themselves, :func:`split_selection`). So the
    single split's model is the deployed fold model, and its validation images chose no
    checkpoint."""
    return fold_roles(folds, fold).map(SPLIT_OF_ROLE).rename("split")


def _selected(patient_ids: pd.Series, selection_share: float, salt: str = SELECTION_SALT) -> pd.Series:
    """bool, aligned with ``patient_ids``: the patient is in the selection share by the salted
    patient hash (the one rule of :func:`fold_roles` and :func:`split_selection`).

    Raises:
        DataError: ``selection_share`` outside (0, 1).
    """
    if not 0 < selection_share < 1:
        raise DataError(f"folds: selection_share must lie in (0, 1), got {selection_share!r}")
    return patient_ids.map(lambda p: patient_unit_interval(p, salt) < selection_share).astype(bool)


def fold_splits(splits: pd.DataFrame, k: int, salt: str = "tmv-folds-v1",
                known_folds: pd.Series | None = None) -> pd.DataFrame:
    """``splits`` with every non-localisation patient dealt into one of ``k`` folds (``known_folds``
    kept, :func:`extend_folds`) and its ``split`` set to its role for the deployed fold model
    (:func:`deployed_split`); ``fold`` is ``NO_FOLD`` for the localisation set. Chapter 01's split
    under ``split_source: folds``."""
    folded = splits["split"] != LOCALISATION
    rows = splits[folded]
    fold_of = assign_folds(rows, k, salt) if known_folds is None else extend_folds(rows, known_folds, k, salt)
    out = splits.copy()
    out.loc[folded, "split"] = rows["patient_id"].map(deployed_split(fold_of))
    out["fold"] = out["patient_id"].map(fold_of).where(folded, NO_FOLD).astype(int)
    check_no_leakage(out)
    return out


def split_selection(train: pd.DataFrame, selection_share: float = 0.15,
                    salt: str = SELECTION_SALT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(training, selection)`` rows of a ``train`` split: the selection patients are those
    :func:`fold_roles` selects (the same salted hash, the same share), for early stopping only.

    Raises:
        DataError: ``selection_share`` outside (0, 1), or either part left without an image.
    """
    chosen = _selected(train["patient_id"], selection_share, salt)
    training, selection = train[~chosen], train[chosen]
    if training.empty or selection.empty:
        raise DataError(f"folds: selection_share {selection_share} leaves the {'selection' if selection.empty else 'training'}"
                        f" part of {train['patient_id'].nunique()} training patients empty")
    return training, selection


def fold_roles(folds: pd.Series, fold: int, selection_share: float = 0.15,
               salt: str = SELECTION_SALT) -> pd.Series:
    """The role of every patient for the model of ``fold`` (:data:`ROLES`).

    Args:
        folds: :func:`assign_folds`' ``patient_id -> fold``.
        fold: the model's test fold; its calibration fold is ``(fold + 1) mod k``.
        selection_share: share of the training folds' patients kept for early stopping, chosen
            by a salted hash of the patient id (the same patients whatever ``fold`` is, where
            they train).
    Returns:
        str Series ``patient_id -> role``, in ``folds``' order.
    """
    k = int(folds.max()) + 1
    if not 0 <= fold < k:
        raise DataError(f"folds: fold {fold!r} is not one of the {k} folds 0..{k - 1}")
    selected = _selected(folds.index.to_series(), selection_share, salt)
    roles = pd.Series("training", index=folds.index, name="role")
    roles[selected] = "selection"
    roles[folds == (fold + 1) % k] = "calibration"
    roles[folds == fold] = "test"
    return roles


def with_roles(frame: pd.DataFrame, folds: pd.Series, fold: int, selection_share: float = 0.15) -> pd.DataFrame:
    """``frame`` (one row per image, ``patient_id``) with the ``role`` of its patient for the
    model of ``fold``; disjointness is checked (:func:`check_roles_disjoint`).

    Raises:
        DataError: a patient of ``frame`` has no fold (names up to 10).
    """
    roles = fold_roles(folds, fold, selection_share)
    out = frame.assign(role=frame["patient_id"].map(roles))
    if out["role"].isna().any():
        lost = out.loc[out["role"].isna(), "patient_id"].unique()
        raise DataError(f"folds: {len(lost)} patient(s) have no fold, e.g. {list(lost[:10])}")
    check_roles_disjoint(out)
    return out


def check_roles_disjoint(frame: pd.DataFrame) -> int:
    """Raise :class:`DataError` naming the patients with images in more than one role; else 0
    (:func:`tmvlib.data.splits.check_no_leakage` on the ``role`` column)."""
    return check_no_leakage(frame, "role")


def fold_column(splits: pd.DataFrame, k: int = 5, salt: str = "tmv-folds-v1",
                splits_folded: tuple[str, ...] = ("train", "val", "test"),
                known_folds: pd.Series | None = None) -> pd.Series:
    """Chapter 01's ``fold`` column: each image's patient fold (:func:`assign_folds` over the
    images whose ``split`` is in ``splits_folded``; with ``known_folds``, another task's
    ``patient_id -> fold``, its patients keep theirs, :func:`extend_folds`), ``NO_FOLD`` (-1) for
    the others (the localisation set; under the official NIH lists, the official test list too).

    Returns:
        int Series aligned with ``splits``.
    """
    folded = splits["split"].isin(splits_folded)
    rows = splits[folded]
    folds = assign_folds(rows, k, salt) if known_folds is None else extend_folds(rows, known_folds, k, salt)
    return splits["patient_id"].map(folds).where(folded, NO_FOLD).astype(int).rename("fold")


def training_roles(train: pd.DataFrame, selection_share: float = 0.15,
                   max_images: int | None = None) -> dict[str, pd.DataFrame]:
    """The ``training`` and ``selection`` images of a ``train`` split (:func:`split_selection`),
    each cut to whole patients up to ``max_images`` as :func:`role_sets` cuts a fold model's roles:
    what every model trained on chapter 01's single split trains and stops early on. Under
    ``split_source: folds`` they are the deployed fold model's own training and selection roles."""
    training, selection = split_selection(train, selection_share)
    return {"training": subsample_patients(training, max_images), "selection": subsample_patients(selection, max_images)}


def split_folds(splits: pd.DataFrame) -> pd.Series:
    """The ``fold`` column when nothing is cross-fitted: each image's split as the fold of
    :data:`SPLIT_FOLDS` (``NO_FOLD`` for the localisation set), so that the roles of the deployed
    fold model (:func:`fold_roles` of fold 0) are the single split's: test, calibration =
    validation, training and selection = train (the selection share as :func:`split_selection`
    takes it). Only that model is fitted (:func:`modelled_folds`)."""
    return splits["split"].map(SPLIT_FOLDS).fillna(NO_FOLD).astype(int).rename("fold")


def modelled_folds(task_params: dict) -> tuple[int, ...] | None:
    """The folds that get a model under chapter 01's ``task_params`` (``split.json``'s ``task``):
    None (every fold) when ``cross_fit`` is true or absent, else the deployed fold alone."""
    return None if task_params.get("cross_fit", True) else (DEPLOYED_FOLD,)


def chapter_fold_column(splits: pd.DataFrame, split_source: str, k: int = 5,
                        salt: str = "tmv-folds-v1", known_folds: pd.Series | None = None,
                        cross_fit: bool = True) -> pd.Series:
    """Chapter 01's ``fold`` column for each ``split_source``: without ``cross_fit``, the split's
    roles (:func:`split_folds`); under ``"folds"`` the folds the split was dealt from (``splits``'
    own ``fold`` column, :func:`fold_splits`); otherwise :func:`fold_column` over ``train, val,
    test`` (``"hash"``) or ``train, val`` (``"official"``: the official test list stays outside
    every fold), the patients of ``known_folds`` keeping theirs (the contrast task keeps the main
    task's folds)."""
    if not cross_fit:
        if split_source == "folds":
            raise DataError("folds: cross_fit false needs split_source 'hash' or 'official' (under 'folds' "
                            "the split itself is dealt from the folds)")
        return split_folds(splits)
    if split_source == "folds":
        if "fold" not in splits.columns:
            raise DataError("folds: split_source 'folds' but the split table has no 'fold' column")
        return splits["fold"]
    folded = ("train", "val") if split_source == "official" else ("train", "val", "test")
    return fold_column(splits, k, salt, folded, known_folds)


def patient_folds(splits: pd.DataFrame) -> pd.Series:
    """``patient_id -> fold`` from chapter 01's ``fold`` column (:func:`fold_column`), the
    images without a fold left out; the input of :func:`fold_roles` / :func:`with_roles`.

    Raises:
        DataError: no ``fold`` column (splits written before folds: rerun chapter 01), or a
            patient whose images carry two folds.
    """
    if "fold" not in splits.columns:
        raise DataError("folds: the split table has no 'fold' column; rerun chapter 01 (it deals the folds)")
    folded = splits[splits["fold"] != NO_FOLD]
    per_patient = folded.groupby("patient_id")["fold"].agg(["min", "max"])
    split_patients = per_patient.index[per_patient["min"] != per_patient["max"]]
    if len(split_patients):
        raise DataError(f"folds: {len(split_patients)} patient(s) have images in two folds, "
                        f"e.g. {list(split_patients[:10])}")
    return per_patient["min"].astype(int).rename("fold").sort_index()


def role_sets(frame: pd.DataFrame, folds: pd.Series, fold: int, selection_share: float = 0.15,
              max_images: int | None = None) -> dict[str, pd.DataFrame]:
    """The images of each role (:data:`ROLES`) for the model of ``fold``: :func:`with_roles`
    (disjointness checked), each role then cut to whole patients up to ``max_images``
    (:func:`tmvlib.data.splits.subsample_patients`; ``None``: all, the quick profiles' cap).

    Args:
        frame: the folded images (``patient_id``, ``label``; every patient in ``folds``).
    Returns:
        role -> its rows of ``frame`` with a ``role`` column, in :data:`ROLES` order.
    Raises:
        DataError: as :func:`with_roles`, or a role left with a single class (its AUROC, its
            threshold or its early stopping would be undefined).
    """
    roles = with_roles(frame, folds, fold, selection_share)
    sets = {role: subsample_patients(roles[roles["role"] == role], max_images) for role in ROLES}
    for role, rows in sets.items():
        if rows["label"].nunique() < 2:
            raise DataError(f"folds: the {role} role of fold {fold}'s model holds "
                            f"{'no image' if rows.empty else 'a single class'} ({len(rows)} images)")
    return sets


def all_role_sets(splits: pd.DataFrame, selection_share: float = 0.15, max_images: int | None = None,
                  models: tuple[int, ...] | None = None) -> dict[int, dict[str, pd.DataFrame]]:
    """:func:`role_sets` of every fold model over chapter 01's folded images (``fold`` column,
    :func:`patient_folds`): fold -> role -> images, folds ascending (chapter 02 deals them; later
    chapters deal them again from the same parameters). ``models``: only these folds' models
    (:func:`modelled_folds`; None: every fold)."""
    folds = patient_folds(splits)
    folded = splits[splits["fold"] != NO_FOLD]
    chosen = sorted(folds.unique()) if models is None else sorted(models)
    return {int(f): role_sets(folded, folds, f, selection_share, max_images) for f in chosen}


def fold_model_file(fold: int) -> str:
    """``fold_<f>.pt``: the checkpoint file of fold ``fold``'s model (chapter 02)."""
    return f"fold_{int(fold)}.pt"


def fold_ensemble_prefix(fold: int, prefix: str = "ensemble") -> str:
    """``fold<f>_<prefix>``: the file prefix of fold ``fold``'s ensemble members (chapter 03;
    member ``m >= 1`` is ``<prefix>_<m>.pt``)."""
    return f"fold{int(fold)}_{prefix}"


def fold_summary(frame: pd.DataFrame, label: str = "label") -> pd.DataFrame:
    """Patients, images, positive patients and image prevalence per fold of ``frame``'s ``fold``
    column (images without a fold left out): rows ``fold`` 0..k-1."""
    with_fold = frame[frame["fold"] != NO_FOLD]
    grouped = with_fold.groupby("fold")
    table = pd.DataFrame({
        "patients": grouped["patient_id"].nunique(),
        "images": grouped.size(),
        "positive patients": with_fold[with_fold[label] == 1].groupby("fold")["patient_id"].nunique(),
    }).fillna(0).astype(int)
    table["prevalence"] = grouped[label].mean().round(3)
    return table


def patients_per_fold_text(summary: pd.DataFrame) -> str:
    """"264 patients each" or "263 to 264 patients each" from :func:`fold_summary`."""
    low, high = int(summary["patients"].min()), int(summary["patients"].max())
    return f"{low} patients each" if low == high else f"{low} to {high} patients each"


__all__ = ["DEPLOYED_FOLD", "MIN_FOLDS", "NO_FOLD", "ROLES", "SELECTION_SALT", "SPLIT_OF_ROLE", "all_role_sets",
           "assign_folds", "chapter_fold_column", "check_roles_disjoint", "deployed_split", "extend_folds",
           "fold_column", "fold_ensemble_prefix", "fold_model_file", "fold_roles", "fold_splits", "fold_summary",
           "patient_folds", "patients_per_fold_text", "role_sets", "split_selection", "training_roles", "with_roles"]

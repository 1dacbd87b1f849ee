"""Patient-level deterministic splits and the leakage check.

A patient's split is a function of a salted hash of its id alone, so it does not depend on the
order of the rows nor on which other patients exist: adding patients never moves an existing
one. Because the hash is independent of the label, each label's patients are split in the
given proportions (stratified in expectation); the achieved prevalence is reported, and
:func:`check_split_classes` refuses a split that lost a class.
"""
from __future__ import annotations

import hashlib

import pandas as pd

from .errors import DataError

SPLITS = ("train", "val", "test")
# Patients with a radiologist box: the explanation chapters' localisation set, outside the three
# splits (boxes are chosen by a label-dependent rule, so they would bias the test set).
LOCALISATION = "localisation"


def patient_unit_interval(patient_id: str, salt: str) -> float:
    """Map a patient id to [0, 1) with sha256 (stable across Python runs, unlike ``hash``)."""
    digest = hashlib.sha256(f"{salt}:{patient_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _split_for(u: float, edges: pd.Series) -> str:
    # edges are cumulative fractions; float rounding can leave the last edge a hair below 1
    return next((name for name, edge in edges.items() if u < edge), SPLITS[-1])


def assign_splits(task: pd.DataFrame, fractions: dict[str, float] | None = None,
                  salt: str = "tmv-v1", localisation_set: bool = True,
                  official: pd.Series | None = None) -> pd.DataFrame:
    """Add a ``split`` column (train/val/test, and ``localisation``) decided per patient.

    Args:
        task: one row per image with ``patient_id`` and ``box_findings``.
        fractions: share of the (non-localisation) patients per split, summing to 1 (default
            0.7/0.15/0.15).
        salt: changes the draw; the same salt always gives the same split.
        localisation_set: every patient with a radiologist box on any image goes to a separate
            ``localisation`` set used only by the explanation chapters (boxes were drawn on a
            label-dependent selection of images, so they stay out of train, validation and the
            discrimination/calibration test set, which remain a plain random patient-level
            split). False: boxed patients are split like any other.
        official: the NIH release's own split (:func:`tmvlib.data.nih.read_official_split`,
            image id -> ``"train_val"`` / ``"test"``): its test list is the test split and its
            train/val list is cut into train and validation by the salted patient hash, with
            validation's share of the two (``fractions["val"] / (train + val)``); ``None``: the
            salted hash decides all three.

    Returns:
        a copy of ``task`` with ``split`` and ``patient_has_box`` columns (and, with ``official``,
        ``official_list``: ``"train_val"`` / ``"test"`` per image); leakage is checked.
    """
    fractions = fractions or {"train": 0.7, "val": 0.15, "test": 0.15}
    if set(fractions) != set(SPLITS) or abs(sum(fractions.values()) - 1) > 1e-9:
        raise ValueError(f"fractions must give {SPLITS} summing to 1, got {fractions}")
    edges = pd.Series(fractions).reindex(list(SPLITS)).cumsum()
    out = task.copy()
    patients = pd.Series(out["patient_id"].unique())
    if official is None:
        split_of = {pid: _split_for(patient_unit_interval(pid, salt), edges) for pid in patients}
    else:
        split_of = official_patient_splits(out, official, fractions["val"] / (fractions["train"] + fractions["val"]),
                                           salt)
    boxed = set(out.loc[out["box_findings"] != "", "patient_id"])
    out["patient_has_box"] = out["patient_id"].isin(boxed)
    out["split"] = out["patient_id"].map(split_of)
    if official is not None:  # kept: a boxed patient moves to the localisation set, not off its list
        out["official_list"] = out["image_id"].map(official)
    if localisation_set:
        out.loc[out["patient_has_box"], "split"] = LOCALISATION
    check_no_leakage(out)
    return out


def official_patient_splits(task: pd.DataFrame, official: pd.Series, val_share: float,
                            salt: str) -> dict[str, str]:
    """Patient -> split under the official lists: ``test`` for the test list's patients, the
    train/val list's patients cut by the salted hash (``val`` below ``val_share``).

    Raises:
        DataError: task images in neither list, or a patient in both lists (both named).
    """
    listed = task["image_id"].map(official)
    unlisted = task.loc[listed.isna(), "image_id"]
    if len(unlisted):
        raise DataError(f"{len(unlisted)} image(s) are in neither train_val_list.txt nor test_list.txt, "
                        f"e.g. {unlisted.head(5).tolist()}")
    lists = pd.DataFrame({"patient_id": task["patient_id"], "list": listed}).groupby("patient_id")["list"]
    both = lists.nunique()
    if (both > 1).any():
        raise DataError(f"patients in both official lists: {both.index[both > 1][:10].tolist()}")
    return {pid: "test" if which == "test" else
            ("val" if patient_unit_interval(pid, salt) < val_share else "train")
            for pid, which in lists.first().items()}


def check_no_leakage(frame: pd.DataFrame, column: str = "split") -> int:
    """Raise :class:`DataError` naming the patients found in more than one value of ``column``
    (a split; a fold model's role, :func:`tmvlib.data.folds.check_roles_disjoint`); else 0."""
    per_patient = frame.groupby("patient_id")[column].nunique()
    leaked = per_patient[per_patient > 1]
    if len(leaked):
        raise DataError(f"patient leakage: {len(leaked)} patient(s) in several {column}s, "
                        f"e.g. {leaked.index[:10].tolist()}")
    return 0


def check_split_classes(frame: pd.DataFrame, label: str = "label") -> None:
    """Raise :class:`DataError` naming any split that is empty or holds a single class."""
    for split in SPLITS:
        classes = sorted(frame.loc[frame["split"] == split, label].unique().tolist())
        if len(classes) < 2:
            raise DataError(f"split {split!r} has classes {classes}: every split needs both "
                            "classes (change the salt, fractions or task filters)")


def split_hash(frame: pd.DataFrame) -> str:
    """sha256 of the sorted ``image_id,patient_id,split,label`` table: equal hashes, equal splits."""
    table = frame[["image_id", "patient_id", "split", "label"]].sort_values("image_id")
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()


def split_summary(frame: pd.DataFrame, label: str = "label") -> pd.DataFrame:
    """Patients, images, positives and prevalence per split (rows in train/val/test/localisation
    order, the splits present)."""
    grouped = frame.groupby("split")
    table = pd.DataFrame({
        "patients": grouped["patient_id"].nunique(),
        "images": grouped.size(),
        "positive images": grouped[label].sum(),
        "positive patients": frame[frame[label] == 1].groupby("split")["patient_id"].nunique(),
    }).reindex([s for s in (*SPLITS, LOCALISATION) if s in set(frame["split"])]).fillna(0).astype(int)
    table["prevalence"] = (table["positive images"] / table["images"]).round(3)
    return table


def subsample_patients(frame: pd.DataFrame, max_images: int | None, salt: str = "tmv-subsample") -> pd.DataFrame:
    """Keep whole patients, in salted-hash order, until ``max_images`` images (``None``: all).

    Deterministic, and keeps both classes when the frame has them (patients are taken
    alternately from the two classes), so a quick profile still has a defined AUROC.
    """
    if max_images is None or len(frame) <= max_images:
        return frame
    patient_label = frame.groupby("patient_id")["label"].max()
    queues = [sorted(patient_label.index[patient_label == value],
                     key=lambda pid: patient_unit_interval(pid, salt)) for value in (1, 0)]
    sizes = frame.groupby("patient_id").size()
    kept, total = [], 0
    while any(queues):
        for queue in queues:
            if queue and total + sizes[queue[0]] <= max_images:
                pid = queue.pop(0)
                kept.append(pid)
                total += sizes[pid]
            elif queue:
                queue.pop(0)
    return frame[frame["patient_id"].isin(kept)]

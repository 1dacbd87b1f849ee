import numpy as np
import pandas as pd
import pytest

from tmvlib.data.errors import DataError
from tmvlib.data.folds import (MIN_FOLDS, NO_FOLD, ROLES, assign_folds, check_roles_disjoint, fold_column, fold_roles,
                               fold_summary, patient_folds, patients_per_fold_text, role_sets, with_roles)


def task(n_pos=23, n_neg=61, images=3, seed=0):
    """Patients with 1..images images each; a positive patient has at least one positive image."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_pos + n_neg):
        for j in range(int(rng.integers(1, images + 1))):
            rows.append({"image_id": f"{i:04d}_{j:03d}", "patient_id": f"p{i:04d}",
                         "label": int(i < n_pos and (j == 0 or rng.random() < 0.5))})
    return pd.DataFrame(rows)


def test_every_patient_has_one_fold_and_each_class_is_dealt_evenly():
    frame = task()
    folds = assign_folds(frame, k=5)
    assert folds.index.tolist() == sorted(frame["patient_id"].unique()) and set(folds) == set(range(5))
    positive = frame.groupby("patient_id")["label"].max()
    for value in (0, 1):
        counts = folds[positive == value].value_counts()
        assert counts.max() - counts.min() <= 1  # stratified as far as patients allow
    sizes = folds.value_counts()
    assert sizes.max() - sizes.min() <= 1


def test_folds_depend_on_the_patients_and_the_salt_not_the_row_order():
    frame = task()
    folds = assign_folds(frame, k=5)
    pd.testing.assert_series_equal(assign_folds(frame.sample(frac=1, random_state=3), k=5), folds)
    assert not assign_folds(frame, k=5, salt="other").equals(folds)


def test_too_few_folds_or_patients_is_named():
    with pytest.raises(DataError, match=f"at least {MIN_FOLDS}"):
        assign_folds(task(), k=2)
    with pytest.raises(DataError, match="2 patient\\(s\\) with label 1, fewer than the 5 folds"):
        assign_folds(task(n_pos=2), k=5)
    with pytest.raises(DataError, match="lacks column"):
        assign_folds(task().drop(columns="label"))


@pytest.mark.parametrize("k", [3, 5])
def test_the_four_roles_share_no_patient_and_every_patient_is_tested_once(k):
    frame = task()
    folds = assign_folds(frame, k=k)
    tested = []
    for fold in range(k):
        roles = with_roles(frame, folds, fold)
        assert set(roles["role"]) == set(ROLES)
        assert check_roles_disjoint(roles) == 0
        test = set(roles.loc[roles["role"] == "test", "patient_id"])
        calibration = set(roles.loc[roles["role"] == "calibration", "patient_id"])
        assert test == set(folds.index[folds == fold]) and calibration == set(folds.index[folds == (fold + 1) % k])
        tested += sorted(test)
    assert sorted(tested) == sorted(folds.index)  # pooled out-of-fold: each patient once


def test_selection_is_the_same_patients_wherever_they_train():
    folds = assign_folds(task(n_pos=60, n_neg=140), k=5)
    chosen = [set(r.index[r == "selection"]) for r in (fold_roles(folds, f) for f in range(5))]
    everyone = set().union(*chosen)
    for fold, picked in enumerate(chosen):
        training = set(folds.index[~folds.isin([fold, (fold + 1) % 5])])
        assert picked == everyone & training
    assert 0.05 < len(everyone) / len(folds) < 0.3  # about the 15% share


def test_bad_roles_are_named():
    folds = assign_folds(task(), k=3)
    with pytest.raises(DataError, match="fold 3 is not one of the 3 folds"):
        fold_roles(folds, 3)
    with pytest.raises(DataError, match="selection_share"):
        fold_roles(folds, 0, selection_share=1.0)
    with pytest.raises(DataError, match="no fold"):
        with_roles(pd.DataFrame({"patient_id": ["stranger"]}), folds, 0)
    with pytest.raises(DataError, match="several roles"):
        check_roles_disjoint(pd.DataFrame({"patient_id": ["a", "a"], "role": ["test", "training"]}))


def test_the_fold_column_folds_the_task_splits_only():
    frame = task().assign(split="train")
    frame.loc[frame["patient_id"] == "p0000", "split"] = "localisation"
    frame.loc[frame["patient_id"] == "p0050", "split"] = "test"
    column = fold_column(frame, k=3)
    assert (column[frame["split"] == "localisation"] == NO_FOLD).all()
    assert column[frame["split"] != "localisation"].between(0, 2).all()
    official = fold_column(frame, k=3, splits_folded=("train", "val"))  # the official test list: no fold
    assert (official[frame["split"] == "test"] == NO_FOLD).all()
    summary = fold_summary(frame.assign(fold=column))
    kept = frame[frame["split"] != "localisation"]
    assert summary["patients"].sum() == kept["patient_id"].nunique() and summary["images"].sum() == len(kept)
    assert summary["positive patients"].sum() == 22 and summary.index.tolist() == [0, 1, 2]


def test_under_hash_or_official_splits_the_contrast_task_keeps_the_main_tasks_folds():
    from tmvlib.data.folds import chapter_fold_column

    main = task().assign(split="train")
    main.loc[main["patient_id"] == "p0050", "split"] = "test"
    main["fold"] = chapter_fold_column(main, "official", 3)
    extra = pd.DataFrame({"image_id": [f"x{i}" for i in range(6)], "patient_id": [f"q{i}" for i in range(6)],
                          "label": 0, "split": "train"})
    contrast = pd.concat([main.drop(columns="fold"), extra], ignore_index=True)
    column = chapter_fold_column(contrast, "official", 3, known_folds=patient_folds(main))
    shared = contrast["patient_id"].isin(main["patient_id"])
    assert (column[shared].to_numpy() == main["fold"].to_numpy()).all()
    assert (column[contrast["split"] == "test"] == NO_FOLD).all()
    assert sorted(column[~shared]) == [0, 0, 1, 1, 2, 2]
    assert chapter_fold_column(main, "folds", 3, known_folds=patient_folds(main)).equals(main["fold"])


def test_patients_per_fold_in_words():
    assert patients_per_fold_text(pd.DataFrame({"patients": [264, 264, 264]})) == "264 patients each"
    assert patients_per_fold_text(pd.DataFrame({"patients": [263, 264]})) == "263 to 264 patients each"


def test_patient_folds_reads_chapter_01s_column_and_refuses_a_patient_in_two_folds():
    frame = task()
    splits = frame.assign(split="train")
    splits["fold"] = fold_column(splits, 4)
    splits.loc[splits.index[-1], ["split", "fold"]] = ["localisation", NO_FOLD]
    folds = patient_folds(splits)
    assert set(folds) == set(range(4)) and folds.index.is_monotonic_increasing
    with pytest.raises(DataError, match="no 'fold' column"):
        patient_folds(frame)
    twice = splits.copy()
    first = twice.groupby("patient_id").filter(lambda g: len(g) > 1).index[0]
    twice.loc[first, "fold"] = (twice.loc[first, "fold"] + 1) % 4
    with pytest.raises(DataError, match="images in two folds"):
        patient_folds(twice)


def test_role_sets_are_disjoint_cover_the_patients_and_are_capped_by_whole_patients():
    frame = task(n_pos=40, n_neg=120)
    folds = assign_folds(frame, k=4)
    for fold in range(4):
        sets = role_sets(frame, folds, fold)
        assert list(sets) == list(ROLES)
        patients = [set(rows["patient_id"]) for rows in sets.values()]
        assert sum(map(len, patients)) == len(set().union(*patients)) == frame["patient_id"].nunique()
        assert set(sets["test"]["patient_id"]) == set(folds.index[folds == fold])
        assert set(sets["calibration"]["patient_id"]) == set(folds.index[folds == (fold + 1) % 4])
        capped = role_sets(frame, folds, fold, max_images=30)
        for role, rows in capped.items():
            assert len(rows) <= 30 and set(rows["patient_id"]) <= set(sets[role]["patient_id"])
            kept = frame[frame["patient_id"].isin(rows["patient_id"])]
            assert len(kept) == len(rows)  # whole patients


def test_a_role_with_one_class_is_named():
    frame = task(n_pos=4, n_neg=60)
    folds = assign_folds(frame, k=4)
    with pytest.raises(DataError, match="selection role of fold 0's model holds"):
        role_sets(frame, folds, 0, selection_share=0.02)


def test_the_deployed_split_is_the_deployed_fold_models_roles_with_selection_inside_train():
    from tmvlib.data.folds import DEPLOYED_FOLD, deployed_split, fold_roles, split_selection

    frame = task(60, 200)
    folds = assign_folds(frame, 5)
    split = deployed_split(folds)
    roles = fold_roles(folds, DEPLOYED_FOLD, 0.15)
    assert (split[roles == "test"] == "test").all() and (split[roles == "calibration"] == "val").all()
    assert (split[roles.isin(["training", "selection"])] == "train").all()
    train = frame[frame["patient_id"].map(split) == "train"]
    training, selection = split_selection(train, 0.15)
    assert set(selection["patient_id"]) == set(roles.index[roles == "selection"])
    assert set(training["patient_id"]) == set(roles.index[roles == "training"])


def test_extended_folds_keep_the_known_patients_fold_and_deal_the_others():
    from tmvlib.data.folds import extend_folds

    main = task()
    known = assign_folds(main, 3)
    extra = pd.DataFrame({"patient_id": [f"q{i}" for i in range(12)], "label": 0})  # negatives only: no class check
    folds = extend_folds(pd.concat([main, extra]), known, 3)
    assert (folds[known.index] == known).all()
    assert folds[extra["patient_id"]].value_counts().to_dict() == {0: 4, 1: 4, 2: 4}


def test_a_selection_share_that_empties_a_part_is_named():
    from tmvlib.data.folds import split_selection

    with pytest.raises(DataError, match="selection_share"):
        split_selection(task(), 1.5)


def test_the_single_splits_training_sets_are_the_deployed_fold_models_roles():
    from tmvlib.data.folds import fold_splits
    from tmvlib.data.folds import DEPLOYED_FOLD, all_role_sets, training_roles

    frame = task(40, 120).assign(split="train", box_findings="")
    splits = fold_splits(frame, 3)
    fold0 = all_role_sets(splits, 0.15, max_images=60)[DEPLOYED_FOLD]
    single = training_roles(splits[splits["split"] == "train"], 0.15, max_images=60)
    for role in ("training", "selection"):
        assert single[role]["image_id"].tolist() == fold0[role]["image_id"].tolist(), role
    uncapped = all_role_sets(splits, 0.15)[DEPLOYED_FOLD]
    for split, role in (("val", "calibration"), ("test", "test")):
        assert splits.loc[splits["split"] == split, "image_id"].tolist() == uncapped[role]["image_id"].tolist()


def test_without_cross_fitting_the_only_model_is_the_deployed_one_on_the_splits_own_roles():
    from tmvlib.data.folds import (DEPLOYED_FOLD, all_role_sets, chapter_fold_column, modelled_folds,
                                   split_selection)
    from tmvlib.data.splits import assign_splits

    splits = assign_splits(task().assign(box_findings=""), fractions={"train": 0.6, "val": 0.2, "test": 0.2}, salt="s",
                           localisation_set=False)
    splits["fold"] = chapter_fold_column(splits, "hash", 5, cross_fit=False)
    assert splits.groupby("split")["fold"].unique().map(list).to_dict() == {"test": [0], "train": [2], "val": [1]}
    assert modelled_folds({"cross_fit": False}) == (DEPLOYED_FOLD,) and modelled_folds({}) is None
    sets = all_role_sets(splits, 0.2, models=modelled_folds({"cross_fit": False}))
    assert list(sets) == [0]
    training, selection = split_selection(splits[splits["split"] == "train"], 0.2)
    for role, expected in (("test", splits[splits["split"] == "test"]), ("calibration", splits[splits["split"] == "val"]),
                           ("training", training), ("selection", selection)):
        assert sets[0][role]["image_id"].tolist() == expected["image_id"].tolist()
    with pytest.raises(DataError, match="cross_fit false needs split_source"):
        chapter_fold_column(splits, "folds", 5, cross_fit=False)

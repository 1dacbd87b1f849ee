import pandas as pd
import pytest

from tmvlib.data import DataError
from tmvlib.data.contrast import contrast_rule, contrast_task, negative_kind


def frame(rows):
    return pd.DataFrame(rows, columns=["image_id", "patient_id", "split", "label", "findings"])


MAIN = frame([("a", "p1", "train", 1, "Pneumonia"), ("b", "p2", "test", 0, "No Finding"),
              ("c", "p3", "test", 1, "Pneumonia|Effusion"), ("d", "p4", "val", 0, "No Finding")])
# the "all" task adds other-finding images; shared patients keep their split
ALL = pd.concat([MAIN, frame([("e", "p2", "test", 0, "Effusion"), ("f", "p5", "test", 0, "Mass"),
                              ("g", "p6", "train", 0, "Atelectasis")])], ignore_index=True)


def test_the_contrast_is_the_other_rule():
    assert contrast_rule("no_finding") == "all" and contrast_rule("all") == "no_finding"
    with pytest.raises(ValueError, match="negatives must be one of"):
        contrast_rule("most")


def test_negative_kinds():
    assert negative_kind(ALL).tolist() == ["positive", "No Finding", "positive", "No Finding",
                                           "other finding", "other finding", "other finding"]


@pytest.mark.parametrize("main, contrast, rule", [(MAIN, ALL, "all"), (ALL, MAIN, "no_finding")])
def test_evaluation_is_the_test_split_of_the_all_task_whichever_is_main(main, contrast, rule):
    task = contrast_task(main, contrast, rule)
    assert task.negatives == rule
    assert sorted(task.evaluation["image_id"]) == ["b", "c", "e", "f"]
    assert task.evaluation.set_index("image_id")["negative"].to_dict() == {
        "b": "No Finding", "c": "positive", "e": "other finding", "f": "other finding"}


def test_an_evaluation_patient_who_trained_a_model_stops_with_its_id():
    leaky = ALL.copy()
    leaky.loc[leaky["image_id"] == "f", "patient_id"] = "p6"  # p6 trains the contrast model
    with pytest.raises(DataError, match=r"p6"):
        contrast_task(MAIN, leaky, "all")


def test_fold_splits_keep_the_main_tasks_folds_for_the_contrast_task():
    import numpy as np

    from tmvlib.data.folds import fold_splits
    from tmvlib.data.folds import NO_FOLD, patient_folds

    rng = np.random.default_rng(0)
    n = 90
    main = pd.DataFrame({"image_id": [f"m{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)],
                         "label": (np.arange(n) % 3 == 0).astype(int), "findings": "No Finding",
                         "split": np.where(rng.random(n) < 0.1, "localisation", "train")})
    extra = pd.DataFrame({"image_id": [f"x{i}" for i in range(30)], "patient_id": [f"p{i}" for i in range(60, 90)],
                          "label": 0, "findings": "Effusion", "split": "train"})
    others = pd.DataFrame({"image_id": [f"o{i}" for i in range(9)], "patient_id": [f"q{i}" for i in range(9)],
                           "label": 0, "findings": "Mass", "split": "train"})
    main_splits = fold_splits(main, 3)
    assert (main_splits.loc[main["split"] == "localisation", "fold"] == NO_FOLD).all()
    assert set(main_splits["split"]) == {"train", "val", "test", "localisation"}
    contrast = pd.concat([main, extra, others], ignore_index=True)
    contrast.loc[contrast["patient_id"].isin(main.loc[main["split"] == "localisation", "patient_id"]), "split"] = \
        "localisation"
    contrast_splits = fold_splits(contrast, 3, known_folds=patient_folds(main_splits))
    shared = contrast_splits.drop_duplicates("patient_id").set_index("patient_id")["split"]
    assert (shared[main_splits["patient_id"]].to_numpy() == main_splits["split"].to_numpy()).all()
    assert contrast_splits[contrast_splits["patient_id"].str.startswith("q")]["fold"].value_counts().to_dict() == {
        0: 3, 1: 3, 2: 3}
    contrast_task(main_splits, contrast_splits, "all")  # no evaluation patient trained either model


def folded(frame_, k=3):
    """fold -> role -> rows, roles by the fold of each patient (test f, calibration f+1, training the rest)."""
    from tmvlib.data.folds import with_roles

    folds = frame_.drop_duplicates("patient_id").set_index("patient_id")["fold"]
    sets = {}
    for f in range(k):
        rows = with_roles(frame_, folds, f, selection_share=0.3)
        sets[f] = {role: rows[rows["role"] == role] for role in ("training", "selection", "calibration", "test")}
    return sets


def test_each_folds_evaluation_is_the_all_tasks_test_fold_with_its_negative_kinds():
    from tmvlib.data.contrast import fold_evaluation_sets

    n = 36
    main = pd.DataFrame({"image_id": [f"m{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)],
                         "label": [i % 2 for i in range(n)], "findings": "No Finding",
                         "fold": [i % 3 for i in range(n)]})
    main.loc[main["label"] == 1, "findings"] = "Pneumonia"
    extra = pd.DataFrame({"image_id": [f"x{i}" for i in range(9)], "patient_id": [f"q{i}" for i in range(9)],
                          "label": 0, "findings": "Mass", "fold": [i % 3 for i in range(9)]})
    everything = pd.concat([main, extra], ignore_index=True)
    evaluation = fold_evaluation_sets(folded(main), folded(everything), "all")
    assert sorted(evaluation) == [0, 1, 2]
    for f, rows in evaluation.items():
        assert (rows["fold"] == f).all() and len(rows) == 15
        assert rows["negative"].value_counts().to_dict() == {"positive": 6, "No Finding": 6, "other finding": 3}
    assert set(fold_evaluation_sets(folded(everything), folded(main), "no_finding")[0]["image_id"]) == \
        set(evaluation[0]["image_id"])


def test_a_fold_evaluation_patient_who_fitted_either_model_of_its_fold_stops_with_its_id():
    from tmvlib.data.contrast import fold_evaluation_sets

    main = pd.DataFrame({"image_id": [f"m{i}" for i in range(12)], "patient_id": [f"p{i}" for i in range(12)],
                         "label": [i % 2 for i in range(12)], "findings": "No Finding", "fold": [i % 3 for i in range(12)]})
    main_sets, contrast_sets = folded(main), folded(main)
    leak = contrast_sets[0]["test"].iloc[:1]
    contrast_sets[0]["training"] = pd.concat([contrast_sets[0]["training"], leak])
    with pytest.raises(DataError, match=leak["patient_id"].iloc[0]):
        fold_evaluation_sets(main_sets, contrast_sets, "all")
    with pytest.raises(DataError, match="folds differ"):
        fold_evaluation_sets(main_sets, {0: contrast_sets[0]}, "all")

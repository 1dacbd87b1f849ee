import numpy as np
import pandas as pd
import pytest

from tmvlib.data import (DataError, assign_splits, check_no_leakage, check_split_classes,
                         split_hash, split_summary)


def synthetic_task(n_patients: int = 4000, prevalence: float = 0.2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n_patients):
        label = int(rng.random() < prevalence)
        for visit in range(1 + rng.integers(0, 3)):
            rows.append({"image_id": f"{pid:06d}_{visit:03d}", "patient_id": str(pid),
                         "label": label, "box_findings": ""})
    return pd.DataFrame(rows)


def test_same_input_same_split_and_order_does_not_matter():
    task = synthetic_task(500)
    first = assign_splits(task)
    again = assign_splits(task.sample(frac=1.0, random_state=3))
    assert split_hash(first) == split_hash(again)
    assert split_hash(first) != split_hash(assign_splits(task, salt="another"))


def test_adding_a_patient_moves_no_existing_patient():
    task = synthetic_task(500)
    before = assign_splits(task).set_index("image_id")["split"]
    extra = pd.DataFrame([{"image_id": "new_000", "patient_id": "new", "label": 1, "box_findings": ""}])
    after = assign_splits(pd.concat([task, extra])).set_index("image_id")["split"]
    assert after.drop("new_000").equals(before.loc[after.drop("new_000").index])


def test_fractions_and_prevalence_are_kept_per_split():
    task = synthetic_task(4000, prevalence=0.2)
    splits = assign_splits(task, fractions={"train": 0.6, "val": 0.2, "test": 0.2})
    patients = splits.drop_duplicates("patient_id")
    share = patients["split"].value_counts(normalize=True)
    assert share["train"] == pytest.approx(0.6, abs=0.03)
    assert share["val"] == pytest.approx(0.2, abs=0.03)
    prevalence = patients.groupby("split")["label"].mean()
    assert (prevalence - 0.2).abs().max() < 0.035  # label-independent hash: stratified in expectation


def test_zero_leakage_and_all_images_of_a_patient_together():
    splits = assign_splits(synthetic_task(300))
    assert check_no_leakage(splits) == 0
    assert splits.groupby("patient_id")["split"].nunique().max() == 1


def test_leakage_is_detected_and_named():
    frame = pd.DataFrame({"patient_id": ["7", "7", "8"], "split": ["train", "test", "val"]})
    with pytest.raises(DataError, match=r"patient leakage: 1 patient.*\['7'\]"):
        check_no_leakage(frame)


def test_patients_with_boxes_form_the_localisation_set_with_all_their_images():
    task = synthetic_task(300)
    boxed = task["patient_id"].isin(["1", "2", "3"]) & task["image_id"].str.endswith("_000")
    task.loc[boxed, "box_findings"] = "Pneumonia"
    splits = assign_splits(task, localisation_set=True)
    assert set(splits.loc[splits["patient_id"].isin(["1", "2", "3"]), "split"]) == {"localisation"}
    assert splits["patient_has_box"].sum() == (splits["patient_id"].isin(["1", "2", "3"])).sum()
    # the others keep the split their hash gives them: train/val/test is a plain random split
    unboxed = assign_splits(task, localisation_set=False)
    others = ~unboxed["patient_id"].isin(["1", "2", "3"])
    assert unboxed.loc[others, "split"].equals(splits.loc[others, "split"])
    assert "localisation" not in set(unboxed["split"])
    summary = split_summary(splits)
    assert summary.index.tolist()[-1] == "localisation" and summary.loc["localisation", "patients"] == 3


def test_a_split_with_one_class_is_refused_by_name():
    frame = pd.DataFrame({"split": ["train", "train", "val", "val", "test"],
                          "label": [0, 1, 0, 1, 1]})
    with pytest.raises(DataError, match=r"split 'test' has classes \[1\]"):
        check_split_classes(frame)


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="summing to 1"):
        assign_splits(synthetic_task(10), fractions={"train": 0.5, "val": 0.2, "test": 0.2})


def test_summary_counts():
    splits = assign_splits(synthetic_task(200))
    summary = split_summary(splits)
    assert summary["images"].sum() == len(splits)
    assert summary["patients"].sum() == splits["patient_id"].nunique()
    assert list(summary.index) == ["train", "val", "test"]


def test_subsample_keeps_whole_patients_both_classes_and_is_deterministic():
    from tmvlib.data.splits import subsample_patients

    task = synthetic_task(300)
    small = subsample_patients(task, 40)
    assert len(small) <= 40 and small["label"].nunique() == 2
    kept = set(small["patient_id"])
    assert len(task[task["patient_id"].isin(kept)]) == len(small)  # no patient cut in half
    assert small.equals(subsample_patients(task.sample(frac=1.0, random_state=0), 40).loc[small.index])
    assert subsample_patients(task, None) is task


def test_official_lists_give_the_test_split_and_cut_train_val_by_patient(tmp_path):
    from tmvlib.data.nih import read_official_split

    task = synthetic_task(400)
    patients = sorted(task["patient_id"].unique())
    test_patients = set(patients[::4])
    in_test = task["patient_id"].isin(test_patients)
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "test_list.txt").write_text("".join(f"{i}.png\n" for i in task.loc[in_test, "image_id"]))
    (meta / "train_val_list.txt").write_text("".join(f"{i}.png\n" for i in task.loc[~in_test, "image_id"]))
    official = read_official_split(tmp_path)
    out = assign_splits(task, {"train": 0.7, "val": 0.15, "test": 0.15}, official=official)
    assert set(out.loc[out["split"] == "test", "patient_id"]) == test_patients
    train_val = out[~in_test]
    assert set(train_val["split"]) == {"train", "val"}
    share = train_val.groupby("patient_id")["split"].first().eq("val").mean()
    assert 0.1 < share < 0.26  # 0.15 / 0.85 of the train/val patients, in expectation
    with pytest.raises(DataError, match="neither train_val_list.txt nor test_list.txt"):
        assign_splits(task, official=official.iloc[1:])
    both = official.copy()
    multi = task[~in_test & task["patient_id"].duplicated(keep=False)]
    both[multi["image_id"].iloc[0]] = "test"  # one image of a train/val patient with several
    with pytest.raises(DataError, match="patients in both official lists"):
        assign_splits(task, official=both)
    (meta / "test_list.txt").write_text((meta / "test_list.txt").read_text() + f"{task['image_id'].iloc[0]}.png\n")
    with pytest.raises(DataError, match="listed twice"):
        read_official_split(tmp_path)

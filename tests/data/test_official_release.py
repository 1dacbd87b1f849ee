"""The full profile's data steps on a synthetic miniature of the official NIH release: PNGs in
``images/``, ``Data_Entry_2017_v2020.csv``, ``BBox_List_2017.csv`` and the release's
``train_val_list.txt`` / ``test_list.txt`` (one ``Image Index`` per line) -> ``make data`` ->
chapter 01's split with the full profile's params."""
import numpy as np
import pytest
from PIL import Image

from tmvlib.config import load_params
from tmvlib.data import DataError, check_no_leakage, read_nih, split_summary
from tmvlib.data.contrast import task_splits
from tmvlib.data.nih import read_official_split
from tmvlib.data.prepare import prepare_nih

ENTRY_HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,"
                "View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]")
TASK_KEYS = ("positive", "negatives", "views", "min_source_width", "split_fractions", "split_salt",
             "localisation_set", "on_bad_image")


def official_miniature(folder, n_patients=24):
    """Patients 1..n, two images each (1024-px PNGs, as released); every third patient in the test
    list; patient 9 (a positive test patient) has a Pneumonia box."""
    (folder / "images").mkdir(parents=True)
    ramp = np.tile(np.linspace(20, 230, 1024).astype(np.uint8), (1024, 1))
    entries, lists = [], {"train_val": [], "test": []}
    for patient in range(1, n_patients + 1):
        for visit in range(2):
            name = f"{patient:08d}_{visit:03d}.png"
            Image.fromarray(np.roll(ramp, 37 * patient + visit, axis=1)).save(folder / "images" / name)
            label = "Pneumonia" if patient % 4 in (1, 2) else "No Finding"
            entries.append(f"{name},{label},{visit},{patient},{40 + patient},{'MF'[patient % 2]},PA,"
                           "2500,2048,0.143,0.143")
            lists["test" if patient % 3 == 0 else "train_val"].append(name)
    (folder / "Data_Entry_2017_v2020.csv").write_text("\n".join([ENTRY_HEADER, *entries]) + "\n")
    (folder / "BBox_List_2017.csv").write_text("Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
                                              "00000009_000.png,Pneumonia,100,120,300,280\n")
    (folder / "train_val_list.txt").write_text("\n".join(lists["train_val"]) + "\n")
    (folder / "test_list.txt").write_text("\n".join(lists["test"]) + "\n")
    return lists


def test_full_profile_splits_follow_the_official_lists(tmp_path):
    lists = official_miniature(tmp_path / "release")
    prepare_nih(tmp_path / "release", tmp_path / "data", progress=False)
    root = tmp_path / "data" / "nih14"
    assert (root / "meta" / "test_list.txt").read_text() == (tmp_path / "release" / "test_list.txt").read_text()
    params = load_params("01_data", "full")
    assert params["split_source"] == "official"
    official = read_official_split(root)
    splits, _ = task_splits(read_nih(root), **{k: params[k] for k in TASK_KEYS}, official=official)
    check_no_leakage(splits)
    by_split = splits.groupby("split")["image_id"].apply(set)
    listed_test = {n[:-4] for n in lists["test"]}
    # the test list minus the boxed patient's images (the localisation set, chapter 01)
    assert by_split["test"] == listed_test - {"00000009_000", "00000009_001"}
    assert by_split["localisation"] == {"00000009_000", "00000009_001"}
    assert by_split["train"] | by_split["val"] == {n[:-4] for n in lists["train_val"]}
    assert split_summary(splits)["images"].sum() == 48  # every image in exactly one split
    # the boxed patient left the test split, not the test list: chapter 02's official-list AUROC
    on_test_list = set(splits.loc[splits["official_list"] == "test", "image_id"])
    assert on_test_list == listed_test == by_split["test"] | by_split["localisation"]
    # no fold models: the deployed model's roles are the split's, its test fold the official test list
    from tmvlib.data.folds import DEPLOYED_FOLD, chapter_fold_column, modelled_folds

    assert params["cross_fit"] is False and modelled_folds(params) == (DEPLOYED_FOLD,)
    fold = chapter_fold_column(splits, params["split_source"], params["folds"], params["fold_salt"], cross_fit=False)
    assert set(splits.loc[fold == DEPLOYED_FOLD, "image_id"]) == by_split["test"]


def test_an_image_missing_from_the_lists_is_named(tmp_path):
    official_miniature(tmp_path / "release")
    text = (tmp_path / "release" / "test_list.txt").read_text().splitlines()
    (tmp_path / "release" / "test_list.txt").write_text("\n".join(text[1:]) + "\n")
    prepare_nih(tmp_path / "release", tmp_path / "data", progress=False)
    root = tmp_path / "data" / "nih14"
    params = load_params("01_data", "full")
    with pytest.raises(DataError, match=f"neither train_val_list.txt nor test_list.txt, e.g. \\['{text[0][:-4]}'\\]"):
        task_splits(read_nih(root), **{k: params[k] for k in TASK_KEYS}, official=read_official_split(root))


def test_chapter_01_says_how_splits_were_drawn():
    from tmvlib.data.dataset_card import prevalence_agreement_text, split_rule_text

    assert split_rule_text("hash").startswith("A patient's split is decided by a salted sha256")
    assert "test_list.txt" in split_rule_text("official") and "salted sha256" in split_rule_text("official")
    assert "not drawn by the hash" in prevalence_agreement_text("official")
    assert "deployed model" in split_rule_text("folds") and "stratified" in prevalence_agreement_text("folds")
    from tmvlib.data.dataset_card import fold_design_text
    assert "`cross_fit: false`" in fold_design_text(False) and "every result both" in fold_design_text(True)
    with pytest.raises(ValueError, match="split_source"):
        split_rule_text("random")

import pandas as pd
import pytest

from tmvlib.data import DataError, RECORD_COLUMNS, read_kermany
from tmvlib.data.kermany import kermany_patient_id

from tmv_testing import write_image


@pytest.mark.parametrize("name, patient", [
    ("person1_bacteria_1.jpg", "person1"), ("person258_virus_1207.jpeg", "person258"),
    ("IM-0115-0001.jpg", "IM-0115"), ("IM-0011-0001-0001.jpg", "IM-0011"),
    ("NORMAL2-IM-1427-0001.jpeg", "NORMAL2-IM-1427"),
])
def test_patient_ids_from_file_names(name, patient):
    assert kermany_patient_id(name) == patient


def test_unparseable_name_is_refused():
    with pytest.raises(DataError, match="scan_17.jpg"):
        kermany_patient_id("scan_17.jpg")


def make_kermany(root, labels):
    (root / "images").mkdir(parents=True)
    rows = []
    for n, (name, label) in enumerate(labels):
        write_image(root / "images" / name, seed=n)
        rows.append({"filename": name, "label": label, "source_repo": "t",
                     "source_processing": "resized to 224x224 by the source", "original_width": 224})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root


def test_records(tmp_path):
    root = make_kermany(tmp_path / "k", [("person1_bacteria_1.jpg", "PNEUMONIA"), ("IM-0001-0001.jpg", "NORMAL")])
    records = read_kermany(root)
    assert tuple(records.columns) == RECORD_COLUMNS
    assert records["findings"].tolist() == ["Pneumonia", "No Finding"]
    assert records["quality"].tolist() == ["squeezed", "squeezed"]


def test_unknown_label_is_named(tmp_path):
    root = make_kermany(tmp_path / "k", [("person1_bacteria_1.jpg", "COVID")])
    with pytest.raises(DataError, match=r"unknown label\(s\) \['COVID'\] at rows \[2\]"):
        read_kermany(root)


def test_raw_folder_layout_uses_the_parent_folder_as_label(tmp_path):
    for sub, name in (("NORMAL", "IM-0001-0001.jpeg"), ("PNEUMONIA", "person3_virus_9.jpeg")):
        (tmp_path / "chest_xray" / "test" / sub).mkdir(parents=True)
        write_image(tmp_path / "chest_xray" / "test" / sub / name)
    records = read_kermany(tmp_path / "chest_xray")
    assert dict(zip(records["patient_id"], records["findings"])) == {
        "IM-0001": "No Finding", "person3": "Pneumonia"}


def test_shared_copy_matches_the_documented_counts(shared_data):
    records = read_kermany(shared_data / "kermany")
    assert len(records) == 3888 and records["patient_id"].nunique() == 2165
    manifest = pd.read_csv(shared_data / "kermany" / "manifest.csv")
    assert (records["patient_id"].values == manifest["patient_id"].values).all()

import pandas as pd
import pytest

from tmvlib.data import DataError, RECORD_COLUMNS, read_nih, read_nih_boxes
from tmvlib.data.nih import read_nih_entries

from tmv_testing import ENTRY_HEADER, make_nih


def test_records_follow_the_schema(nih_root):
    records = read_nih(nih_root)
    assert tuple(records.columns) == RECORD_COLUMNS
    assert len(records) == 7
    row = records.set_index("image_id").loc["00000001_001"]
    assert (row.patient_id, row.findings, row.view, row.sex, row.age) == ("1", "Pneumonia|Effusion", "AP", "M", 41)
    assert records.set_index("image_id").loc["00000005_000", "quality"] == "downsampled"
    assert records.set_index("image_id").loc["00000006_000", "box_findings"] == "Pneumonia"
    assert records.set_index("image_id").loc["00000002_000", "expert_set"] == "test"
    assert all(pd.io.common.file_exists(p) for p in records["path"])


def test_boxes_are_rescaled_to_the_prepared_frame(nih_root):
    boxes = read_nih_boxes(nih_root, image_size=256)
    assert boxes.iloc[0][["x", "y", "w", "h"]].tolist() == [25.0, 50.0, 75.0, 100.0]


def test_box_list_spelling_infiltrate_is_mapped(tmp_path):
    root = make_nih(tmp_path / "n", [("00000001_000.png", "Infiltration", "1", 1, "M", "PA")],
                    boxes=[("00000001_000.png", "Infiltrate")])
    assert read_nih(root)["box_findings"].tolist() == ["Infiltration"]


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "Data_Entry_2017.csv"
    path.write_text("Image Index,Finding Labels,Patient ID\nx.png,No Finding,1\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['Patient Age', 'Patient Gender', 'View Position'\]"):
        read_nih_entries(path)


def test_unknown_label_names_the_row(tmp_path):
    path = tmp_path / "Data_Entry_2017.csv"
    path.write_text(ENTRY_HEADER + "\na.png,No Finding,0,1,1,M,PA,1,1,1,1\n"
                    "b.png,Pneumonia|Covid,0,2,1,M,PA,1,1,1,1\n")
    with pytest.raises(DataError, match=r"row 3: \['Covid'\]"):
        read_nih_entries(path)


def test_duplicate_image_ids_are_refused_with_rows(tmp_path):
    path = tmp_path / "Data_Entry_2017.csv"
    path.write_text(ENTRY_HEADER + "\na.png,No Finding,0,1,1,M,PA,1,1,1,1\n"
                    "a.png,No Finding,0,1,1,M,PA,1,1,1,1\n")
    with pytest.raises(DataError, match=r"duplicate Image Index \['a.png'\] at CSV rows \[2, 3\]"):
        read_nih_entries(path)


def test_image_without_a_label_row_is_refused(nih_root):
    manifest = pd.read_csv(nih_root / "manifest.csv")
    extra = manifest.iloc[[0]].assign(filename="99999999_000.jpg")
    pd.concat([manifest, extra]).to_csv(nih_root / "manifest.csv", index=False)
    with pytest.raises(DataError, match="99999999_000.jpg"):
        read_nih(nih_root)


def test_official_layout_without_manifest(tmp_path):
    root = make_nih(tmp_path / "n", [("00000001_000.png", "No Finding", "1", 1, "M", "PA")],
                    gzip_meta=False)
    (root / "manifest.csv").unlink()
    records = read_nih(root)
    assert records["quality"].tolist() == ["full"]  # width from Data_Entry's OriginalImage column
    assert records["source_width"].tolist() == [2048]


def test_reads_the_shared_copy_when_present(shared_data):
    records = read_nih(shared_data / "nih14")
    assert len(records) == 2681 and records["patient_id"].nunique() == 1605

"""prepare_nih / prepare_chexpert on tiny fake downloads built by the tests (see conftest.py)."""
from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tmvlib.data.errors import DataError, ImageLoadError
from tmvlib.fingerprint import sha256_file as manifest_hash
from tmvlib.data.prepare import (
    CHEXPERT_LABELS,
    PrepareReport,
    prepare_chexpert,
    prepare_nih,
    preprocess_to_square,
)

# The format contract: the columns of ../shared/data/nih14/manifest.csv, in order.
EXPECTED_NIH_COLUMNS = [
    "filename", "original_width", "original_height", "source_repo", "source_commit", "source_path",
    "sha256", "Finding Labels", "Patient ID", "Patient Age", "Patient Gender", "View Position",
    "bbox_findings", "google2019_set", "source_processing",
]


def read_manifest(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# --- preprocess_to_square ---------------------------------------------------------------------

@pytest.mark.parametrize("side, resample", [(1024, Image.Resampling.LANCZOS), (300, Image.Resampling.LANCZOS),
                                            (100, Image.Resampling.BICUBIC)])
def test_square_uses_lanczos_to_shrink_and_bicubic_to_enlarge(side, resample):
    gray = np.random.default_rng(side).integers(0, 256, (side, side), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(gray).resize((256, 256), resample))
    out = preprocess_to_square(gray)
    assert out.dtype == np.uint8 and out.shape == (256, 256)
    np.testing.assert_array_equal(out, expected)


def test_square_at_target_size_is_unchanged():
    gray = np.random.default_rng(1).integers(0, 256, (256, 256), dtype=np.uint8)
    np.testing.assert_array_equal(preprocess_to_square(gray), gray)


@pytest.mark.parametrize("shape", [(256, 512), (512, 256), (256, 301)])
def test_non_square_is_centre_cropped(shape):
    height, width = shape
    gray = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    top, left = (height - 256) // 2, (width - 256) // 2
    np.testing.assert_array_equal(preprocess_to_square(gray), gray[top:top + 256, left:left + 256])


def test_non_square_shorter_side_scaled_then_cropped():
    gray = np.full((300, 600), 128, np.uint8)
    gray[:, :150], gray[:, 450:] = 0, 255
    out = preprocess_to_square(gray)
    assert out.shape == (256, 256)
    expected = np.asarray(Image.fromarray(gray).resize((512, 256), Image.Resampling.LANCZOS))[:, 128:384]
    np.testing.assert_array_equal(out, expected)
    assert np.abs(out[:, 8:-8].astype(int) - 128).max() <= 2  # strips cut away, only ringing at edges


def test_preprocess_rejects_non_gray_uint8():
    with pytest.raises(ValueError):
        preprocess_to_square(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError):
        preprocess_to_square(np.zeros((10, 10), np.uint16))


# --- prepare_nih --------------------------------------------------------------------------------

def check_nih_output(fake, out, report, source_paths):
    manifest = read_manifest(out / "nih14" / "manifest.csv")
    assert list(manifest.columns) == EXPECTED_NIH_COLUMNS
    images = fake.images()
    assert sorted(manifest["filename"]) == sorted(f"{s}.jpg" for s in images)
    assert report.written == len(images) and report.skipped_existing == 0 and report.excluded == []
    for row in manifest.to_dict("records"):
        stem = row["filename"][:-4]
        path = out / "nih14" / "images" / row["filename"]
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.mode == "L" and image.size == (256, 256)
            assert "progressive" not in image.info and "progression" not in image.info  # baseline
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
        width, height = images[stem][1]
        assert (row["original_width"], row["original_height"]) == (str(width), str(height))
        labels, patient, age, sex, view = fake.entries[stem]
        assert [row[c] for c in EXPECTED_NIH_COLUMNS[7:12]] == [labels, patient, age, sex, view]
        assert row["bbox_findings"] == "|".join(sorted({f for s, f in fake.bboxes if s == stem}))
        assert row["google2019_set"] == fake.google.get(stem, "")
        assert row["source_repo"] == "NIH Clinical Center" and row["source_commit"] == ""
        assert row["source_path"] == source_paths[stem]
        assert row["source_processing"] == f"NIH-distributed {width}x{height} PNG, unaltered"
    assert manifest.set_index("filename").loc["00000005_000.jpg", "bbox_findings"] == "Infiltrate|Pneumonia"
    # the wide image's black/white side strips must have been cropped away
    wide = np.asarray(Image.open(out / "nih14" / "images" / f"{fake.wide_stem}.jpg"), dtype=int)
    assert np.abs(wide[:, 8:-8] - 128).max() <= 6 and wide.min() > 60 and wide.max() < 200
    return manifest


def test_prepare_nih_from_tar_parts(fake_nih, tmp_path):
    source = fake_nih.build()
    out = tmp_path / "out"
    report = prepare_nih(source, out, progress=False)
    check_nih_output(fake_nih, out, report, {s: f"images/{s}.png" for s in fake_nih.images()})
    meta = out / "nih14" / "meta"
    assert sorted(p.name for p in meta.iterdir()) == [
        "BBox_List_2017.csv.gz", "Data_Entry_2017_v2020.csv.gz", "google2019_nih-chest-xray-labels.csv.gz"]
    assert gzip.decompress((meta / "Data_Entry_2017_v2020.csv.gz").read_bytes()) == \
        (source / "Data_Entry_2017_v2020.csv").read_bytes()


def test_prepare_nih_from_extracted_pngs_and_gz_entry(fake_nih, tmp_path):
    source = fake_nih.build(extracted=True, gz_entry=True)
    out = tmp_path / "out"
    report = prepare_nih(source, out, progress=False)
    paths = {p.stem: p.relative_to(source).as_posix() for p in (source / "images").rglob("*.png")}
    check_nih_output(fake_nih, out, report, paths)
    assert (out / "nih14" / "meta" / "Data_Entry_2017_v2020.csv.gz").read_bytes() == \
        (source / "Data_Entry_2017_v2020.csv.gz").read_bytes()


def test_corrupt_member_raises_naming_it(fake_nih, tmp_path):
    source = fake_nih.build(corrupt=True)
    with pytest.raises(ImageLoadError, match=r"images_002\.tar\.gz:images/00000009_000\.png") as info:
        prepare_nih(source, tmp_path / "out", progress=False)
    assert "00000009_000.png" in info.value.path


def test_corrupt_member_excluded_is_reported(fake_nih, tmp_path):
    source = fake_nih.build(corrupt=True)
    report = prepare_nih(source, tmp_path / "out", on_bad_image="exclude", progress=False)
    assert report.written == len(fake_nih.images())
    assert len(report.excluded) == 1 and report.excluded[0][0].endswith("images/00000009_000.png")
    frame = report.to_frame().set_index("outcome")
    assert frame.loc["excluded", "count"] == 1 and "00000009_000.png" in frame.loc["excluded", "details"]
    manifest = read_manifest(tmp_path / "out" / "nih14" / "manifest.csv")
    assert "00000009_000.jpg" not in set(manifest["filename"])
    assert not (tmp_path / "out" / "nih14" / "images" / "00000009_000.jpg").exists()


def test_image_without_data_entry_row_raises_naming_it(fake_nih, tmp_path):
    source = fake_nih.build(orphan=True)
    for mode in ("raise", "exclude"):  # a missing label row is never a "bad image" to skip
        with pytest.raises(DataError, match="00000099_000"):
            prepare_nih(source, tmp_path / "out", on_bad_image=mode, progress=False)


def test_missing_data_entry_file_raises(fake_nih, tmp_path):
    source = fake_nih.build()
    (source / "Data_Entry_2017_v2020.csv").unlink()
    with pytest.raises(DataError, match="Data_Entry"):
        prepare_nih(source, tmp_path / "out", progress=False)


def test_bad_on_bad_image_value(fake_nih, tmp_path):
    with pytest.raises(ValueError, match="on_bad_image"):
        prepare_nih(fake_nih.build(), tmp_path / "out", on_bad_image="ignore", progress=False)


def test_rerun_is_idempotent_and_redoes_damaged_images(fake_nih, tmp_path):
    source, out = fake_nih.build(), tmp_path / "out"
    prepare_nih(source, out, progress=False)
    manifest = out / "nih14" / "manifest.csv"
    first = manifest_hash(manifest)
    assert first == hashlib.sha256(manifest.read_bytes()).hexdigest()
    again = prepare_nih(source, out, progress=False)
    assert (again.written, again.skipped_existing) == (0, len(fake_nih.images()))
    assert manifest_hash(manifest) == first
    (out / "nih14" / "images" / "00000003_000.jpg").write_bytes(b"damaged")
    third = prepare_nih(source, out, progress=False)
    assert (third.written, third.skipped_existing) == (1, len(fake_nih.images()) - 1)
    assert manifest_hash(manifest) == first


def test_rows_of_earlier_parts_are_kept(fake_nih, tmp_path):
    source, out = fake_nih.build(), tmp_path / "out"
    prepare_nih(source, out, progress=False)
    full = manifest_hash(out / "nih14" / "manifest.csv")
    (source / "images_001.tar.gz").unlink()  # a later run with only part 2 present
    report = prepare_nih(source, out, progress=False)
    assert report.skipped_existing == 2 and report.written == 0
    assert manifest_hash(out / "nih14" / "manifest.csv") == full


def test_report_to_frame_counts():
    frame = PrepareReport(written=3, skipped_existing=2, excluded=[("a.png", "corrupt")]).to_frame()
    assert frame["count"].tolist() == [3, 2, 1] and frame["details"].iloc[2] == "a.png: corrupt"


# --- prepare_chexpert ---------------------------------------------------------------------------

def make_chexpert(root):
    folder = root / "CheXpert-v1.0-small"
    header = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS]
    rows = {
        "train.csv": [
            ["CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg", "Female", "68", "Frontal", "AP",
             "1.0", *[""] * 13],
            ["CheXpert-v1.0-small/train/patient00002/study2/view2_lateral.jpg", "Male", "87", "Lateral", "",
             "", "-1.0", "0.0", *[""] * 10, "1.0"],
        ],
        "valid.csv": [
            ["CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg", "Male", "73", "Frontal", "AP",
             *["0.0"] * 14],
        ],
    }
    folder.mkdir(parents=True)
    for name, lines in rows.items():
        pd.DataFrame(lines, columns=header).to_csv(folder / name, index=False)
        for line in lines:
            path = root / line[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            shape = (320, 390) if "frontal" in line[0] else (320, 320)
            Image.fromarray(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)).save(path)
    return folder


def test_prepare_chexpert(tmp_path):
    source, out = make_chexpert(tmp_path / "src"), tmp_path / "out"
    report = prepare_chexpert(source, out, progress=False)
    assert report.written == 3
    manifest = read_manifest(out / "chexpert" / "manifest.csv")
    assert list(manifest.columns)[:6] == ["filename", "original_width", "original_height", "sha256",
                                          "source_path", "source_processing"]
    assert list(manifest.columns)[6:] == ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS]
    row = manifest.set_index("filename").loc["patient00002_study2_view2_lateral.jpg"]
    assert row["Enlarged Cardiomediastinum"] == "-1.0" and row["No Finding"] == "" and row["Cardiomegaly"] == "0.0"
    assert row["source_path"] == row["Path"] and row["original_width"] == "320"
    for name in manifest["filename"]:
        with Image.open(out / "chexpert" / "images" / name) as image:
            assert image.mode == "L" and image.size == (256, 256)
    again = prepare_chexpert(source, out, progress=False)
    assert (again.written, again.skipped_existing) == (0, 3)


def test_prepare_chexpert_missing_image(tmp_path):
    source = make_chexpert(tmp_path / "src")
    (tmp_path / "src" / "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg").unlink()
    with pytest.raises(ImageLoadError, match="patient64541"):
        prepare_chexpert(source, tmp_path / "out", progress=False)
    report = prepare_chexpert(source, tmp_path / "out", on_bad_image="exclude", progress=False)
    assert len(report.excluded) == 1 and "patient64541" in report.excluded[0][0]
    assert len(read_manifest(tmp_path / "out" / "chexpert" / "manifest.csv")) == 2

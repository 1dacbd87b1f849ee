"""Property-based fuzzing (Hypothesis) of the manifest/CSV readers: whatever a CSV holds (missing
or renamed columns, NaN and duplicate ids, wrong types, unicode, garbage bytes, an empty file),
a reader returns valid records or raises the project's own :class:`DataError` naming the file,
never another exception. Bounded by example count so it fits ``make test``."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tmv_testing import make_nih

from tmvlib.data import DataError, read_kermany, read_nih
from tmvlib.data.chexpert import CHEXPERT_FINDINGS, read_chexpert
from tmvlib.data.schema import RECORD_COLUMNS

pytestmark = pytest.mark.slow  # Hypothesis draws hundreds of CSVs per reader

# TMV_FUZZ_EXAMPLES=2000 fuzzes harder (make test keeps the default, about 15 s)
FUZZ = settings(max_examples=int(os.environ.get("TMV_FUZZ_EXAMPLES", 60)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

CELLS = st.one_of(st.none(), st.just(""), st.text(max_size=12), st.integers(-10**6, 10**6),
                  st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["No Finding", "Pneumonia",
                  "x|y", "..", "../escape.png", "/etc/passwd", "é😀", "1e309", "NaN"]))


@st.composite
def mutated(draw, frame: pd.DataFrame) -> bytes:
    """A valid table made wrong in a few random ways, or raw bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    out = frame.copy().astype(object)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["drop", "rename", "cell", "duplicate", "empty", "extra"]))
        if action == "drop" and len(out.columns) > 1:
            out = out.drop(columns=draw(st.sampled_from(list(out.columns))))
        elif action == "rename":
            column = draw(st.sampled_from(list(out.columns)))
            out = out.rename(columns={column: draw(st.text(min_size=1, max_size=8))})
        elif action == "cell" and len(out):
            out.iat[draw(st.integers(0, len(out) - 1)), draw(st.integers(0, len(out.columns) - 1))] = draw(CELLS)
        elif action == "duplicate" and len(out):
            out = pd.concat([out, out.iloc[[draw(st.integers(0, len(out) - 1))]]], ignore_index=True)
        elif action == "empty":
            out = out.iloc[0:0]
        elif action == "extra":
            out[draw(st.text(min_size=1, max_size=8))] = draw(CELLS)
        out = out.astype(object)
    return out.to_csv(index=False).encode("utf-8", "surrogatepass")


def outcome(read, root: Path, named: list[Path]) -> None:
    """``read(root)`` gives valid records, or a DataError naming one of ``named`` (or ``root``)."""
    try:
        records = read(root)
    except DataError as err:
        assert any(str(p) in str(err) for p in [root, *named]), str(err)
        return
    assert list(records.columns) == list(RECORD_COLUMNS)
    for column in ("image_id", "patient_id", "path", "findings"):
        assert records[column].map(lambda v: isinstance(v, str) and v != "").all(), column
    for path in records["path"]:
        assert Path(path).resolve().is_relative_to(root.resolve()), path


@pytest.fixture(scope="module")
def nih_base(tmp_path_factory) -> Path:
    rows = [(f"0000000{k}_000.png", f, str(k), 40 + k, "MF"[k % 2], "PA")
            for k, f in enumerate(["Pneumonia", "No Finding", "Effusion", "No Finding", "Pneumonia|Mass"], 1)]
    return make_nih(tmp_path_factory.mktemp("nih") / "nih14", rows, boxes=[(rows[0][0], "Pneumonia")],
                    expert=[(rows[1][0], "test")], gzip_meta=False)


NIH_FILES = ["manifest.csv", "meta/Data_Entry_2017_v2020.csv", "meta/BBox_List_2017.csv",
             "meta/google2019_nih-chest-xray-labels.csv"]


@pytest.mark.parametrize("target", NIH_FILES)
@FUZZ
@given(data=st.data())
def test_nih_reader_fuzzed(nih_base, target, data):
    original = pd.read_csv(nih_base / target)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(shutil.copytree(nih_base, Path(tmp) / "nih14"))
        (root / target).write_bytes(data.draw(mutated(original)))
        outcome(read_nih, root, [root / target])


@pytest.fixture(scope="module")
def kermany_base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kermany") / "kermany"
    (root / "images").mkdir(parents=True)
    names = ["person1_bacteria_1.jpg", "person2_virus_3.jpg", "IM-0115-0001.jpg", "NORMAL2-IM-0007-0001.jpg"]
    for name in names:
        (root / "images" / name).write_bytes(b"")
    pd.DataFrame({"filename": names, "label": ["PNEUMONIA", "PNEUMONIA", "NORMAL", "NORMAL"],
                  "original_width": 1500, "source_repo": "r", "source_processing": "p"}).to_csv(
        root / "manifest.csv", index=False)
    return root


@FUZZ
@given(data=st.data())
def test_kermany_reader_fuzzed(kermany_base, data):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(shutil.copytree(kermany_base, Path(tmp) / "kermany"))
        (root / "manifest.csv").write_bytes(data.draw(mutated(pd.read_csv(kermany_base / "manifest.csv"))))
        outcome(read_kermany, root, [root / "manifest.csv"])


@FUZZ
@given(data=st.data())
def test_chexpert_reader_fuzzed(tmp_path_factory, data):
    frame = pd.DataFrame({"Path": [f"CheXpert-v1.0-small/train/patient{k:05d}/study1/view1_frontal.jpg"
                                   for k in range(1, 5)], "Sex": ["Male", "Female", "Male", "Unknown"],
                          "Age": [50, 60, 70, 80], "AP/PA": ["AP", "PA", "AP", "PA"],
                          **{f: np.resize([1.0, 0.0, -1.0, np.nan], 4) for f in CHEXPERT_FINDINGS}})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "CheXpert-v1.0-small"
        root.mkdir()
        (root / "train.csv").write_bytes(data.draw(mutated(frame)))
        try:
            records = read_chexpert(root, files=("train.csv",))
        except DataError as err:
            assert str(root) in str(err), str(err)
        else:
            assert list(records.columns) == list(RECORD_COLUMNS)


def test_a_data_entry_column_named_like_a_manifest_column_does_not_replace_it(nih_base, tmp_path):
    """Found by the fuzzer: a Data_Entry file with an empty ``filename`` column of its own used to
    replace the manifest's file names (then ``Path / NaN``); the manifest keeps its file columns."""
    from tmvlib.data.nih import read_nih

    root = Path(shutil.copytree(nih_base, tmp_path / "nih14"))
    entries = pd.read_csv(root / "meta/Data_Entry_2017_v2020.csv").assign(filename=float("nan"))
    entries.to_csv(root / "meta/Data_Entry_2017_v2020.csv", index=False)
    records = read_nih(root)
    assert len(records) == 5 and not records["path"].isna().any(), records["path"].tolist()

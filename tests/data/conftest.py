"""A tiny fake official NIH download, built by the tests themselves (shared by prepare and download tests)."""
from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

ENTRY_HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,"
                "View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]")
# stem -> (Finding Labels, Patient ID, Patient Age, Patient Gender, View Position)
ENTRIES = {
    "00000001_000": ("Cardiomegaly", "1", "57", "M", "PA"),
    "00000002_000": ("No Finding", "2", "81", "M", "PA"),
    "00000003_000": ("Hernia|Infiltration", "3", "74", "F", "AP"),
    "00000004_000": ("Mass|Nodule", "4", "82", "M", "AP"),
    "00000005_000": ("Pneumonia", "5", "69", "F", "PA"),
    "00000006_000": ("Effusion", "6", "37", "F", "PA"),
    "00000009_000": ("No Finding", "9", "40", "M", "PA"),
}
BBOXES = [("00000005_000", "Pneumonia"), ("00000005_000", "Infiltrate"), ("00000006_000", "Effusion")]
GOOGLE = {"00000001_000": "val", "00000005_000": "test"}
WIDE_STEM = "00000004_000"  # non-square: centre 128, left strip 0, right strip 255


def _png(array: np.ndarray, mode: str) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(array)  # uint16 -> I;16, (H, W, 4) -> RGBA, ...
    assert image.mode == mode, (image.mode, mode)
    image.save(buffer, "PNG")
    return buffer.getvalue()


def fake_images() -> dict[str, tuple[bytes, tuple[int, int]]]:
    """Returns stem -> (PNG bytes, (width, height)) covering every source kind."""
    rng = np.random.default_rng(0)
    gradient = np.tile(np.linspace(0, 255, 300).astype(np.uint8), (300, 1))
    sixteen = (np.tile(np.linspace(0, 4095, 320), (320, 1))).astype(np.uint16)
    rgb = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    rgba = np.dstack([rng.integers(0, 256, (260, 260, 3), dtype=np.uint8),
                      np.full((260, 260), 128, np.uint8)])
    wide = np.full((300, 600), 128, np.uint8)
    wide[:, :150], wide[:, 450:] = 0, 255  # 150 px strips: 128 px after scaling 300 -> 256, cropped off
    big = np.tile(np.linspace(30, 220, 1024).astype(np.uint8), (1024, 1))
    return {
        "00000001_000": (_png(gradient, "L"), (300, 300)),
        "00000002_000": (_png(sixteen, "I;16"), (320, 320)),
        "00000003_000": (_png(rgb, "RGB"), (200, 200)),
        "00000004_000": (_png(wide, "L"), (600, 300)),
        "00000005_000": (_png(rgba, "RGBA"), (260, 260)),
        "00000006_000": (_png(big, "L"), (1024, 1024)),
    }


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def write_metadata(folder: Path, gz_entry: bool = False) -> None:
    """Write Data_Entry, BBox list and Google 2019 CSVs in the official layouts."""
    lines = [ENTRY_HEADER] + [f"{s}.png,{f},0,{p},{a},{g},{v},2048,2500,0.143,0.143"
                              for s, (f, p, a, g, v) in ENTRIES.items()]
    text = "\n".join(lines) + "\n"
    if gz_entry:
        (folder / "Data_Entry_2017_v2020.csv.gz").write_bytes(gzip.compress(text.encode()))
    else:
        (folder / "Data_Entry_2017_v2020.csv").write_text(text)
    (folder / "BBox_List_2017.csv").write_text(
        "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
        + "".join(f"{s}.png,{f},10.5,20.25,100.0,80.0\n" for s, f in BBOXES))
    (folder / "google2019_nih-chest-xray-labels.csv").write_text(
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],Fracture,Pneumothorax,"
        "Airspace opacity,Nodule or mass,Set Id\n"
        + "".join(f"{s}.png,X,0,1,50,M,PA,2048,2048,0.14,0.14,NO,NO,YES,NO,{g}\n" for s, g in GOOGLE.items()))


def build_fake_nih(folder: Path, *, corrupt: bool = False, orphan: bool = False,
                   extracted: bool = False, gz_entry: bool = False) -> Path:
    """Create a fake NIH download in ``folder``; returns ``folder``.

    Two tar parts (``images/<stem>.png`` members), or with ``extracted`` PNGs under ``images/a/b``.
    ``corrupt`` adds a truncated ``00000009_000.png``; ``orphan`` adds ``00000099_000.png`` that has
    no Data_Entry row.
    """
    folder.mkdir(parents=True, exist_ok=True)
    write_metadata(folder, gz_entry)
    members = {f"images/{stem}.png": data for stem, (data, _) in fake_images().items()}
    if corrupt:
        members["images/00000009_000.png"] = members["images/00000001_000.png"][:60]
    if orphan:
        members["images/00000099_000.png"] = members["images/00000002_000.png"]
    names = list(members)
    if extracted:
        for i, name in enumerate(names):
            path = folder / "images" / ("a/b" if i % 2 else "a") / Path(name).name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(members[name])
        return folder
    _tar(folder / "images_001.tar.gz", {n: members[n] for n in names[:4]})
    _tar(folder / "images_002.tar.gz", {n: members[n] for n in names[4:]})
    return folder


@pytest.fixture
def fake_nih(tmp_path):
    """``fake_nih.build(**options)`` makes a fake NIH download (see ``build_fake_nih``), returns its
    folder; ``entries``, ``bboxes``, ``google``, ``images()``, ``wide_stem`` describe its content."""
    counter = iter(range(100))
    return SimpleNamespace(
        build=lambda **options: build_fake_nih(tmp_path / f"nih_source{next(counter)}", **options),
        entries=ENTRIES, bboxes=BBOXES, google=GOOGLE, images=fake_images, wide_stem=WIDE_STEM)

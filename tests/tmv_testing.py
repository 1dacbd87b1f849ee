"""Builders of tiny datasets in the prepared layout, written by the tests themselves."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

ENTRY_HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,"
                "View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]")


def write_image(path: Path, seed: int = 0, size: int = 32) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8), mode="L").save(path)


def make_nih(root: Path, rows: list[tuple], boxes: list[tuple] = (), expert: list[tuple] = (),
             widths: dict[str, int] | None = None, gzip_meta: bool = True) -> Path:
    """Write a prepared-layout NIH folder.

    rows: (image index, findings, patient id, age, sex, view); boxes: (image index, finding);
    expert: (image index, set id). ``widths`` maps image index to its source width (default 1024).
    """
    widths = widths or {}
    (root / "images").mkdir(parents=True)
    (root / "meta").mkdir()
    lines = [ENTRY_HEADER] + [f"{i},{f},0,{p},{a},{s},{v},2048,2048,0.14,0.14"
                              for i, f, p, a, s, v in rows]
    box_lines = ["Image Index,Finding Label,Bbox [x,y,w,h],,,"] + [
        f"{i},{f},100,200,300,400" for i, f in boxes]
    expert_lines = [ENTRY_HEADER + ",Fracture,Pneumothorax,Airspace opacity,Nodule or mass,Set Id"] + [
        f"{i},No Finding,0,1,50,M,PA,2048,2048,0.14,0.14,NO,NO,YES,NO,{s}" for i, s in expert]
    for name, content in (("Data_Entry_2017_v2020.csv", lines), ("BBox_List_2017.csv", box_lines),
                          ("google2019_nih-chest-xray-labels.csv", expert_lines)):
        text = "\n".join(content) + "\n"
        if gzip_meta:
            with gzip.open(root / "meta" / f"{name}.gz", "wt") as handle:
                handle.write(text)
        else:
            (root / "meta" / name).write_text(text)
    manifest = []
    for n, (index, *_rest) in enumerate(rows):
        jpg = Path(index).with_suffix(".jpg").name
        write_image(root / "images" / jpg, seed=n)
        manifest.append({"filename": jpg, "original_width": widths.get(index, 1024),
                         "original_height": widths.get(index, 1024), "source_repo": "test/repo",
                         "source_processing": "test"})
    pd.DataFrame(manifest).to_csv(root / "manifest.csv", index=False)
    return root


def toy_data(n=48, size=32, seed=0):
    """Positives carry a bright disc, negatives do not: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1], n // 2)
    images = rng.integers(0, 80, (n, 1, size, size)).astype(np.uint8)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 4) ** 2
    images[labels == 1] = np.where(disc, 250, images[labels == 1])
    return torch.from_numpy(images), labels


def require_ci_run(chapter: str = "08_trust_card") -> None:
    """Skip the calling test when the ci run is not complete up to ``chapter`` (a test file run
    alone); on CI (``CI`` set), where make test has just built it, fail instead of skipping."""
    import os

    import pytest

    from tmvlib.runs import RunStateError, require_complete

    try:
        require_complete("ci", [chapter], "this test")
    except RunStateError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"needs a complete ci run ({err})")


def toy_recipe(size: int = 32, split_hash: str = "h", **train):
    """EfficientNet-Lite0 at ``size`` px (0.2 dropout, 6 frozen stages) with a fast fp32
    training config (1 epoch, batch 16, no channels-last) updated by ``train``."""
    from tmvlib.models.recipe import ModelRecipe
    from tmvlib.models.train import TrainConfig

    config = TrainConfig(**{"epochs": 1, "batch_size": 16, "precision": "fp32", "channels_last": False, **train})
    return ModelRecipe("efficientnet_lite0", "auto", size, 0.2, 6, config, split_hash)


def toy_training_data(seed: int = 0, val_seed: int = 1):
    """:func:`toy_data` as training (48 images) and validation (32 images) sets."""
    from tmvlib.models.recipe import TrainingData

    (x, y), (xv, yv) = toy_data(seed=seed), toy_data(32, seed=val_seed)
    return TrainingData(x, y, xv, yv)


def shortcut_evaluation(n_per_kind: int = 60, seed: int = 0) -> pd.DataFrame:
    """Positives, No Finding and other-finding images (2 per patient): ``abnormality`` scores
    other findings like positives, ``specific`` scores them like No Finding."""
    rng = np.random.default_rng(seed)
    kinds = np.repeat(["positive", "No Finding", "other finding"], n_per_kind)
    n = len(kinds)
    noise = rng.normal(0, 0.15, n)
    abnormal = np.where(kinds == "No Finding", 0.3, 0.7) + noise
    specific = np.where(kinds == "positive", 0.7, 0.3) + noise
    return pd.DataFrame({"patient_id": [f"p{i // 2}" for i in range(n)], "negative": kinds,
                         "label": (kinds == "positive").astype(int),
                         "prob (no_finding)": abnormal.clip(0, 1), "prob (all)": specific.clip(0, 1)})


SHORTCUT_PROBS = {"no_finding": "prob (no_finding)", "all": "prob (all)"}
SHORTCUT_THRESHOLDS = {"no_finding": 0.5, "all": 0.5}


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares ``width x height`` 8-bit gray pixels (a decompression
    bomb's signature: a few hundred bytes that would decode to ``width * height`` bytes); its
    pixel data is a few rows (at most 4096 bytes wide), so decoding it fully would fail too."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * min(width + 1, 4096) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def _deferral_rules():
    from tmvlib.uncertainty.abstention import DeferralRule

    marginal = DeferralRule("decision uncertainty", "marginal", 0.2, 0.1, {"all": 0.3},
                            {"all": {"images": 161, "answered": 50, "errors": 4}})
    mondrian = DeferralRule("decision uncertainty", "class-conditional", 0.2, 0.1, {"positive": None, "negative": 0.4},
                            {"positive": {"images": 58, "answered": 0, "errors": 0},
                             "negative": {"images": 103, "answered": 40, "errors": 3}})
    return marginal, mondrian


# Two calibrated deferral rules: one marginal threshold; one per predicted class, positive calls uncertified.
MARGINAL, MONDRIAN = _deferral_rules()


def error_score_frame(n=400, seed=0) -> pd.DataFrame:
    """Per-image scores against errors (25% of 400 images, 2 images a patient): ``perfect`` ranks
    every error above every correct image, ``noise`` is chance, ``informative`` and ``instability``
    are two independent noisy signals of the error."""
    rng = np.random.default_rng(seed)
    error = rng.random(n) < 0.25
    return pd.DataFrame({
        "correct": ~error, "patient_id": np.arange(n) // 2,
        "perfect": error + rng.random(n) * 0.5,            # every error above every correct
        "noise": rng.random(n),
        "informative": error + rng.normal(0, 1.0, n),
        "instability": error * 0.8 + rng.normal(0, 0.5, n),
    })


def sanity_verdict_of_toys(table, threshold=0.5):
    """``tables.explanation.sanity_verdict`` of a 4-image toy table: the declared minimum of 5
    non-constant maps would leave every step undetermined, so these tables use 2."""
    from tmvlib.tables.explanation import sanity_verdict

    return sanity_verdict(table, threshold, min_maps=2)

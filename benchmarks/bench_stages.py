"""Per-image stages: images/s per worker, in this process and on a local Ray with N workers, and
the worker-hours the full profile would need per chapter (extrapolated from those rates).

    python benchmarks/bench_stages.py [--images 64] [--workers 2] [--checkpoint PATH]

Every stage runs on ``--images`` images of the shared NIH data in shards; a worker's rate is its
images over its compute seconds, leaving out setup (model load, engine build, Ray start) and its
first shard (warm-up). Time it alone: two
heavy jobs on one machine distort each other. The extrapolation counts the full release's
images per chapter from the official ``Data_Entry`` file (the test share of the official list,
25,596 of 112,120 images, stands in for the list itself) and divides by the measured rate; it is
an estimate, printed as one.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tmvlib.config import load_params, resolve_data_root
from tmvlib.explain.stability import stability_protocol_from_params
from tmvlib.models.checkpoint import read_checkpoint_meta
from tmvlib.parallel import ImageStage, map_images
from tmvlib.stages import (GradCAMStage, InputStatsStage, LogitsStage, ScoreCAMStage, SourceStabilityStage,
                           TTAStabilityStage)

OFFICIAL_TEST_SHARE = 25_596 / 112_120  # images in test_list.txt / all images (NIH release)
KERMANY_IMAGES = 3_888


def stages(checkpoint: Path, size: int, maps: Path, threads: int) -> dict[str, object]:
    """The per-image stages of the book with the default profile's parameters (chapter 06's
    other ensemble members: the ``ensemble_<m>.pt`` beside ``checkpoint``, as many as chapter 03's
    default makes)."""
    s06 = load_params("06_stability")
    members = [str(checkpoint.parent / f"ensemble_{m}.pt") for m in range(1, load_params("03_uncertainty")["ensemble_members"])]
    protocol = stability_protocol_from_params(s06)
    return {
        "logits (02)": LogitsStage(checkpoint, size, threads=threads),
        "Grad-CAM (04)": GradCAMStage(checkpoint, size, str(maps / "gradcam"), threads=threads),
        "exact Score-CAM (05)": ScoreCAMStage(checkpoint, size, str(maps / "scorecam"), threads=threads),
        "TTA stability, 6 perturbations (06)": TTAStabilityStage(checkpoint, size, 0.5, protocol, threads=threads),
        "stability, MC + ensemble + TTA (06)": SourceStabilityStage(
            checkpoint, members, size, str(maps / "stability"), 0.5, protocol, threads=threads),
        "input statistics and features (08)": InputStatsStage(checkpoint, size, str(maps / "input"), threads=threads),
    }


class Timed(ImageStage):
    """Runs ``inner`` and adds each shard's compute seconds and the worker's pid to its rows (so the
    per-worker rate excludes setup: model load, engine build, Ray start)."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name

    def identity(self) -> dict:
        return self.inner.identity()

    def setup(self) -> None:
        self.inner.setup()

    def run(self, records: pd.DataFrame) -> pd.DataFrame:
        began, start = time.time(), time.perf_counter()
        out = self.inner.run(records)
        return out.assign(shard_seconds=time.perf_counter() - start, shard_images=len(records), pid=os.getpid(),
                          shard_began=began)


def per_worker_rate(stage, records: pd.DataFrame, folder: Path, executor: str, workers: int) -> float:
    """Images per second of one worker, each worker's first shard (warm-up) left out."""
    out = map_images(Timed(stage), records, folder, shard_size=max(1, len(records) // (4 * workers)),
                     executor=executor, workers=workers, progress=False)
    shards = out.drop_duplicates(["pid", "shard_began"]).sort_values("shard_began")
    steady = shards[shards.groupby("pid").cumcount() > 0]
    return float(steady["shard_images"].sum() / steady["shard_seconds"].sum())


def full_profile_images() -> dict[str, int]:
    """Images per chapter stage in the full profile (default params), from Data_Entry and the box list."""
    meta = resolve_data_root() / "nih14" / "meta"
    entry = pd.read_csv(meta / "Data_Entry_2017_v2020.csv.gz", usecols=["Image Index", "Finding Labels",
                                                                     "Patient ID", "View Position"])
    entry = entry[entry["View Position"].isin(["PA", "AP"])]
    labels = entry["Finding Labels"].str.split("|")
    task = entry[labels.map(lambda f: "Pneumonia" in f or f == ["No Finding"])]
    boxes = pd.read_csv(meta / "BBox_List_2017.csv.gz", usecols=["Image Index"])
    boxed_patients = set(entry.loc[entry["Image Index"].isin(boxes["Image Index"]), "Patient ID"])
    localisation = int(task["Patient ID"].isin(boxed_patients).sum())
    rest = len(task) - localisation
    test = int(round(rest * OFFICIAL_TEST_SHARE))
    val = int(round((rest - test) * 0.15 / 0.85))
    train = rest - test - val
    external_cap = load_params("04_gradcam")["external_images"]
    return {"logits (02)": val + test + localisation + KERMANY_IMAGES,
            "Grad-CAM (04)": test + localisation + external_cap + train,
            "exact Score-CAM (05)": localisation,
            "TTA stability, 6 perturbations (06)": test + external_cap,
            "stability, MC + ensemble + TTA (06)": val + test + external_cap,
            "input statistics and features (08)": train + val + test + external_cap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--checkpoint", default="artifacts/runs/default/checkpoints/baseline.pt")
    parser.add_argument("--only", nargs="*", help="stage names to run (substring match)")
    args = parser.parse_args()
    checkpoint = Path(args.checkpoint)
    size = read_checkpoint_meta(checkpoint)["config"]["image_size"]
    nih = resolve_data_root() / "nih14"
    manifest = pd.read_csv(nih / "manifest.csv", usecols=["filename"]).head(args.images)
    records = pd.DataFrame({"image_id": manifest["filename"].str[:-4],
                            "path": [str(nih / "images" / f) for f in manifest["filename"]],
                            "prob": np.linspace(0.05, 0.95, len(manifest))})
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for executor, workers, threads in (("local", 1, cores), ("ray", args.workers, max(1, cores // args.workers))):
            for name, stage in stages(checkpoint, size, Path(tmp) / executor, threads).items():
                if args.only and not any(o.lower() in name.lower() for o in args.only):
                    continue
                rate = per_worker_rate(stage, records, Path(tmp) / executor / name.split()[0], executor, workers)
                rows.append({"stage": name, "executor": f"{executor} x{workers} ({threads} thr)",
                             "images/s per worker": rate, "images/s, all workers": rate * workers})
                print(f"{name:40s} {rows[-1]['executor']:18s} {rate:8.2f} img/s per worker", flush=True)
    table = pd.DataFrame(rows)
    print("\nPer-image stages, %d images of %d px, %d cores:" % (len(records), size, cores))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    counts = full_profile_images()
    best = table.loc[table.groupby("stage")["images/s per worker"].idxmax()].set_index("stage")
    extrapolated = pd.DataFrame({
        "images (full profile)": pd.Series(counts),
        "worker": best["executor"],
        "rate per worker (img/s)": best["images/s per worker"],
    }).dropna()
    extrapolated["worker-hours"] = extrapolated["images (full profile)"] / extrapolated["rate per worker (img/s)"] / 3600
    extrapolated["hours on 8 workers"] = extrapolated["worker-hours"] / 8
    print("\nEXTRAPOLATED, not measured: the full profile's per-image stages at the best measured rate per "
          "worker (the worker's threads in brackets)")
    print(extrapolated.to_string(float_format=lambda v: f"{v:,.1f}"))

if __name__ == "__main__":
    main()

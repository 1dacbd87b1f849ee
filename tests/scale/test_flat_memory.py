"""Scale: the shared NIH images replicated to 20,000 records (same files, distinct ids) go through
a per-image stage on Ray with 2 workers; each worker's peak RSS must not grow with the number of
images it has processed (it holds one shard at a time, results go to Parquet shards)."""
import resource
import time

import pandas as pd
import pytest

from tmvlib.models.fit import fit_or_load
from tmvlib.models.train import TrainConfig
from tmvlib.parallel import map_images
from tmvlib.stages import LogitsStage

from tmv_testing import toy_data

N_RECORDS = 20_000
SHARD = 500
SIZE = 32  # the model input: decoding the 256-px files dominates, as it would at scale
FIGURES: list[str] = []


class MeasuredLogits(LogitsStage):
    """:class:`LogitsStage` that also reports its worker's pid and peak RSS after each shard."""

    name = "logits (measured)"

    def run(self, records):
        out = super().run(records)
        import os

        return out.assign(pid=os.getpid(), peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def test_worker_memory_is_flat_over_20000_images(tmp_path, shared_data):
    ray = pytest.importorskip("ray")
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    manifest = pd.read_csv(shared_data / "nih14" / "manifest.csv", usecols=["filename"])
    files = [str(shared_data / "nih14" / "images" / name) for name in manifest["filename"]]
    records = pd.DataFrame({"image_id": [f"r{k:05d}" for k in range(N_RECORDS)],
                            "path": [files[k % len(files)] for k in range(N_RECORDS)]})
    (x, y), (xv, yv) = toy_data(), toy_data(32, seed=1)
    fit_or_load(tmp_path / "model.pt", "efficientnet_lite0", "auto", SIZE, 0.2, 6,
                TrainConfig(epochs=1, batch_size=16, precision="fp32", channels_last=False), "h", x, y, xv, yv,
                progress=False)
    start = time.perf_counter()
    try:
        out = map_images(MeasuredLogits(tmp_path / "model.pt", SIZE, batch_size=100, threads=1), records,
                         tmp_path / "shards", shard_size=SHARD, executor="ray", workers=2, progress=False)
    finally:
        ray.shutdown()
    seconds = time.perf_counter() - start
    assert len(out) == N_RECORDS and out["image_id"].is_unique
    for pid, rows in out.groupby("pid", sort=False):
        rss = rows["peak_rss_mb"].to_numpy()  # rows in shard order: the worker's peak after each shard
        early = rss[min(2, len(rss) - 1)]
        FIGURES.append(f"worker {pid}: {len(rows)} images, peak RSS {early:.0f} MiB after 3 shards, "
                       f"{rss[-1]:.0f} MiB at the end")
        assert rss[-1] <= early * 1.05 + 20, f"worker {pid}: peak RSS grew from {early:.0f} to {rss[-1]:.0f} MiB"
    FIGURES.append(f"{N_RECORDS} images in {seconds:.0f} s through 2 Ray workers "
                   f"({N_RECORDS / seconds:.0f} images/s, {SIZE}-px logits)")

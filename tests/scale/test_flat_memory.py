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

from tmv_testing import toy_recipe, toy_training_data

pytestmark = pytest.mark.slow  # 20,000 records: minutes

N_RECORDS = 20_000
SHARD = 500
SIZE = 32  # the model input: decoding the 256-px files dominates, as it would at scale
FIGURES: list[str] = []


def replicated_records(shared_data) -> pd.DataFrame:
    """``N_RECORDS`` records ``image_id, path``: the shared NIH files repeated, distinct ids."""
    manifest = pd.read_csv(shared_data / "nih14" / "manifest.csv", usecols=["filename"])
    files = [str(shared_data / "nih14" / "images" / name) for name in manifest["filename"]]
    return pd.DataFrame({"image_id": [f"r{k:05d}" for k in range(N_RECORDS)],
                         "path": [files[k % len(files)] for k in range(N_RECORDS)]})


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
    records = replicated_records(shared_data)
    fit_or_load(tmp_path / "model.pt", toy_recipe(SIZE), toy_training_data(), progress=False)
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


class AnonPeak:
    """The peak of this process's anonymous memory (RssAnon: heap, not file-backed pages) while
    the ``with`` block runs, sampled every 50 ms, in MiB above its value on entry."""

    def __enter__(self):
        import threading

        self.start = self.peak = _rss_anon_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss_anon_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_anon_mb())
        self.growth = self.peak - self.start


def _rss_anon_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def test_member_training_on_20000_images_keeps_its_feature_cache_on_disk(tmp_path, shared_data, monkeypatch):
    """Chapter 03's member training (chapter 02's recipe) over 20,000 records: the frozen-stage
    cache of 3 views (1.4 GB here) goes to a memory-mapped file, so building it adds a small part
    of its size to the process's own (anonymous) memory, and training on it reads it from there.
    Training's working memory (activations, optimiser, allocator) depends on the batch, not on the
    number of images (measured: +0.95 GB at batch 256 for 2,000 and for 8,000 images)."""
    import torch

    from tmvlib.data.tensors import load_image_tensor
    from tmvlib.models.classifier import build_classifier
    from tmvlib.models.train import build_train_cache, train_classifier
    from tmvlib.models.training_data import TrainingData

    monkeypatch.setenv("TMV_CACHE_RAM_GB", "0.25")
    monkeypatch.setenv("TMV_CACHE_DIR", str(tmp_path))
    records = replicated_records(shared_data)
    images = load_image_tensor(records, 64, progress=False)
    labels = (torch.arange(N_RECORDS) % 7 == 0).numpy().astype(int)
    config = TrainConfig(epochs=1, batch_size=64, augment_copies=2, precision="fp32", channels_last=True)
    model, info = build_classifier("efficientnet_lite0", "auto", dropout=0.2, frozen_stages=3)
    start = time.perf_counter()
    with AnonPeak() as caching:
        cache = build_train_cache(model, info, images, config, progress=False)
    with AnonPeak() as training:
        result = train_classifier(model, info, TrainingData(images, labels, images[:2000], labels[:2000]), config,
                                  progress=False, train_cache=cache)
    seconds = time.perf_counter() - start
    cache_mb = cache.numel() * cache.element_size() / 1024**2
    FIGURES.append(f"member training on {N_RECORDS} images x {len(cache)} views at 64 px in {seconds:.0f} s: "
                   f"frozen-stage cache {cache_mb:.0f} MiB on disk; peak anonymous memory +{caching.growth:.0f} MiB "
                   f"while caching, +{training.growth:.0f} MiB while training (batch {config.batch_size})")
    assert result.best_epoch == 1 and cache.is_shared()
    assert caching.growth < cache_mb / 8, f"caching grew anonymous memory by {caching.growth:.0f} MiB"
    assert training.growth < cache_mb / 2, f"training grew anonymous memory by {training.growth:.0f} MiB"

"""Fixtures of the explain tests: one pretrained efficientnet_lite0 with a seeded head, small
inputs (64-96 px) so the folder runs in well under a minute on 2 cores."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tmvlib.models import build_classifier, gray_to_input
from tmvlib.runtime import tune_cpu_allocator


@pytest.fixture(scope="session")
def lite0():
    """(model in eval mode, WeightsInfo): ImageNet trunk, head seeded with torch.manual_seed(0).
    Tests must not modify it (the sanity check works on a deep copy)."""
    tune_cpu_allocator()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model, info = build_classifier("efficientnet_lite0")
    return model.eval(), info


def radiograph_like(size: int, seed: int = 0) -> np.ndarray:
    """uint8 (size, size): a smooth chest-like image (two bright-edged dark lung fields, a bright
    mediastinum) plus noise, so feature maps are structured rather than white noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.75 - 0.35 * (np.exp(-((xx - 0.3) ** 2 / 0.02 + (yy - 0.5) ** 2 / 0.08))
                         + np.exp(-((xx - 0.7) ** 2 / 0.02 + (yy - 0.5) ** 2 / 0.08)))
    img += 0.25 * np.exp(-((xx - 0.62) ** 2 / 0.004 + (yy - 0.35) ** 2 / 0.004))  # an "opacity"
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def xray_input(lite0):
    """Factory: size -> normalised input (1,3,size,size) of ``radiograph_like``."""
    _, info = lite0

    def make(size: int = 64, seed: int = 0) -> torch.Tensor:
        return gray_to_input(torch.from_numpy(radiograph_like(size, seed))[None, None], info)

    return make


@pytest.fixture(autouse=True)
def one_thread():
    """Run each explain test on one intra-op thread, restoring the count afterwards. The inputs
    are tiny (64-96 px), where a second OpenMP thread saves little, and on a shared 2-core
    machine its barriers wait for a descheduled peer: a 64-px forward took 1.5 s on 2 threads
    under load and 15 ms on one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

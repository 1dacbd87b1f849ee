"""Frozen-stage caches: in memory or on disk (TMV_CACHE_RAM_GB), the same values and layout."""
import pytest
import torch

from tmvlib.models.classifier import build_classifier
from tmvlib.models.feature_cache import allocate_bank
from tmvlib.models.train import TrainConfig, build_train_cache, frozen_bank

from tmv_testing import toy_data


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_disk_backed_cache_equals_the_in_memory_one(monkeypatch, tmp_path, precision):
    model, info = build_classifier("efficientnet_lite0", "auto", dropout=0.2, frozen_stages=3)
    x, _ = toy_data(40)
    config = TrainConfig(precision=precision, channels_last=True, augment_copies=2)
    in_memory = build_train_cache(model, info, x, config, progress=False)
    monkeypatch.setenv("TMV_CACHE_RAM_GB", "0")
    monkeypatch.setenv("TMV_CACHE_DIR", str(tmp_path))
    on_disk = build_train_cache(model, info, x, config, progress=False)
    assert torch.equal(in_memory, on_disk) and on_disk.stride() == in_memory.stride()
    assert on_disk[0].is_contiguous(memory_format=torch.channels_last)  # as torch.cat of the batches would be
    assert list(tmp_path.iterdir()) == []  # the file is unlinked once mapped
    # the view built in chunks equals one batch through the frozen stages
    whole = frozen_bank(model, info, x, config, progress=False)
    torch.testing.assert_close(whole, on_disk[0], rtol=0, atol=0)


def test_allocate_bank_layout_and_bad_setting(monkeypatch):
    sample = torch.zeros(2, 8, 3, 5).contiguous(memory_format=torch.channels_last)
    bank = allocate_bank((4, 10, 8, 3, 5), torch.float32, sample)
    assert bank.stride() == torch.stack([torch.cat([sample] * 5)] * 4).stride()
    assert allocate_bank((6, 8, 3, 5), torch.float32).is_contiguous()
    monkeypatch.setenv("TMV_CACHE_RAM_GB", "lots")
    with pytest.raises(ValueError, match="TMV_CACHE_RAM_GB"):
        allocate_bank((2, 2), torch.float32)


def test_augmented_views_are_those_drawn_right_after_seeding():
    """Views are augmented chunk by chunk between frozen forwards that draw from torch's global
    generator themselves (precision "auto" probes the CPU); the views must still be those of
    augmenting every copy right after seeding, as before chunking (a fresh-clone CI caught it)."""
    from tmvlib.models.augment import augment_batch, xray_augmentation
    from tmvlib.models.train import seed_everything

    model, info = build_classifier("efficientnet_lite0", "auto", dropout=0.2, frozen_stages=3)
    x, _ = toy_data(70)  # two chunks of the cache's batches
    config = TrainConfig(precision="auto", augment_copies=2)
    seed_everything(config.seed)
    transform = xray_augmentation()
    views = [x] + [augment_batch(x, transform) for _ in range(2)]
    expected = torch.stack([frozen_bank(model, info, v, config, progress=False) for v in views])
    assert torch.equal(build_train_cache(model, info, x, config, progress=False), expected)

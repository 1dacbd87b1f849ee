"""Test-time perturbations: determinism, photometric definitions, sign conventions against
torchvision, and the inverse transform of heatmaps (exact for integer shifts and quarter turns,
exact up to interpolation otherwise). Pure tensors of 16-64 px; no model."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_erosion
from torchvision.transforms.v2 import functional as TF

from tmvlib.explain.perturbations import (Perturbation, apply_perturbation, invert_heatmap,
                                          single_factor_perturbations, tta_perturbations)


def blob(height=32, width=48, row=13.0, col=20.0, sigma=5.0) -> np.ndarray:
    """float32 (H, W): a smooth Gaussian bump, ~0 at the borders."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * sigma**2)).astype(np.float32)


def as_batch(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image)[None, None]


def geometric_only(p: Perturbation) -> Perturbation:
    return dataclasses.replace(p, brightness=0.0, contrast=1.0, gamma=1.0, noise=0.0)


def test_tta_perturbations_are_deterministic_and_within_range():
    first = tta_perturbations(8, seed=3)
    assert first == tta_perturbations(8, seed=3)
    assert first != tta_perturbations(8, seed=4)
    assert len({p.name for p in first}) == 8
    for p in first:
        assert abs(p.rotation) <= 5 and max(map(abs, p.translate)) <= 0.04
        assert abs(p.scale - 1) <= 0.05 and abs(p.brightness) <= 0.05
        assert abs(p.contrast - 1) <= 0.1 and np.exp(-0.1) <= p.gamma <= np.exp(0.1)
        assert p.noise == 0.01 and p.is_geometric and p.is_photometric
    off = tta_perturbations(3, rotation=0, translate=0, scale=0)
    assert not any(p.is_geometric for p in off)
    with pytest.raises(ValueError, match="n must be"):
        tta_perturbations(0)


def test_single_factor_perturbations_change_one_factor_each():
    ps = single_factor_perturbations()
    assert [p.name for p in ps] == ["rotation+", "translate+", "scale+", "brightness+",
                                    "contrast+", "gamma+", "rotation-", "translate-", "scale-",
                                    "brightness-", "contrast-", "gamma-", "noise"]
    identity = Perturbation("id")
    for p in ps:
        changed = [f.name for f in dataclasses.fields(p) if f.name not in ("name", "seed")
                   and getattr(p, f.name) != getattr(identity, f.name)]
        assert len(changed) == 1, (p.name, changed)
    assert [p.name for p in single_factor_perturbations(rotation=0, noise=0, both_signs=False)] \
        == ["translate+", "scale+", "brightness+", "contrast+", "gamma+"]


def test_photometric_definitions():
    image = torch.full((1, 1, 16, 16), 0.4)
    image[..., :8] = 0.6  # mean 0.5
    out = apply_perturbation(image, Perturbation("b", brightness=0.1))
    torch.testing.assert_close(out, image + 0.1)
    out = apply_perturbation(image, Perturbation("c", contrast=2.0))
    torch.testing.assert_close(out, 0.5 + 2 * (image - 0.5))  # about the image mean
    out = apply_perturbation(image, Perturbation("g", gamma=2.0))
    torch.testing.assert_close(out, image**2)
    assert apply_perturbation(image, Perturbation("clip", brightness=0.9)).max() == 1.0


def test_noise_is_seeded_shared_by_channels_and_independent_of_the_batch():
    image = torch.full((3, 3, 16, 16), 0.5)
    p = Perturbation("n", noise=0.05, seed=7)
    out = apply_perturbation(image, p)
    torch.testing.assert_close(out, apply_perturbation(image, p))
    assert not torch.equal(out, apply_perturbation(image, dataclasses.replace(p, seed=8)))
    torch.testing.assert_close(out[0, 0], out[2, 1])  # one field per perturbation
    torch.testing.assert_close(out[:1], apply_perturbation(image[:1], p))
    assert 0.03 < float((out - 0.5).std()) < 0.07


def test_input_is_not_modified_and_uint8_is_scaled():
    image = torch.rand(2, 1, 16, 16)
    kept = image.clone()
    for p in (Perturbation("id"), Perturbation("b", brightness=0.1), Perturbation("r", rotation=3)):
        out = apply_perturbation(image, p)
        assert out.data_ptr() != image.data_ptr()
    torch.testing.assert_close(image, kept)
    as_uint8 = (image * 255).round().to(torch.uint8)
    p = Perturbation("mix", rotation=4, brightness=0.05)
    out = apply_perturbation(as_uint8, p)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, apply_perturbation(as_uint8.float() / 255, p))
    with pytest.raises(ValueError, match="expected images"):
        apply_perturbation(torch.rand(16, 16), p)


def test_geometry_matches_torchvision_conventions():
    image = as_batch(blob(24, 40, row=9, col=15, sigma=3))
    p = Perturbation("geo", rotation=10, translate=(0.05, -0.1), scale=1.1)
    ours = apply_perturbation(image, p)
    # torchvision's affine counts its angle clockwise; ours is counter-clockwise like rotate
    theirs = TF.affine(image, angle=-10, translate=[0.05 * 40, -0.1 * 24], scale=1.1,
                       shear=[0.0, 0.0], interpolation=TF.InterpolationMode.BILINEAR)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    square = torch.rand(1, 3, 16, 16)
    quarter = apply_perturbation(square, Perturbation("r90", rotation=90))
    torch.testing.assert_close(quarter, torch.rot90(square, 1, dims=(2, 3)), atol=1e-5, rtol=0)


def test_integer_translation_is_an_exact_shift_and_inverts_exactly():
    image = blob(16, 16) + np.random.default_rng(0).random((16, 16)).astype(np.float32)
    p = Perturbation("shift", translate=(3 / 16, 2 / 16))  # 3 px right, 2 px down
    moved = apply_perturbation(as_batch(image), p)[0, 0].numpy()
    np.testing.assert_allclose(moved[2:, 3:], image[:-2, :-3], atol=1e-5)
    assert np.abs(moved[:2]).max() < 1e-5 and np.abs(moved[:, :3]).max() < 1e-5
    back, valid = invert_heatmap(moved, p)
    expected = np.zeros((16, 16), dtype=bool)
    expected[:-2, :-3] = True  # original pixels whose content is still inside the frame
    np.testing.assert_array_equal(valid, expected)
    np.testing.assert_allclose(back[valid], image[valid], atol=1e-5)
    assert (back[~valid] == 0).all()


def test_quarter_turn_inverts_exactly():
    heat = np.random.default_rng(1).random((3, 16, 16)).astype(np.float32)
    p = Perturbation("r90", rotation=90)
    on_rotated = np.rot90(heat, 1, axes=(1, 2)).copy()  # a map that turned with the image
    back, valid = invert_heatmap(on_rotated, p)
    assert valid.all()
    np.testing.assert_allclose(back, heat, atol=1e-5)


@pytest.mark.parametrize("size", [(32, 32), (32, 48)])
def test_apply_then_invert_recovers_a_smooth_map(size):
    heat = blob(*size, row=size[0] / 2 - 2, col=size[1] / 2 + 3, sigma=6)
    for p in tta_perturbations(4, rotation=10, translate=0.08, scale=0.1, seed=5):
        p = geometric_only(p)
        moved = apply_perturbation(as_batch(heat), p)[0]  # (1, H, W): the map moved with it
        back, valid = invert_heatmap(moved, p)
        assert isinstance(back, torch.Tensor) and back.shape == moved.shape
        assert 0.6 < valid.float().mean() < 1.0
        inner = binary_erosion(valid.numpy(), iterations=2)
        # two bilinear resamplings blur a 6-px bump by ~1% of its height
        np.testing.assert_allclose(back[0].numpy()[inner], heat[inner], atol=0.02)
        peak = np.unravel_index(np.argmax(back[0].numpy()), heat.shape)
        assert peak == np.unravel_index(np.argmax(heat), heat.shape)


def test_photometric_only_inverse_is_identity():
    heat = blob()
    back, valid = invert_heatmap(heat, Perturbation("b", brightness=0.1, noise=0.02))
    np.testing.assert_array_equal(back, heat)
    assert valid.all() and valid.shape == heat.shape and back is not heat
    with pytest.raises(ValueError, match="maps must be"):
        invert_heatmap(heat[None, None], Perturbation("r", rotation=1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda_like_on_cpu():
    image = as_batch(blob())
    p = tta_perturbations(1, seed=2)[0]
    on_gpu = apply_perturbation(image.cuda(), p)
    torch.testing.assert_close(on_gpu.cpu(), apply_perturbation(image, p), atol=1e-5, rtol=0)
    back, valid = invert_heatmap(on_gpu[0], p)
    assert back.is_cuda and valid.is_cuda


def test_perturbations_from_chapter_06_params():
    from tmvlib.explain.perturbations import TTA_PARAMS, tta_perturbations_from_params

    params = {"run_id": "x", "mc_samples": 3, "tta_count": 4, "tta_rotation": 3.0, "tta_translate": 0.02,
              "tta_scale": 0.01, "tta_brightness": 0.0, "tta_contrast": 0.2, "tta_gamma": 0.05,
              "tta_noise": 0.02, "seed": 7}
    got = tta_perturbations_from_params(params)
    assert got == tta_perturbations(4, rotation=3.0, translate=0.02, scale=0.01, brightness=0.0, contrast=0.2,
                                    gamma=0.05, noise=0.02, seed=7)
    assert got != tta_perturbations_from_params({**params, "seed": 8})
    assert set(TTA_PARAMS) <= set(params)
    with pytest.raises(KeyError, match="tta_gamma"):
        tta_perturbations_from_params({k: v for k, v in params.items() if k != "tta_gamma"})

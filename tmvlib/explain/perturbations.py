"""Test-time perturbations of an X-ray and the inverse transform that brings a heatmap computed on
the perturbed image back onto the original pixel grid, so explanations of the two can be compared
pixel by pixel (explanation stability, ``tmvlib.explain.similarity``).

A :class:`Perturbation` is a fixed function of one image: photometric changes first, then one
affine map about the image centre. Its parameters follow the training augmentation
(``tmvlib.models.augment``: torchvision's ``RandomAffine`` + ``ColorJitter``), at smaller
magnitudes, so the perturbed images stay inside what the model saw in training:

- photometric, on intensities in [0, 1]: ``x -> clip(contrast * (x - mean) + mean + brightness)``
  (``mean`` over the image's pixels and channels), then ``x -> x ** gamma``, then additive
  Gaussian noise of standard deviation ``noise``, clipped to [0, 1] again. The noise field is
  drawn from ``torch.Generator().manual_seed(seed)`` once per perturbation with shape (1, 1, H, W)
  and shared by every image and channel: a gray image stays gray (detector noise is one value per
  pixel) and an image gets the same noise alone or inside any batch.
- geometric, in pixel coordinates ``u = (x, y)`` relative to the image centre (x to the right,
  y down; the centre is ``((W - 1) / 2, (H - 1) / 2)`` in pixel indices, torchvision's): the
  content at ``u`` moves to ``T(u) = scale * R(rotation) u + (dx * W, dy * H)``. ``rotation`` is
  in degrees, positive = counter-clockwise as displayed (as ``np.rot90`` and torchvision's
  ``rotate``; torchvision's ``affine`` counts its angle clockwise, so ours equals
  ``affine(angle=-rotation, translate=[dx * W, dy * H], scale=scale)``, which the tests check).
  The order is torchvision's: rotate and scale about the centre, then translate (right and down
  positive). The perturbed image is ``I'(v) = I(T^-1(v))``, resampled with ``grid_sample``
  (bilinear, ``align_corners=False``: pixel centres, the convention of ``tmvlib.explain.base``).
  Pixels whose preimage lies outside the image are 0
  (``padding_mode="zeros"``), as torchvision's ``RandomAffine`` fills them in training; "border"
  would smear the edge rows into streaks the model never saw.

:func:`invert_heatmap` maps a heatmap ``M'`` of the perturbed image back by ``M(u) = M'(T(u))``:
a map that moves with the anatomy lands where it was. Original pixels whose image ``T(u)`` falls
outside the span of the perturbed image's pixel centres have no value (the anatomy left the
frame); the returned ``valid_mask`` excludes them from any comparison.

The test-time augmentation view of explanation stability follows the practice of comparing
attributions under small input perturbations (Alvarez-Melis & Jaakkola 2018, "On the Robustness
of Interpretability Methods", ICML workshops; Yeh et al. 2019, "On the (In)fidelity and
Sensitivity of Explanations", NeurIPS), with the equivariance correction for geometric
transforms of Guo et al. (2019), "Visual attention consistency under image transforms for
multi-label image classification", CVPR.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

PADDING_MODE = "zeros"
EDGE_TOLERANCE = 1e-3  # pixels: float rounding of T(u) at an exactly representable edge


@dataclass(frozen=True)
class Perturbation:
    """One deterministic test-time perturbation (see the module docstring for the definitions).

    Attributes:
        name: label for tables (e.g. ``"tta03"``, ``"rotation+"``).
        rotation: degrees, counter-clockwise as displayed.
        translate: ``(dx, dy)`` as fractions of the width and height (right and down positive).
        scale: zoom about the centre, 1.0 = none.
        brightness: added to intensities in [0, 1].
        contrast: factor about the image mean, 1.0 = none.
        gamma: exponent applied to intensities in [0, 1], 1.0 = none.
        noise: standard deviation of additive Gaussian noise in [0, 1] units, 0 = none.
        seed: seed of the noise field.
    """

    name: str
    rotation: float = 0.0
    translate: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if not self.scale > 0:
            raise ValueError(f"{self.name}: scale must be > 0, got {self.scale}")
        if not self.gamma > 0:
            raise ValueError(f"{self.name}: gamma must be > 0, got {self.gamma}")
        if self.contrast < 0 or self.noise < 0:
            raise ValueError(f"{self.name}: contrast and noise must be >= 0, got "
                             f"{self.contrast} and {self.noise}")
        if len(self.translate) != 2:
            raise ValueError(f"{self.name}: translate must be (dx, dy), got {self.translate}")

    @property
    def is_geometric(self) -> bool:
        """True when the perturbation moves pixels (rotation, translation or scale)."""
        return self.rotation != 0 or tuple(self.translate) != (0.0, 0.0) or self.scale != 1

    @property
    def is_photometric(self) -> bool:
        """True when the perturbation changes intensities."""
        return (self.brightness != 0 or self.contrast != 1 or self.gamma != 1
                or self.noise != 0)


def tta_perturbations(n: int, rotation: float = 5.0, translate: float = 0.04, scale: float = 0.05,
                      brightness: float = 0.05, contrast: float = 0.1, gamma: float = 0.1,
                      noise: float = 0.01, seed: int = 0) -> list[Perturbation]:
    """``n`` random perturbations ``tta00 .. tta{n-1}``, each changing every factor at once.

    Draws, independently per perturbation, from ``numpy.random.default_rng(seed)`` (a private
    generator, in this order): rotation ~ U(-rotation, rotation) degrees; dx, dy ~ U(-translate,
    translate) (fractions of width / height); scale ~ 1 + U(-scale, scale); brightness ~
    U(-brightness, brightness); contrast ~ 1 + U(-contrast, contrast); gamma ~ exp(U(-gamma,
    gamma)) (``gamma`` is a log range, so brightening and darkening are equally likely: 0.1 gives
    exponents in [0.905, 1.105]); the noise standard deviation is ``noise`` for every one, with
    its own noise seed. A magnitude of 0 switches its factor off.

    Returns:
        list of ``n`` :class:`Perturbation`; the same arguments give the same list.
    Raises:
        ValueError: ``n < 1`` or a negative magnitude.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    magnitudes = {"rotation": rotation, "translate": translate, "scale": scale,
                  "brightness": brightness, "contrast": contrast, "gamma": gamma, "noise": noise}
    negative = {k: v for k, v in magnitudes.items() if v < 0}
    if negative:
        raise ValueError(f"magnitudes must be >= 0, got {negative}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        u = rng.uniform(-1.0, 1.0, 7)
        out.append(Perturbation(
            name=f"tta{i:02d}", rotation=float(rotation * u[0]),
            translate=(float(translate * u[1]), float(translate * u[2])),
            scale=float(1 + scale * u[3]), brightness=float(brightness * u[4]),
            contrast=float(1 + contrast * u[5]), gamma=float(math.exp(gamma * u[6])),
            noise=float(noise), seed=int(rng.integers(2**31 - 1))))
    return out


# Chapter 06's params that define its TTA perturbations (the count, each magnitude, the seed).
TTA_PARAMS = ("tta_count", "tta_rotation", "tta_translate", "tta_scale", "tta_brightness",
              "tta_contrast", "tta_gamma", "tta_noise", "seed")


def tta_perturbations_from_params(params: Mapping[str, Any]) -> list[Perturbation]:
    """Chapter 06's test-time perturbations from its params: :func:`tta_perturbations` with
    ``n = params["tta_count"]``, each magnitude ``params["tta_<factor>"]`` (rotation, translate,
    scale, brightness, contrast, gamma, noise) and ``params["seed"]``.

    Args:
        params: chapter 06's params mapping (its notebook parameters, or what it recorded,
            ``tmvlib.config.chapter_params(run_id, "06_stability")``); the keys of
            :data:`TTA_PARAMS` are read, any other key is ignored.
    Returns:
        the same list chapter 06 used (chapters 07 and the trust card call this to repeat it).
    Raises:
        KeyError: a key of :data:`TTA_PARAMS` is missing.
    """
    missing = [k for k in TTA_PARAMS if k not in params]
    if missing:
        raise KeyError(f"chapter 06 params lack {missing}")
    return tta_perturbations(params["tta_count"], rotation=params["tta_rotation"],
                             translate=params["tta_translate"], scale=params["tta_scale"],
                             brightness=params["tta_brightness"], contrast=params["tta_contrast"],
                             gamma=params["tta_gamma"], noise=params["tta_noise"],
                             seed=params["seed"])


def single_factor_perturbations(rotation: float = 5.0, translate: float = 0.04,
                                scale: float = 0.05, brightness: float = 0.05,
                                contrast: float = 0.1, gamma: float = 0.1, noise: float = 0.01,
                                seed: int = 0, both_signs: bool = True) -> list[Perturbation]:
    """One perturbation per factor at its largest magnitude in :func:`tta_perturbations`, to see
    which factor moves the maps. Names are ``"<factor>+"`` (and ``"<factor>-"`` with
    ``both_signs``): rotation by +-rotation, translation by +-translate along both axes at once,
    scale 1 +- scale, brightness +-brightness, contrast 1 +- contrast, gamma exp(+-gamma), and
    ``noise`` (sign-free, once). Factors with magnitude 0 are left out."""
    signs = (1, -1) if both_signs else (1,)
    out = []
    for sign in signs:
        mark = "+" if sign > 0 else "-"
        candidates = [
            (rotation, {"rotation": sign * rotation}),
            (translate, {"translate": (sign * translate, sign * translate)}),
            (scale, {"scale": 1 + sign * scale}),
            (brightness, {"brightness": sign * brightness}),
            (contrast, {"contrast": 1 + sign * contrast}),
            (gamma, {"gamma": math.exp(sign * gamma)}),
        ]
        for magnitude, params in candidates:
            if magnitude:
                factor = next(iter(params))
                out.append(Perturbation(name=f"{factor}{mark}", **params))
    if noise:
        out.append(Perturbation(name="noise", noise=noise, seed=seed))
    return out


def _forward_pixel_matrix(p: Perturbation, height: int, width: int) -> np.ndarray:
    """3x3 float64 ``T`` in centred pixel coordinates (x right, y down): content at ``u`` moves to
    ``T u``. Counter-clockwise on screen with y pointing down is ``[[c, s], [-s, c]]``."""
    angle = math.radians(p.rotation)
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = p.translate
    return np.array([[p.scale * c, p.scale * s, dx * width],
                     [-p.scale * s, p.scale * c, dy * height],
                     [0.0, 0.0, 1.0]])


def _normalized_theta(matrix: np.ndarray, height: int, width: int) -> np.ndarray:
    """A pixel-coordinate map (3x3) as ``affine_grid``'s (2, 3) theta in normalised coordinates,
    where ``align_corners=False`` puts a centred pixel coordinate u at ``2 u / size``."""
    to_normalized = np.diag([2.0 / width, 2.0 / height, 1.0])
    return (to_normalized @ matrix @ np.linalg.inv(to_normalized))[:2]


def _as_float_images(images) -> torch.Tensor:
    x = torch.as_tensor(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected images (B,1,H,W) or (B,3,H,W), got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    if not x.is_floating_point():
        raise TypeError(f"images must be uint8 or float in [0, 1], got {x.dtype}")
    return x


def _photometric(x: torch.Tensor, p: Perturbation) -> torch.Tensor:
    if p.contrast != 1 or p.brightness != 0:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * p.contrast + mean + p.brightness
    x = x.clamp(0.0, 1.0)  # also keeps pow() real: a negative base would give NaN
    if p.gamma != 1:
        x = x.pow(p.gamma)
    if p.noise:
        generator = torch.Generator().manual_seed(p.seed)  # CPU draw: same field on any device
        field = torch.randn((1, 1, *x.shape[-2:]), generator=generator, dtype=torch.float32)
        x = (x + p.noise * field.to(device=x.device, dtype=x.dtype)).clamp(0.0, 1.0)
    return x


def apply_perturbation(images, p: Perturbation) -> torch.Tensor:
    """Apply ``p`` to a batch of images.

    Args:
        images: tensor (B,1,H,W) or (B,3,H,W), float in [0, 1] intensity (not normalised with
            the ImageNet mean/std: do that afterwards) or uint8 (divided by 255). Any device.
        p: the perturbation.

    Returns:
        float tensor of the same shape and device (float32 for uint8 input): photometric
        changes, clipped to [0, 1], then the affine map about the centre (bilinear, zero
        padding). The input is not modified; the result is deterministic.
    Raises:
        ValueError / TypeError: wrong shape or dtype.
    """
    x = _as_float_images(images)
    if p.is_photometric:
        x = _photometric(x, p)
    if not p.is_geometric:
        return x if p.is_photometric else x.clone()  # never hand back the caller's tensor
    batch, _, height, width = x.shape
    inverse = np.linalg.inv(_forward_pixel_matrix(p, height, width))  # output pixel -> source
    theta = torch.as_tensor(_normalized_theta(inverse, height, width), dtype=x.dtype,
                            device=x.device).expand(batch, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=PADDING_MODE,
                         align_corners=False)


def invert_heatmap(maps, p: Perturbation):
    """Bring heatmaps computed on ``apply_perturbation(image, p)`` back to the original frame.

    Args:
        maps: (B, H, W) or (H, W), numpy array or torch tensor (any device), computed on the
            perturbed image.
        p: the perturbation that produced the image.

    Returns:
        ``(maps_in_original_frame, valid_mask)``: the maps resampled at ``T(u)`` for every
        original pixel ``u`` (bilinear, ``align_corners=False``), same shape, kind and device as
        ``maps`` (integer input becomes float32); ``valid_mask`` bool (H, W) of the same kind,
        True where ``T(u)`` lies within the span of the perturbed image's pixel centres (up to
        1e-3 px). Invalid pixels hold 0 and must be excluded from comparisons. A photometric-only
        perturbation returns a copy of ``maps`` and an all-True mask.
    Raises:
        ValueError: ``maps`` is not 2-D or 3-D.
    """
    is_numpy = not isinstance(maps, torch.Tensor)
    m = torch.as_tensor(np.asarray(maps)) if is_numpy else maps
    if m.ndim not in (2, 3):
        raise ValueError(f"maps must be (H, W) or (B, H, W), got shape {tuple(m.shape)}")
    if not m.is_floating_point():
        m = m.float()
    height, width = m.shape[-2:]
    if not p.is_geometric:
        valid = torch.ones((height, width), dtype=torch.bool, device=m.device)
        out = m.clone()
    else:
        stack = m.reshape(-1, 1, height, width)
        theta = torch.as_tensor(
            _normalized_theta(_forward_pixel_matrix(p, height, width), height, width),
            dtype=m.dtype, device=m.device)
        grid = F.affine_grid(theta.expand(stack.shape[0], 2, 3), list(stack.shape),
                             align_corners=False)
        out = F.grid_sample(stack, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False).reshape(m.shape)
        # normalised -> pixel index: align_corners=False puts index i at (2 i + 1) / size - 1
        col = ((grid[0, ..., 0] + 1) * width - 1) / 2
        row = ((grid[0, ..., 1] + 1) * height - 1) / 2
        valid = ((col >= -EDGE_TOLERANCE) & (col <= width - 1 + EDGE_TOLERANCE)
                 & (row >= -EDGE_TOLERANCE) & (row <= height - 1 + EDGE_TOLERANCE))
        out = out * valid  # zero padding already gives ~0 outside; make the edge band exact
    if is_numpy:
        return out.numpy(), valid.numpy()
    return out, valid

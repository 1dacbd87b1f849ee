"""Decode a table of images once into one uint8 tensor, so epochs never touch the disk."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from ..progress import progress_bar

from .images import load_image


def load_image_tensor(frame: pd.DataFrame, size: int = 224, progress: bool = True) -> torch.Tensor:
    """Images of ``frame["path"]`` resized to ``size`` (antialiased bilinear).

    Returns:
        ``uint8`` tensor of shape ``(N, 1, size, size)`` in row order of ``frame`` (about
        ``N * size**2`` bytes: 50 kB an image at 224 px).
    """
    out = torch.empty((len(frame), 1, size, size), dtype=torch.uint8)
    for i, path in enumerate(progress_bar(frame["path"], progress, desc="decoding images",
                                  leave=False)):
        out[i] = resize_gray(load_image(path), size)
    return out


def select_images(images: torch.Tensor, image_ids, frame: pd.DataFrame) -> torch.Tensor:
    """The rows of ``images`` (any tensor with one row per image, in the order of ``image_ids``; e.g.
    :func:`load_image_tensor` of a larger table) for ``frame["image_id"]``, in ``frame``'s order:
    a subset is indexed, never decoded again.

    Raises:
        KeyError: names up to 5 image ids of ``frame`` that ``image_ids`` lacks.
    """
    position = pd.Series(np.arange(len(image_ids)), index=pd.Index(image_ids))
    wanted = frame["image_id"]
    missing = wanted[~wanted.isin(position.index)]
    if len(missing):
        raise KeyError(f"{len(missing)} image(s) were not decoded, e.g. {list(missing[:5])}")
    return images[torch.tensor(position.loc[wanted].to_numpy(), dtype=torch.long)]


def resize_gray(gray: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (H, W) -> uint8 tensor (1, size, size), antialiased bilinear (the model input)."""
    pixels = torch.from_numpy(np.ascontiguousarray(gray))[None, None].float()
    if pixels.shape[-2:] != (size, size):
        pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False)
    return pixels.round().clamp(0, 255).to(torch.uint8)[0]


def intensity_stats(grays) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, H, W) or (N, 1, H, W) -> per-image mean and std of [0, 1] intensities (float32
    (N,) each; each image's values depend on that image alone)."""
    x = np.asarray(grays, dtype=np.float32).reshape(len(grays), -1) / 255.0
    return x.mean(axis=1), x.std(axis=1)

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


class DecodedImages:
    """Every image a notebook needs, decoded once: calling it with a table returns that table's rows
    of one growing uint8 tensor, decoding only the image ids it has not seen (so a task's roles, its
    folds and a second task sharing its images never decode a file twice). A drop-in for
    ``partial(select_images, load_image_tensor(table, size), table["image_id"])`` where the tables
    are not known up front.

    Args:
        size: the side every image is resized to (:func:`load_image_tensor`).
        progress: show a progress bar while decoding.
    """

    def __init__(self, size: int, progress: bool = True):
        self.size, self.progress = size, progress
        self.images = torch.empty((0, 1, size, size), dtype=torch.uint8)
        self.paths = pd.Series(dtype=object)  # image id -> its file, in tensor row order

    def __len__(self) -> int:
        return len(self.paths)

    def __call__(self, frame: pd.DataFrame) -> torch.Tensor:
        """``frame``'s images (``image_id``, ``path``), shape ``(len(frame), 1, size, size)``, in its order.

        Raises:
            ValueError: an image id of ``frame`` names another file than when it was decoded.
        """
        rows = frame.drop_duplicates("image_id").set_index("image_id")["path"].astype(str)
        known = rows.index.isin(self.paths.index)
        moved = rows[known][rows[known] != self.paths.loc[rows.index[known]]]
        if len(moved):
            raise ValueError(f"image {moved.index[0]!r} was decoded from {self.paths[moved.index[0]]}, "
                             f"now asked for from {moved.iloc[0]}")
        new = rows[~known]
        if len(new):
            decoded = load_image_tensor(new.rename("path").to_frame(), self.size, self.progress)
            self.images = torch.cat([self.images, decoded])
            self.paths = pd.concat([self.paths, new])
        return select_images(self.images, self.paths.index, frame)


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

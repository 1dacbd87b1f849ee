"""Image loading: any 8- or 16-bit grayscale, RGB or RGBA file to one 8-bit grayscale array.

The conversion follows the prepared-data recipe of ``../shared/data/README.md``: Pillow's
``convert('L')`` (ITU-R 601-2 luma, alpha dropped) for colour files; 16-bit files are rescaled
linearly from their own min..max to 0..255, because their stored range (12-bit DICOM exports,
full 16-bit PNGs) varies by scanner and a fixed shift would leave many of them nearly black.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageLoadError

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def load_image(path: str | Path) -> np.ndarray:
    """Decode one radiograph to grayscale.

    Returns:
        ``uint8`` array of shape ``(H, W)``.

    Raises:
        ImageLoadError: the file is missing, empty, truncated or not an image; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(path, "file not found")
    if path.stat().st_size == 0:
        raise ImageLoadError(path, "file is empty")
    try:
        with Image.open(path) as image:
            image.load()  # forces full decode so truncation is caught here, not later
            return to_gray_uint8(image)
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageLoadError(path, f"corrupt or truncated ({err})") from err


def to_gray_uint8(image: Image.Image) -> np.ndarray:
    """Convert a decoded Pillow image of any supported mode to a ``uint8 (H, W)`` array."""
    if image.mode in _SIXTEEN_BIT_MODES:
        pixels = np.asarray(image, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        if high <= low:
            return np.zeros(pixels.shape, dtype=np.uint8)
        return np.round((pixels - low) / (high - low) * 255.0).astype(np.uint8)
    if image.mode == "L":
        return np.asarray(image, dtype=np.uint8).copy()
    if image.mode in {"LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "1"}:
        return np.asarray(image.convert("L"), dtype=np.uint8).copy()
    raise ValueError(f"unsupported image mode {image.mode!r}")


def check_images(frame, on_bad_image: str = "raise", exclusions=None, progress: bool = False):
    """Decode every image of ``frame`` (a records table with ``path``) once.

    Args:
        on_bad_image: ``"raise"`` stops at the first bad file with an error naming it;
            ``"exclude"`` drops bad files and records each in ``exclusions`` with its reason.

    Returns:
        ``(kept_frame, exclusions)``.
    """
    from ..progress import progress_bar
    from .exclusions import Exclusions

    if on_bad_image not in ("raise", "exclude"):
        raise ValueError(f"on_bad_image must be 'raise' or 'exclude', got {on_bad_image!r}")
    log = exclusions or Exclusions()
    bad: dict[int, str] = {}
    for index, path in progress_bar(frame["path"].items(), progress, total=len(frame),
                            desc="checking images"):
        try:
            load_image(path)
        except ImageLoadError as err:
            if on_bad_image == "raise":
                raise
            bad[index] = err.reason
    mask = frame.index.isin(list(bad))
    reasons = sorted(set(bad.values()))
    kept = log.drop(frame, mask, "image check",
                    "unreadable image" + (f" ({'; '.join(reasons)[:200]})" if reasons else ""))
    return kept, log

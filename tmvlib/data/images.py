"""Image loading: any 8- or 16-bit grayscale, RGB or RGBA file to one 8-bit grayscale array.

The conversion follows the prepared-data recipe of ``../shared/data/README.md``: Pillow's
``convert('L')`` (ITU-R 601-2 luma, alpha dropped) for colour files; 16-bit files are rescaled
linearly from their own min..max to 0..255, because their stored range (12-bit DICOM exports,
full 16-bit PNGs) varies by scanner and a fixed shift would leave many of them nearly black.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageLoadError

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


# The largest decoded image accepted, in pixels (width x height): about 7000 x 7000. Digital
# radiographs are at most about 4300 x 4300 (18 MP); a file declaring more is refused before it is
# decoded, so a small file that expands to gigabytes (a "decompression bomb") cannot exhaust
# memory. Pillow's own bomb check (Image.MAX_IMAGE_PIXELS, warning, then error at twice that)
# is turned into the same refusal.
MAX_IMAGE_PIXELS = 50_000_000


def check_file(path: Path) -> None:
    """ImageLoadError unless ``path`` is a non-empty regular file."""
    if path.is_dir():
        raise ImageLoadError(path, "is a folder; give image files")
    if not path.is_file():
        raise ImageLoadError(path, "file not found")
    if path.stat().st_size == 0:
        raise ImageLoadError(path, "file is empty")


def too_many_pixels(path: str | Path, width: int, height: int, max_pixels: int) -> ImageLoadError | None:
    """The refusal of a ``width x height`` image above ``max_pixels``, else None."""
    if width * height > max_pixels:
        return ImageLoadError(path, f"declares {width} x {height} = {width * height:,} pixels, more than "
                                    f"the limit of {max_pixels:,} (a decompression bomb or not a radiograph)")
    return None


def open_decoded(source, name: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Open ``source`` (a path or a binary file object) with Pillow, check its declared size, and
    decode it fully; returns the image (use it in a ``with`` block, which closes it).

    Every failure, whatever the decoder raised (Pillow raises ``OSError``, ``SyntaxError``,
    ``ValueError``, ``DecompressionBombError``, ``struct.error``... by format), becomes an
    :class:`ImageLoadError` naming ``name``.

    Raises:
        ImageLoadError: not an image, truncated, or larger than ``max_pixels`` (checked from
            the header, before decoding).
    """
    image = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            refusal = too_many_pixels(name, *image.size, max_pixels)
            if refusal:
                raise refusal
            image.load()  # forces the full decode so truncation is caught here, not later
        return image
    except Exception as err:
        if image is not None:
            image.close()
        if isinstance(err, ImageLoadError):
            raise
        if isinstance(err, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
            raise ImageLoadError(name, f"more pixels than Pillow accepts ({err})") from err
        if isinstance(err, UnidentifiedImageError):
            raise ImageLoadError(name, f"not an image Pillow can identify ({err})") from err
        # decoders raise many types (OSError, SyntaxError, ValueError, struct.error...)
        raise ImageLoadError(name, f"corrupt or truncated ({type(err).__name__}: {err})") from err


def decoded_image(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """:func:`open_decoded` of a file, after :func:`check_file` (missing, empty, a folder)."""
    path = Path(path)
    check_file(path)
    return open_decoded(path, path, max_pixels)


def load_image(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode one radiograph to grayscale.

    Returns:
        ``uint8`` array of shape ``(H, W)``.

    Raises:
        ImageLoadError: the file is missing, empty, truncated, not an image, or declares more
            than ``max_pixels`` pixels; the message names it.
    """
    with decoded_image(path, max_pixels) as image:
        return gray_of(image, path)


def colour_spread(image: Image.Image) -> float:
    """How far a picture is from grey: the mean of ``|R - G|`` and ``|G - B|`` in grey levels
    (0-255); 0 for an image with fewer than three bands (grey, grey + alpha)."""
    if len(image.getbands()) < 3:
        return 0.0
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return float((np.abs(rgb[..., 0] - rgb[..., 1]).mean() + np.abs(rgb[..., 1] - rgb[..., 2]).mean()) / 2)


def load_image_and_colour(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[np.ndarray, float]:
    """:func:`load_image` and the file's :func:`colour_spread`, from one decode."""
    with decoded_image(path, max_pixels) as image:
        return gray_of(image, path), colour_spread(image)


def gray_of(image: Image.Image, name: str | Path) -> np.ndarray:
    """:func:`to_gray_uint8`, with an unsupported mode reported as an :class:`ImageLoadError`
    naming ``name``."""
    try:
        return to_gray_uint8(image)
    except ValueError as err:
        raise ImageLoadError(name, str(err)) from err


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

"""Read one radiograph for the trust card, and say what it was.

PNG and JPEG go through the same conversion as the prepared data (``tmvlib.data.images``:
luma for colour files, min..max rescaling for 16-bit ones). DICOM, when pydicom is installed,
gets its modality and VOI LUTs applied (the window the scanner recommends) and MONOCHROME1
inverted, so that bone is bright as in the training images.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.errors import ImageLoadError
from ..data.images import MAX_IMAGE_PIXELS, check_file, colour_spread, decoded_image, gray_of, too_many_pixels

# Mean absolute difference between colour channels (0-255 levels) above which an RGB file is a
# colour picture rather than a grey radiograph saved as RGB (JPEG chroma noise stays below ~2).
COLOUR_SPREAD = 8.0


@dataclass
class Radiograph:
    """A decoded input: ``gray`` uint8 (H, W) plus what the file was.

    ``bit_depth`` is bits per sample of the stored pixels, ``channels`` the stored channels
    (1 grey, 3 RGB, 4 RGBA...), ``colour_spread`` the mean |R-G|, |G-B| difference in 0-255
    levels (0 for grey files), ``view`` the DICOM ViewPosition when there is one.
    """

    path: str
    gray: np.ndarray
    format: str
    mode: str
    bit_depth: int
    channels: int
    colour_spread: float = 0.0
    view: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.gray.shape[0])

    @property
    def width(self) -> int:
        return int(self.gray.shape[1])

    def describe(self) -> dict:
        """JSON-ready summary of the file (no pixels)."""
        return {"path": self.path, "format": self.format, "mode": self.mode,
                "bit_depth": self.bit_depth, "channels": self.channels, "width": self.width,
                "height": self.height, "colour_spread": round(self.colour_spread, 2),
                "view": self.view, "notes": list(self.notes)}


def is_dicom(path: Path) -> bool:
    """A DICOM Part 10 file has 'DICM' at byte 128; bare datasets are named ``*.dcm``."""
    if path.suffix.lower() in {".dcm", ".dicom"}:
        return True
    with path.open("rb") as handle:
        head = handle.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def read_radiograph(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> Radiograph:
    """Decode ``path`` (PNG, JPEG, other Pillow formats; DICOM with pydicom).

    Raises:
        ImageLoadError: missing, empty, truncated, not an image, more than ``max_pixels`` pixels
            (checked before decoding), a multi-frame or colour DICOM, or a DICOM file when
            pydicom is not installed; the message names the file.
    """
    path = Path(path)
    check_file(path)
    if is_dicom(path):
        return _read_dicom(path, max_pixels)
    try:
        with decoded_image(path, max_pixels) as image:
            gray = gray_of(image, path)
            bands = image.getbands()
            bit_depth = 16 if image.mode.startswith("I;16") or image.mode == "I" else 8
            spread = colour_spread(image)
            return Radiograph(str(path), gray, image.format or path.suffix.lstrip("."), image.mode,
                              bit_depth, len(bands), spread)
    except ImageLoadError as err:
        raise ImageLoadError(path, f"not a readable image: {err.reason}; the trust card reads PNG, "
                                   "JPEG and, with pydicom installed, DICOM") from err


def _read_dicom(path: Path, max_pixels: int) -> Radiograph:
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError as err:
        raise ImageLoadError(path, "is DICOM, which needs pydicom: pip install 'tmvlib[dicom]'") from err
    try:
        ds = pydicom.dcmread(path)
        refusal = too_many_pixels(path, int(getattr(ds, "Columns", 0) or 0), int(getattr(ds, "Rows", 0) or 0)
                                  * int(getattr(ds, "NumberOfFrames", 1) or 1), max_pixels)
        if refusal:
            raise refusal
        pixels = ds.pixel_array
    except ImageLoadError:
        raise
    except Exception as err:  # noqa: BLE001 - pydicom raises many types for broken files
        raise ImageLoadError(path, f"not a readable DICOM image ({type(err).__name__}: {err})") from err
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    if frames > 1:
        raise ImageLoadError(path, f"is a multi-frame DICOM ({frames} frames); give one radiograph")
    if samples != 1:
        raise ImageLoadError(path, f"is a colour DICOM ({samples} samples per pixel), not a radiograph")
    values = apply_voi_lut(apply_modality_lut(pixels, ds), ds).astype(np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = np.zeros(values.shape) if high <= low else (values - low) / (high - low)
    notes = []
    if str(getattr(ds, "PhotometricInterpretation", "")) == "MONOCHROME1":
        scaled = 1.0 - scaled  # MONOCHROME1 stores bone dark
        notes.append("MONOCHROME1 inverted")
    gray = np.round(scaled * 255.0).astype(np.uint8)
    view = str(getattr(ds, "ViewPosition", "") or "").upper() or None
    return Radiograph(str(path), gray, "DICOM", str(getattr(ds, "PhotometricInterpretation", "")),
                      int(getattr(ds, "BitsStored", 8 * pixels.itemsize)), 1, 0.0, view, notes)

"""Property-based fuzzing (Hypothesis) of image decoding, in the data loader and the trust card:
random bytes, truncated and bit-flipped PNG/JPEG files, wrong extensions and huge declared sizes
each end in a ``uint8 (H, W)`` image or in the project's :class:`ImageLoadError` naming the file,
never another exception."""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from tmv_testing import png_declaring

from tmvlib.card.inputs import read_radiograph
from tmvlib.data import ImageLoadError, load_image

FUZZ = settings(max_examples=int(os.environ.get("TMV_FUZZ_EXAMPLES", 150)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
EXTENSIONS = st.sampled_from([".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".txt", ""])


def encoded(fmt: str, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 20), np.uint8)).convert(mode).save(buffer, fmt)
    return buffer.getvalue()


VALID = [encoded("PNG"), encoded("JPEG"), encoded("PNG", "RGBA"), encoded("GIF", "P"), encoded("TIFF"), encoded("BMP")]


@st.composite
def damaged(draw) -> bytes:
    kind = draw(st.sampled_from(["random", "truncated", "flipped", "valid"]))
    if kind == "random":
        return draw(st.binary(max_size=2000))
    data = bytearray(draw(st.sampled_from(VALID)))
    if kind == "truncated":
        return bytes(data[:draw(st.integers(0, len(data)))])
    if kind == "flipped":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def check(path: Path) -> None:
    for read in (load_image, lambda p: read_radiograph(p).gray):
        try:
            pixels = read(path)
        except ImageLoadError as err:
            assert str(path) in str(err)
        else:
            assert pixels.dtype == np.uint8 and pixels.ndim == 2 and min(pixels.shape) > 0


@FUZZ
@given(data=damaged(), extension=EXTENSIONS)
def test_any_bytes_decode_or_fail_with_our_error(data, extension):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"case{extension}"
        path.write_bytes(data)
        check(path)


@FUZZ
@given(width=st.integers(1, 2**31 - 1), height=st.integers(1, 2**31 - 1))
def test_any_declared_size_is_decoded_or_refused_before_decoding(width, height):
    with tempfile.TemporaryDirectory() as tmp:
        check(png_declaring(Path(tmp) / "declared.png", width, height))

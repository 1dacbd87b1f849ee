"""explain_images: chunking, conversion of uint8 radiographs, NaN refusal."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tmvlib.explain.run import explain_images
from tmvlib.models import gray_to_input


class Norm:
    mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def test_chunks_cover_every_image_in_order():
    images = torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1).expand(5, 1, 4, 4).contiguous()
    seen = []

    def explain(x):
        seen.append(len(x))
        return x[:, 0].numpy() * 0 + x[:, 0, :1, :1].numpy()  # each map = its image's value

    maps, seconds = explain_images(explain, images, Norm(), batch_size=2, progress=False)
    assert seen == [2, 2, 1] and seconds >= 0
    expected = gray_to_input(images, Norm())[:, 0].numpy()
    np.testing.assert_allclose(maps, expected)


def test_nan_map_is_refused_naming_the_row():
    images = torch.zeros(3, 1, 4, 4, dtype=torch.uint8)

    def explain(x):
        out = np.zeros((len(x), 4, 4), np.float32)
        out[-1, 0, 0] = np.nan
        return out

    with pytest.raises(ValueError, match=r"row\(s\) \[2\]"):
        explain_images(explain, images, Norm(), batch_size=3, progress=False)

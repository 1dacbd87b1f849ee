"""Decode-once image tables: ``select_images`` and ``DecodedImages``."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from tmvlib.data import tensors
from tmvlib.data.tensors import DecodedImages, load_image_tensor, select_images


def _table(folder: Path, n: int) -> pd.DataFrame:
    rows = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.fromarray(np.full((20, 24), 10 * i, dtype=np.uint8)).save(path)
        rows.append({"image_id": f"img{i}", "path": str(path)})
    return pd.DataFrame(rows)


def test_select_images_indexes_rows_in_the_frames_order(tmp_path):
    table = _table(tmp_path, 4)
    images = load_image_tensor(table, 8, progress=False)
    picked = select_images(images, table["image_id"], table.iloc[[2, 0]])
    assert torch.equal(picked, images[[2, 0]])
    with pytest.raises(KeyError, match="img9"):
        select_images(images, table["image_id"], pd.DataFrame({"image_id": ["img9"]}))


def test_decoded_images_decode_each_file_once_and_equal_a_direct_decode(tmp_path, monkeypatch):
    table = _table(tmp_path, 5)
    calls = []
    real = tensors.load_image_tensor
    monkeypatch.setattr(tensors, "load_image_tensor", lambda f, *a, **k: calls.append(len(f)) or real(f, *a, **k))
    decode = DecodedImages(8, progress=False)
    first = decode(table.iloc[[0, 1, 2]])
    second = decode(table.iloc[[4, 2, 1, 3]])  # two new, two seen
    assert calls == [3, 2] and len(decode) == 5
    direct = real(table, 8, progress=False)
    assert torch.equal(first, direct[[0, 1, 2]]) and torch.equal(second, direct[[4, 2, 1, 3]])
    assert decode(table.iloc[[1, 1]]).shape == (2, 1, 8, 8) and calls == [3, 2]  # repeats, no decode


def test_decoded_images_refuse_an_id_that_names_another_file(tmp_path):
    table = _table(tmp_path, 2)
    decode = DecodedImages(8, progress=False)
    decode(table)
    moved = table.iloc[[0]].assign(path=table["path"].iloc[1])
    with pytest.raises(ValueError, match="img0"):
        decode(moved)

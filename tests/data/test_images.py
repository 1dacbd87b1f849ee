import numpy as np
import pytest
from PIL import Image

from tmvlib.data import Exclusions, ImageLoadError, check_images, load_image


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P"])
def test_8_bit_modes_become_gray_uint8(tmp_path, mode):
    gray = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (16, 1))
    image = Image.fromarray(gray, mode="L").convert(mode)
    path = tmp_path / f"x_{mode}.png"
    image.save(path)
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (16, 32)
    assert np.abs(out.astype(int) - gray).max() <= 1


def test_rgb_uses_luma(tmp_path):
    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "red.png")
    assert load_image(tmp_path / "red.png")[0, 0] == 76  # ITU-R 601-2: 0.299 * 255


def test_16_bit_is_rescaled_to_full_range(tmp_path):
    values = np.linspace(1000, 4095, 64, dtype=np.uint16).reshape(8, 8)  # a 12-bit export
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    out = load_image(tmp_path / "deep.png")
    assert out.min() == 0 and out.max() == 255 and out.dtype == np.uint8


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageLoadError, match=r"nowhere\.png: file not found"):
        load_image(tmp_path / "nowhere.png")


def test_truncated_file_is_named(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(path, quality=95)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageLoadError, match=r"cut\.jpg: corrupt or truncated"):
        load_image(path)


def test_not_an_image_and_empty_file(tmp_path):
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="text.png"):
        load_image(tmp_path / "text.png")
    with pytest.raises(ImageLoadError, match="empty.png: file is empty"):
        load_image(tmp_path / "empty.png")


def test_check_images_raises_or_excludes_and_counts(tmp_path):
    import pandas as pd

    good = tmp_path / "good.png"
    Image.new("L", (4, 4)).save(good)
    (tmp_path / "bad.png").write_text("x")
    frame = pd.DataFrame({"image_id": ["good", "bad"], "patient_id": ["1", "2"],
                          "path": [str(good), str(tmp_path / "bad.png")]})
    with pytest.raises(ImageLoadError, match="bad.png"):
        check_images(frame)
    kept, log = check_images(frame, on_bad_image="exclude", exclusions=Exclusions())
    assert kept["image_id"].tolist() == ["good"]
    row = log.to_frame().iloc[0]
    assert (row["step"], row["images"], row["examples"]) == ("image check", 1, "bad")


@pytest.mark.parametrize("side", [8_000, 20_000])  # above our limit; above twice Pillow's
def test_a_decompression_bomb_is_refused_before_decoding_by_name(tmp_path, side):
    from tmv_testing import png_declaring

    bomb = png_declaring(tmp_path / "bomb.png", side, side)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ImageLoadError, match=r"bomb\.png.*(limit|more pixels)") as caught:
        load_image(bomb)
    assert caught.value.path == str(bomb)


def test_the_pixel_limit_is_a_parameter(tmp_path):
    Image.new("L", (40, 30)).save(tmp_path / "small.png")
    assert load_image(tmp_path / "small.png", max_pixels=1200).shape == (30, 40)
    with pytest.raises(ImageLoadError, match="1,201 pixels|1,200"):
        load_image(tmp_path / "small.png", max_pixels=1199)


def test_a_bomb_inside_a_dataset_is_excluded_and_counted(tmp_path):
    import pandas as pd
    from tmv_testing import png_declaring

    Image.new("L", (8, 8)).save(tmp_path / "good.png")
    frame = pd.DataFrame({"image_id": ["good", "bomb"], "patient_id": ["1", "2"],
                          "path": [str(tmp_path / "good.png"),
                                   str(png_declaring(tmp_path / "bomb.png", 20_000, 20_000))]})
    with pytest.raises(ImageLoadError, match="bomb.png"):
        check_images(frame, on_bad_image="raise")
    kept, log = check_images(frame, on_bad_image="exclude")
    assert kept["image_id"].tolist() == ["good"]
    row = log.to_frame().iloc[0]
    assert row["images"] == 1 and row["examples"] == "bomb"

import numpy as np
import pytest
from PIL import Image

from tmvlib.card.inputs import read_radiograph
from tmvlib.data.errors import ImageLoadError


def _gradient(h=40, w=30):
    return np.tile(np.linspace(0, 255, w, dtype=np.float64), (h, 1))


def test_8bit_gray_png_and_jpeg(tmp_path):
    pixels = _gradient().astype(np.uint8)
    for name in ("a.png", "a.jpg"):
        Image.fromarray(pixels, mode="L").save(tmp_path / name)
        r = read_radiograph(tmp_path / name)
        assert r.gray.dtype == np.uint8 and r.gray.shape == (40, 30)
        assert (r.bit_depth, r.channels, r.colour_spread) == (8, 1, 0.0)
        assert np.abs(r.gray.astype(int) - pixels).max() <= (0 if name.endswith("png") else 12)


def test_16bit_png_is_rescaled_to_its_range(tmp_path):
    pixels = (_gradient() * 16).astype(np.uint16)  # a 12-bit range stored in 16 bits
    Image.fromarray(pixels).save(tmp_path / "a.png")
    r = read_radiograph(tmp_path / "a.png")
    assert r.bit_depth == 16 and r.gray.min() == 0 and r.gray.max() == 255


def test_rgb_gray_versus_colour(tmp_path):
    gray = _gradient().astype(np.uint8)
    Image.fromarray(np.stack([gray] * 3, -1)).save(tmp_path / "grey_rgb.png")
    colour = np.stack([gray, 255 - gray, np.full_like(gray, 128)], -1)
    Image.fromarray(colour).save(tmp_path / "colour.png")
    assert read_radiograph(tmp_path / "grey_rgb.png").colour_spread == 0.0
    r = read_radiograph(tmp_path / "colour.png")
    assert r.channels == 3 and r.colour_spread > 50


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"not an image at all", "not a readable image")])
def test_bad_files_are_named(tmp_path, content, reason):
    path = tmp_path / "scan.png"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match=reason) as err:
        read_radiograph(path)
    assert str(path) in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="file not found"):
        read_radiograph(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="folder"):
        read_radiograph(tmp_path)


def _dicom(path, pixels, photometric="MONOCHROME2", view="AP", frames=None):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ViewPosition = view
    if frames:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_dicom_monochrome2_and_monochrome1(tmp_path):
    pixels = (_gradient() * 16).astype(np.uint16)
    _dicom(tmp_path / "m2.dcm", pixels)
    _dicom(tmp_path / "m1.dcm", pixels, photometric="MONOCHROME1", view="PA")
    m2, m1 = read_radiograph(tmp_path / "m2.dcm"), read_radiograph(tmp_path / "m1.dcm")
    assert (m2.format, m2.bit_depth, m2.view) == ("DICOM", 12, "AP")
    assert m2.gray[0, -1] == 255 and m2.gray[0, 0] == 0
    np.testing.assert_allclose(m1.gray, 255 - m2.gray.astype(int), atol=1)  # MONOCHROME1: bone stored dark
    assert m1.view == "PA" and "MONOCHROME1 inverted" in m1.notes


def test_multiframe_dicom_is_refused(tmp_path):
    pixels = np.stack([_gradient(), _gradient()]) * 16
    _dicom(tmp_path / "cine.dcm", pixels, frames=2)
    with pytest.raises(ImageLoadError, match="multi-frame"):
        read_radiograph(tmp_path / "cine.dcm")

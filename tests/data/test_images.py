import logging
import warnings

import numpy as np
import pytest
from PIL import Image

from medtransfer.data.images import read_image, read_image_and_tags
from medtransfer.errors import DataError

IDENTIFIERS = ("Doe", "Janet", "MRN-4711-0815", "19610203")


def test_png_grayscale_and_rgb_round_trip(tmp_path, png):
    pixels = png(tmp_path / "g.png", seed=1)
    assert np.array_equal(read_image(tmp_path / "g.png"), pixels)
    rgb = np.random.default_rng(2).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.bmp")
    assert np.array_equal(read_image(tmp_path / "c.bmp"), rgb)


def test_rgba_drops_alpha_and_16_bit_is_stretched(tmp_path):
    rgba = np.full((4, 4, 4), 200, dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png").shape == (4, 4, 3)
    deep = np.array([[1000, 2000], [3000, 5000]], dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.tif")
    assert read_image(tmp_path / "deep.tif").tolist() == [[0, 64], [128, 255]]


def test_jpeg_is_read(tmp_path):
    Image.fromarray(np.full((16, 16), 90, dtype=np.uint8)).save(tmp_path / "x.jpg", quality=95)
    image = read_image(tmp_path / "x.jpg")
    assert image.dtype == np.uint8 and image.shape == (16, 16)
    assert abs(int(image.mean()) - 90) <= 2


def test_truncated_and_non_image_files_raise_naming_the_file(tmp_path, truncated_png):
    truncated_png(tmp_path / "cut.png")
    with pytest.raises(DataError, match=r"cut\.png: corrupt or truncated"):
        read_image(tmp_path / "cut.png")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"notes\.txt: not a readable image"):
        read_image(tmp_path / "notes.txt")
    with pytest.raises(DataError, match=r"nothere\.png: no such image file"):
        read_image(tmp_path / "nothere.png")


def test_dicom_rescale_and_window(tmp_path, dicom, dicom_pixels):
    dicom(tmp_path / "a.dcm", dicom_pixels)
    values = 2.0 * dicom_pixels - 100.0  # modality LUT: slope 2, intercept -100
    expected = np.round(np.clip(values / 1000.0, 0, 1) * 255).astype(np.uint8)  # window 0..1000
    assert np.array_equal(read_image(tmp_path / "a.dcm"), expected)


def test_dicom_monochrome1_is_inverted_and_no_window_is_min_max(tmp_path, dicom, dicom_pixels):
    dicom(tmp_path / "m1.dcm", dicom_pixels, photometric="MONOCHROME1")
    dicom(tmp_path / "m2.dcm", dicom_pixels)
    assert np.array_equal(read_image(tmp_path / "m1.dcm"), 255 - read_image(tmp_path / "m2.dcm"))
    dicom(tmp_path / "raw.dcm", dicom_pixels, window=None)
    stretched = read_image(tmp_path / "raw.dcm")
    assert stretched.min() == 0 and stretched.max() == 255


def test_extensionless_dicom_is_detected(tmp_path, dicom, dicom_pixels):
    dicom(tmp_path / "IM0001", dicom_pixels)
    assert read_image(tmp_path / "IM0001").shape == dicom_pixels.shape


def test_dicom_identifiers_never_leave_the_file(tmp_path, dicom, dicom_pixels, caplog):
    dicom(tmp_path / "p.dcm", dicom_pixels)
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, tags = read_image_and_tags(tmp_path / "p.dcm")
    assert tags == {"modality": "CR", "manufacturer": "AcmeRay", "body_part": "CHEST"}
    seen = caplog.text + str(tags) + " ".join(str(w.message) for w in caught)
    assert not any(word in seen for word in IDENTIFIERS)


def test_broken_dicom_raises_naming_the_file(tmp_path, dicom, dicom_pixels):
    dicom(tmp_path / "cut.dcm", dicom_pixels)
    data = (tmp_path / "cut.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) - 40])
    with pytest.raises(DataError, match=r"cut\.dcm: cannot decode .*less than expected.*re-export"):
        read_image(tmp_path / "cut.dcm")
    (tmp_path / "junk.dcm").write_bytes(b"\x00" * 10)
    with pytest.raises(DataError, match=r"junk\.dcm: corrupt or truncated DICOM"):
        read_image(tmp_path / "junk.dcm")


def _edit_dicom(path, **changes):
    import pydicom

    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)


def test_dicom_without_pixels_or_with_many_frames_is_refused(tmp_path, dicom, dicom_pixels):
    dicom(tmp_path / "report.dcm", dicom_pixels)
    _edit_dicom(tmp_path / "report.dcm", PixelData=None)
    with pytest.raises(DataError, match=r"report\.dcm: DICOM file without pixel data"):
        read_image(tmp_path / "report.dcm")
    dicom(tmp_path / "cine.dcm", np.vstack([dicom_pixels, dicom_pixels]))
    _edit_dicom(tmp_path / "cine.dcm", NumberOfFrames=2, Rows=6)
    with pytest.raises(DataError, match=r"cine\.dcm: multi-frame DICOM \(2 frames\)"):
        read_image(tmp_path / "cine.dcm")


def test_undecodable_compressed_dicom_names_the_transfer_syntax(tmp_path, dicom, dicom_pixels):
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLSLossless

    dicom(tmp_path / "ls.dcm", dicom_pixels)
    import pydicom

    ds = pydicom.dcmread(tmp_path / "ls.dcm")
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.PixelData = encapsulate([b"\xff\xd8garbage\xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.save_as(tmp_path / "ls.dcm")
    with pytest.raises(DataError, match=rf"ls\.dcm: cannot decode .*{JPEGLSLossless}.*gdcmconv"):
        read_image(tmp_path / "ls.dcm")


def test_an_image_with_a_one_pixel_side_is_refused(tmp_path):
    path = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((1, 5), np.uint8)).save(path)
    with pytest.raises(DataError, match=r"tiny\.png: the image is 5x1 pixels; expected at least"):
        read_image(path)

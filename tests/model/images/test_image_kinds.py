"""The images people label beyond 8-bit RGB: 16-bit grey TIFF, 4-band, BMP/WebP, multi-page TIFF,
display windowing. Tiny generated data; training runs for seconds."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from model.errors import ImageReadError
from model.images.display import DisplayWindow, display_rgb
from model.images.imageio import IMAGE_SUFFIXES, image_size, read_image, read_raw
from model.inference.predict import Predictor
from model.inference.propose import propose_dataset
from model.nets import normalization as nz
from model.nets.config import TrainConfig
from model.project.project import Project
from model.registry.modelfile import load_model
from model.training.train import train_dataset

CODES = ["Background", "Cell", "Void"]
TINY = dict(arch="Unet", encoder="resnet18", encoder_weights=None, size=[64, 64], scale=1.0, batch_size=2,
            threads=2, checkpoint_every=0, epochs=1)


def _scene(rng, h=64, w=80):
    """Mask with a few discs (class 1) on background, a Void strip."""
    mask = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(3):
        cy, cx, r = rng.integers(8, h - 8), rng.integers(8, w - 8), rng.integers(4, 9)
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 1
    mask[:, :2] = 2
    return mask


def _dataset(root, write_image, count=4, suffix=".tif", h=64, w=80):
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "codes.txt").write_text("\n".join(CODES) + "\n")
    names = []
    for i in range(count):
        mask = _scene(rng, h, w)
        name = f"im{i}"
        write_image(root / "images" / f"{name}{suffix}", mask, rng)
        Image.fromarray(mask).save(root / "labels" / f"{name}_P.png")
        names.append(name)
    (root / "valid.txt").write_text(f"{names[0]}{suffix}\n")
    return root


def _grey16(path, mask, rng):
    """Low-contrast 12-bit microscopy: cells at ~900, background ~700, noise; stored as uint16."""
    data = 700 + 200 * (mask == 1) + rng.normal(0, 15, mask.shape)
    tifffile.imwrite(path, data.astype(np.uint16))


def _four_band(path, mask, rng):
    """RGB + near-infrared, 8-bit; only the 4th band shows the cells."""
    data = rng.integers(90, 110, (*mask.shape, 4)).astype(np.uint8)
    data[..., 3] = np.where(mask == 1, 200, 40).astype(np.uint8)
    tifffile.imwrite(path, data, photometric="rgb", extrasamples=["unspecified"])


def test_suffixes_cover_tiff_bmp_webp():
    assert {".tif", ".tiff", ".bmp", ".webp", ".png", ".jpg"} <= set(IMAGE_SUFFIXES)


def test_raw_keeps_dtype_and_bands_for_each_format(tmp_path):
    rng = np.random.default_rng(1)
    grey16 = rng.integers(0, 4096, (30, 40), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "g.tif", grey16)
    Image.fromarray(grey16).save(tmp_path / "g.png")
    rgb = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.bmp")
    Image.fromarray(rgb).save(tmp_path / "c.webp", lossless=True)
    bands = rng.integers(0, 60000, (30, 40, 5), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "b.tif", bands, planarconfig="contig", photometric="minisblack")
    for name in ("g.tif", "g.png"):
        raw = read_raw(tmp_path / name)
        assert raw.shape == (30, 40, 1) and raw.dtype == np.uint16 and np.array_equal(raw[..., 0], grey16)
    for name in ("c.bmp", "c.webp"):
        assert np.array_equal(read_raw(tmp_path / name), rgb)
    raw = read_raw(tmp_path / "b.tif")
    assert raw.shape == (30, 40, 5) and raw.dtype == np.uint16 and np.array_equal(raw, bands)
    assert image_size(tmp_path / "b.tif") == (40, 30)
    assert read_image(tmp_path / "b.tif").shape == (30, 40, 3)


def test_multi_page_tiff_is_refused_naming_file_and_pages_unless_a_channel_stack(tmp_path):
    tifffile.imwrite(tmp_path / "zstack.tif", np.zeros((7, 20, 30), np.uint16))
    with pytest.raises(ImageReadError, match=r"zstack\.tif.*7 pages"):
        read_raw(tmp_path / "zstack.tif")
    with pytest.raises(ImageReadError, match="7 pages"):
        image_size(tmp_path / "zstack.tif")
    channels = np.arange(2 * 20 * 30, dtype=np.uint16).reshape(2, 20, 30)
    tifffile.imwrite(tmp_path / "chan.tif", channels, imagej=True, metadata={"axes": "CYX"})
    raw = read_raw(tmp_path / "chan.tif")
    assert raw.shape == (20, 30, 2) and np.array_equal(raw[..., 1], channels[1])


def test_display_window_never_changes_the_data():
    rng = np.random.default_rng(2)
    raw = rng.integers(600, 1000, (50, 60, 1), dtype=np.uint16)
    before = raw.copy()
    auto = display_rgb(raw, DisplayWindow(auto=True))
    fixed = display_rgb(raw, {"low": 600, "high": 1000, "gamma": 2.0})
    assert np.array_equal(raw, before)
    assert auto.dtype == np.uint8 and auto.shape == (50, 60, 3)
    assert auto.max() == 255 and auto.min() == 0  # low-contrast data spread over the screen range
    assert fixed.mean() > display_rgb(raw, {"low": 600, "high": 1000}).mean()  # gamma > 1 brightens
    rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    assert np.array_equal(display_rgb(rgb), rgb)  # 8-bit RGB shows as stored
    floats = rng.random((10, 12, 4)).astype(np.float32)
    kept = floats.copy()
    display_rgb(floats, DisplayWindow(auto=True, channels=(3, 2, 1)))
    assert np.array_equal(floats, kept)


def test_normalisation_rule_imagenet_for_8bit_rgb_robust_otherwise(tmp_path):
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    assert nz.kind(nz.for_dataset([tmp_path / "a.png"])) == "imagenet"
    tifffile.imwrite(tmp_path / "b.tif", (700 + rng.integers(0, 200, (20, 20))).astype(np.uint16))
    norm = nz.for_dataset([tmp_path / "b.tif"])
    assert norm["kind"] == "robust" and norm["channels"] == 1
    assert 690 < norm["low"][0] < 720 and 880 < norm["high"][0] < 900
    x = nz.apply(read_raw(tmp_path / "b.tif"), norm)
    assert abs(float(x.mean())) < 0.05 and 0.8 < float(x.std()) < 1.2
    assert nz.kind({"mean": [0.5] * 3, "std": [0.2] * 3}) == "imagenet"  # an old card


def test_16bit_grey_tiff_dataset_trains_and_proposes_full_size_masks(tmp_path):
    root = _dataset(tmp_path / "micro", _grey16)
    path = train_dataset(root, TrainConfig(**TINY))
    model = load_model(path)
    assert model.card["in_channels"] == 1 and model.card["normalization"]["kind"] == "robust"
    assert model.card["normalization"]["dtype"] == "uint16"
    assert set(model.card["metrics"]) >= {"miou", "pixel_accuracy"}  # validation ran on the raw 16-bit image
    project = Project.open(root)
    for name in project.names():  # propose for every image: drop the masks first
        project.label_path(name).unlink()
    project = Project.open(root)
    propose_dataset(project, path, device="cpu")
    for name in project.names():
        mask = project.load_mask(name)
        assert mask.shape == (64, 80) and mask.max() < len(CODES)


def test_four_band_image_end_to_end(tmp_path):
    root = _dataset(tmp_path / "rgbn", _four_band, count=4)
    path = train_dataset(root, TrainConfig(**dict(TINY, epochs=2)))
    model = load_model(path)
    assert model.card["in_channels"] == 4
    assert model.net.encoder.conv1.in_channels == 4
    raw = read_raw(root / "images" / "im1.tif")
    pred = Predictor(model, device="cpu").predict(raw)
    assert pred.mask.shape == raw.shape[:2]
    with pytest.raises(ValueError, match="3 channels but the model takes 4"):
        Predictor(model, device="cpu").predict(raw[..., :3])


def test_editor_windowing_changes_only_the_picture(qtbot):
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from labeltool.gui.editor import EditorWidget

    rng = np.random.default_rng(4)
    raw = (700 + rng.integers(0, 300, (60, 80, 1))).astype(np.uint16)  # dim 16-bit microscopy
    before = raw.copy()
    mask = np.full((60, 80), 2, np.uint8)
    editor = EditorWidget()
    qtbot.addWidget(editor)
    editor.load(raw, mask, CODES, np.array([[0, 0, 0], [255, 0, 0], [0, 0, 0]], np.uint8), 2)
    shown = editor.canvas.image.copy()
    assert shown.shape == (60, 80, 3) and shown.max() == 255  # auto-levelled, not near-black
    dialog = editor.open_display_dialog()
    dialog.auto_check.setChecked(False)
    dialog.low_spin.setValue(700)
    dialog.high_spin.setValue(2000)
    dialog.gamma_spin.setValue(0.5)
    darker = editor.canvas.image
    assert darker.mean() < shown.mean() - 50
    assert np.array_equal(editor.canvas.raw, before) and np.array_equal(editor.mask(), mask)
    assert not editor.is_dirty()  # windowing is no edit
    dialog.reject()  # Cancel restores the window the dialog opened with
    assert np.array_equal(editor.canvas.image, shown)
    chosen = []
    editor.displayChanged.connect(chosen.append)
    dialog = editor.open_display_dialog()
    dialog.auto_levels()
    dialog.accept()
    window = editor.canvas.display_window
    assert chosen == [window.to_dict()]  # what the window keeps per project (project.set_setting("display"))
    assert window is not None and not window.auto and 700 <= window.low < window.high <= 1000
    editor.load(raw + 50, mask, CODES, np.array([[0, 0, 0], [255, 0, 0], [0, 0, 0]], np.uint8), 2)
    assert editor.canvas.display_window == window  # the window stays for the next image (per project)
    editor.set_display({"gamma": -1})  # a broken saved setting falls back to the default
    assert editor.canvas.display_window is None

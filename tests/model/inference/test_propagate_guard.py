"""The neighbour warp's guard (issue 18): names like IMG_0001, IMG_0002 only say two images MAY be frames of
one video. Unrelated photos never get each other's mask; the project's sequence setting is the one rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.inference.propagate import FrameIndex, fit_check, warp_with_fit
from model.project.layout import DEFAULT_GROUP_REGEX, SEQUENCE_SETTING, project_group_regex

CAMVID = Path("/work/shared/camvid11/train")
CODES = ["Road", "Car", "Void"]


def _photo(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A random scene: a mosaic of coloured patches with fine texture; each seed another scene."""
    rng = np.random.default_rng(seed)
    patches = rng.uniform(30, 220, (h // 16 + 1, w // 16 + 1, 3))
    image = np.kron(patches, np.ones((16, 16, 1)))[:h, :w]
    texture = np.asarray(Image.fromarray(rng.integers(0, 256, (h // 2, w // 2), dtype=np.uint8)).resize((w, h)))
    return np.clip(image + (texture[..., None] - 128.0) * 0.25, 0, 255).astype(np.uint8)


def _camvid_photos(count: int) -> list[np.ndarray]:
    """One frame of each CamVid sequence (and crops of them): unrelated scenes of one kind."""
    by_seq: dict[str, Path] = {}
    for path in sorted(CAMVID.glob("*.png")):
        by_seq.setdefault(path.name.split("_")[0], path)
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in by_seq.values()]
    out = list(frames)
    for i, f in enumerate(frames):
        out.append(np.asarray(Image.fromarray(f[40 + 10 * i:280 + 10 * i, 60:380]).resize((480, 360))))
    return out[:count]


def _make_folder(root: Path, photos: list[np.ndarray]) -> list[str]:
    from model.images.imageio import write_image
    from model.project.codes import write_codes

    write_codes(root / "codes.txt", CODES)
    names = []
    for i, image in enumerate(photos, start=1):
        names.append(f"IMG_{i:04d}")
        write_image(root / "images" / f"{names[-1]}.png", image)
    return names


def _save_constant_model(root: Path, winner: int = 0) -> Path:
    import sys

    sys.path.append(str(Path(__file__).parents[2]))  # tests/: after the packages, never shadowing them
    from _inference_data import save_constant_model

    return save_constant_model(root / "models", CODES, winner)


def _check_no_mask_travels(root: Path, photos: list[np.ndarray], serve: bool = False):
    from labeltool.cli import main
    from model.images.imageio import read_mask
    from model.project.project import Project

    names = _make_folder(root, photos)
    model = _save_constant_model(root)
    h, w = photos[0].shape[:2]
    corrected = np.ones((h, w), np.uint8)  # the person's mask: all Car; the network says Road everywhere
    project = Project.open(root)
    project.save_mask(names[0], corrected, "corrected")
    assert main(["predict", str(root), "--model", str(model)]) == 0
    project = Project.open(root)
    for name in names[1:]:
        assert (read_mask(root / "labels" / f"{name}_P.png") == 0).all(), f"{names[0]}'s mask landed on {name}"
        assert "warp" not in str(project.record(name).model)
    if serve:  # the proposal child's path: the app's Prefetcher proposes the next photo after Accept
        from model.inference.prefetch import Prefetcher

        project.set_status(names[1], "none")
        prefetcher = Prefetcher(project, ahead=1, model_path=model)
        try:
            prefetcher.schedule(names, names[0])
            assert prefetcher.wait_idle(60)
        finally:
            prefetcher.close()
        assert prefetcher.proposed == [names[1]]
        assert (read_mask(root / "labels" / f"{names[1]}_P.png") == 0).all()


def test_correcting_one_synthetic_photo_never_puts_its_mask_on_the_next(tmp_path):
    _check_no_mask_travels(tmp_path, [_photo(seed) for seed in range(4)], serve=True)


@pytest.mark.skipif(not CAMVID.exists(), reason="needs the real CamVid frames")
def test_correcting_one_camvid_photo_never_puts_its_mask_on_the_next(tmp_path):
    """Frames of different CamVid sequences and crops of them, renamed IMG_0001.. (all road scenes)."""
    _check_no_mask_travels(tmp_path, _camvid_photos(5))


@pytest.mark.skipif(not CAMVID.exists(), reason="needs the real CamVid frames")
def test_consecutive_camvid_frames_fit_and_the_warp_is_used():
    frames = sorted(CAMVID.glob("0016E5_*.png"))[10:12]
    a, b = (np.asarray(Image.open(p).convert("RGB")) for p in frames)
    mask, confidence, fit, null_fit = warp_with_fit(a, np.zeros(a.shape[:2], np.uint8), b)
    assert fit_check(fit, null_fit) and confidence.shape == a.shape[:2]
    assert 0.0 < confidence.min() and confidence.max() <= 1.0 and confidence.mean() > 0.5


def test_the_sequence_setting_is_the_one_rule(tmp_path):
    from model.project.project import Project

    names = ["IMG_0001", "IMG_0002", "0001TP_006690", "0001TP_006720"]
    _make_folder(tmp_path, [_photo(i, 32, 32) for i in range(1)])
    project = Project.open(tmp_path)
    assert project_group_regex(project) == DEFAULT_GROUP_REGEX  # unset: CamVid-style names, guarded by the fit
    assert FrameIndex(names, project_group_regex(project)).neighbours("IMG_0001") == (None, "IMG_0002")
    project.set_setting(SEQUENCE_SETTING, "")  # independent photos: no sequences at all
    assert project_group_regex(project) is None
    assert FrameIndex(names, project_group_regex(project)).neighbours("0001TP_006690") == (None, None)
    project.set_setting(SEQUENCE_SETTING, r"^(\d{4}TP)_")
    assert FrameIndex(names, project_group_regex(project)).neighbours("0001TP_006690") == (None, "0001TP_006720")
    assert FrameIndex(names, project_group_regex(project)).neighbours("IMG_0001") == (None, None)


def test_split_reads_the_project_sequence_setting(tmp_path, capsys):
    from labeltool.cli import main
    from model.images.imageio import write_image, write_mask
    from model.project.codes import write_codes
    from model.project.project import Project

    write_codes(tmp_path / "codes.txt", CODES)
    for seq in ("a", "b", "c", "d"):
        for i in range(3):
            write_image(tmp_path / "images" / f"x{seq}y_{i:03d}.png", _photo(i, 16, 16))
            write_mask(tmp_path / "labels" / f"x{seq}y_{i:03d}_P.png", np.zeros((16, 16), np.uint8))
    Project.open(tmp_path).set_setting(SEQUENCE_SETTING, r"^x(.)y_")
    assert main(["split", str(tmp_path), "--valid", "0.25", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "valid: 3 images from 1 groups" in out

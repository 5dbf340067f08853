"""Generated dataset fixtures shared by the tests/test_dataset_*.py files (no tests in here)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from model.images.imageio import write_mask
from model.project.codes import write_codes

CODES = ["Sky", "Road", "Car", "Void"]
COLOURS = np.array([(128, 128, 128), (128, 64, 128), (64, 0, 128), (0, 0, 0)], dtype=np.uint8)


def rgb(width: int = 12, height: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def index_mask(width: int = 12, height: int = 8, seed: int = 0, classes: int = len(CODES)) -> np.ndarray:
    return np.random.default_rng(seed + 1000).integers(0, classes, (height, width), dtype=np.uint8)


def save_image(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def save_l_mask(path: Path, mask: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask, mode="L").save(path)
    return path


def make_native(root: Path, names=("0016E5_001", "0016E5_002", "0001TP_001", "0001TP_002", "Seq05VD_f001"),
                valid=("0001TP_001", "0001TP_002"), suffix: str = ".png", codes=CODES) -> dict[str, np.ndarray]:
    """A native dataset; returns the masks written, by name."""
    write_codes(root / "codes.txt", list(codes))
    masks = {}
    for i, name in enumerate(names):
        save_image(root / "images" / f"{name}{suffix}", rgb(seed=i))
        masks[name] = index_mask(seed=i, classes=len(codes))
        write_mask(root / "labels" / f"{name}_P.png", masks[name], COLOURS[: len(codes)])
    if valid:
        (root / "valid.txt").write_text("".join(f"{n}{suffix}\n" for n in valid))
    return masks


def make_segnet(root: Path, counts=(("train", 3), ("val", 2), ("test", 2)), lists: bool = True) -> dict[str, np.ndarray]:
    """SegNet layout with lists holding foreign absolute paths; masks are L-mode indices 0..11."""
    masks = {}
    for subset, count in counts:
        lines = []
        for i in range(count):
            name = f"{'0016E5' if subset == 'train' else '0001TP'}_{subset}{i:03d}"
            save_image(root / subset / f"{name}.png", rgb(seed=len(masks)))
            masks[name] = index_mask(seed=len(masks), classes=12)
            save_l_mask(root / f"{subset}annot" / f"{name}.png", masks[name])
            lines.append(f"/SegNet/CamVid/{subset}/{name}.png /SegNet/CamVid/{subset}annot/{name}.png\n")
        if lists:
            (root / f"{subset}.txt").write_text("".join(lines))
    return masks


def make_cvat(root: Path, subsets=(("train", 2), ("val", 1)), colours=COLOURS, codes=CODES) -> dict[str, np.ndarray]:
    """CVAT CamVid 1.0: label_colors.txt, <subset>/, <subset>annot/ RGB masks, <subset>.txt lists."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "label_colors.txt").write_text("".join(f"{r} {g} {b} {n}\n" for (r, g, b), n in zip(colours, codes,
                                                                                                   strict=True)))
    masks = {}
    for subset, count in subsets:
        lines = []
        for i in range(count):
            name = f"{subset}_{i}"
            save_image(root / subset / f"{name}.png", rgb(seed=len(masks)))
            masks[name] = index_mask(seed=len(masks), classes=len(codes))
            save_image(root / f"{subset}annot" / f"{name}.png", np.asarray(colours)[masks[name]])
            lines.append(f"/{subset}/{name}.png /{subset}annot/{name}.png\n")
        (root / f"{subset}.txt").write_text("".join(lines))
    return masks


def read_indices(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode in ("L", "P"), f"{path} is {image.mode}"
        return np.asarray(image).copy()


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (hidden ones too) with its content hash."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from labeltool.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err

"""Augmentation keeps image and mask aligned; uncovered pixels become Void; colour changes touch only the image."""

import numpy as np
import torch
from _train_data import COLOURS
from torchvision.transforms import v2

from model.nets.tiling import pad_to_multiple
from model.training.augment import NO_VOID_IGNORE, eval_transform, to_tv, train_transform

VOID = 3


def _scene(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    for cls in (1, 2, 1, 2):
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 20)
        mask[y:y + rng.integers(10, 30), x:x + rng.integers(10, 30)] = cls
    mask[:, :4] = VOID
    return COLOURS[mask], mask


def _interior(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood is all one class and lies inside the image (edges blend in the
    bilinear image; the outermost row/column is sampled differently by bilinear and nearest)."""
    m = np.pad(mask.astype(np.int16), 1, constant_values=-1)
    same = np.ones_like(mask, bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            same &= m[dy:dy + mask.shape[0], dx:dx + mask.shape[1]] == mask
    return same


def _colour_class(image: np.ndarray) -> np.ndarray:
    dist = ((image[:, :, None, :].astype(int) - COLOURS[None, None].astype(int)) ** 2).sum(-1)
    return dist.argmin(-1)


def test_every_transform_keeps_pixel_colour_and_class_aligned():
    image, mask = _scene()
    tf = train_transform((64, 96), VOID, zoom=(0.5, 2.0), rotation=30, color=False)
    for seed in range(25):
        torch.manual_seed(seed)
        img, msk = tf(*to_tv(image, mask))
        assert img.shape == (3, 64, 96) and msk.shape == (64, 96)
        img, msk = img.permute(1, 2, 0).numpy(), msk.numpy()
        assert set(np.unique(msk)) <= {0, 1, 2, VOID}
        inner = _interior(msk)
        mismatch = (_colour_class(img) != msk) & inner
        assert mismatch.sum() <= 0.002 * inner.sum(), f"seed {seed}: {mismatch.sum()} misaligned pixels"


def test_uncovered_pixels_are_void_and_black():
    image, mask = _scene()
    image = image.copy()
    mask = mask.copy()
    mask[:, :4] = 1  # no Void in the source: any Void afterwards was uncovered by the rotation
    image[:, :4] = COLOURS[1]
    # large rotations in the training transform uncover corners: Void in the mask, black in the image
    tf = train_transform((96, 128), VOID, zoom=(1.0, 1.0), rotation=45, color=False, flip=False)
    seen_void = False
    for seed in range(10):
        torch.manual_seed(seed)
        img, m = tf(*to_tv(image, mask))
        m = m.numpy()
        seen_void |= bool((m == VOID).any())
        black = (img.permute(1, 2, 0).numpy() == 0).all(-1)
        assert (m[black & _interior(m)] == VOID).all()
    assert seen_void


def test_without_void_class_uncovered_pixels_are_ignored_index():
    image, mask = _scene()
    tf = train_transform((96, 128), NO_VOID_IGNORE, zoom=(1.0, 1.0), rotation=45, color=False, flip=False)
    values = set()
    for seed in range(10):
        torch.manual_seed(seed)
        values |= set(np.unique(tf(*to_tv(image, mask))[1].numpy()).tolist())
    assert NO_VOID_IGNORE in values


def test_flip_flips_image_and_mask_together():
    image, mask = _scene(96, 128)
    tf = train_transform((96, 128), VOID, zoom=(1.0, 1.0), rotation=0, color=False)
    flipped = kept = 0
    for seed in range(20):
        torch.manual_seed(seed)
        img, msk = tf(*to_tv(image, mask))
        img, msk = img.permute(1, 2, 0).numpy().astype(int), msk.numpy()
        # the crop covers (almost) the whole image, so the output is the source, flipped or not
        as_is, mirrored = (msk == mask).mean(), (msk == mask[:, ::-1]).mean()
        if as_is > mirrored:
            kept += 1
            assert as_is > 0.98 and np.abs(img - image).mean() < 4
        else:
            flipped += 1
            assert mirrored > 0.98 and np.abs(img - image[:, ::-1]).mean() < 4
    assert flipped and kept


def test_colour_jitter_changes_the_image_not_the_mask():
    image, mask = _scene()
    tf = v2.ColorJitter(brightness=0.5, hue=0.2)
    torch.manual_seed(0)
    img, msk = tf(*to_tv(image, mask))
    assert not np.array_equal(img.permute(1, 2, 0).numpy(), image)
    assert np.array_equal(msk.numpy(), mask)


def test_crop_larger_than_the_image_is_padded_with_void_and_black():
    image, mask = _scene(60, 80)
    image, mask = image.copy(), mask.copy()
    mask[:, :4], image[:, :4] = 1, COLOURS[1]
    for tf in (train_transform((96, 128), VOID, zoom=(1.0, 1.0), rotation=0, color=False),
               eval_transform((96, 128), VOID)):
        img, msk = tf(*to_tv(image, mask))
        img, msk = img.permute(1, 2, 0).numpy(), msk.numpy()
        assert msk.shape == (96, 128) and (msk == VOID).sum() == 96 * 128 - 60 * 80
        assert (img[msk == VOID] == 0).all() and (img[msk != VOID] != 0).any(-1).all()


def test_eval_transform_is_deterministic_and_pad_reaches_multiple_of_32():
    image, mask = _scene(90, 120)
    a = eval_transform((64, 96), VOID)(*to_tv(image, mask))
    b = eval_transform((64, 96), VOID)(*to_tv(image, mask))
    assert a[0].shape == (3, 64, 96) and torch.equal(a[1], b[1])
    assert np.array_equal(a[1].numpy(), mask[13:77, 12:108])
    padded, (h, w) = pad_to_multiple(torch.zeros(1, 3, 90, 120))
    assert padded.shape[-2:] == (96, 128) and (h, w) == (90, 120)


def test_training_resamples_images_exactly_as_inference_does():
    """One resampler: an image scaled for training is the image the network sees at inference (to within
    the rounding back to 8 bits that augmentation needs), so a model is not trained on other pixels than
    it proposes from (PIL's bilinear resize, used before, was up to 1 level off)."""
    from model.nets.normalization import IMAGENET_MEAN, IMAGENET_STD
    from model.nets.tiling import to_working
    from model.training.data import to_working_scale

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(97, 131, 3), dtype=np.uint8)
    norm = {"kind": "imagenet", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
    for scale in (0.37, 0.5, 1.6):
        trained = to_working_scale(image, norm, scale)
        seen = to_working(torch.from_numpy(image).permute(2, 0, 1)[None].float(), scale)[0].permute(1, 2, 0)
        assert trained.dtype == np.uint8 and trained.shape == tuple(seen.shape)
        assert np.abs(trained.astype(np.float32) - seen.numpy()).max() <= 0.5 + 1e-4, scale

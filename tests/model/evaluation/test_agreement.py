"""Agreement between annotators (issue 19): IoU between them per class, disagreement, consensus."""

import numpy as np

from model.evaluation.agreement import disagreement, fit_staple, majority, pair_iou
from model.evaluation.metrics import confusion_matrix

VOID = 3


def test_iou_between_two_annotators_is_exact_and_leaves_void_unlisted():
    a = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3]], np.uint8)
    b = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [2, 3, 3, 3]], np.uint8)
    iou = pair_iou(confusion_matrix(a, b, 4), VOID)
    assert np.isclose(iou[0], 3 / 4)      # A has 4 zeros, B 3 of them
    assert np.isclose(iou[1], 4 / 5)
    assert np.isclose(iou[2], 1 / 2)      # B called one of A's class-2 pixels Void: a disagreement for class 2
    assert np.isnan(iou[VOID])            # Void is not a scored class
    assert np.isclose(pair_iou(confusion_matrix(b, a, 4), VOID)[:3], iou[:3]).all()  # symmetric


def test_majority_leaves_ties_undecided_instead_of_picking_a_side():
    a = np.array([[0, 1, 2]], np.uint8)
    b = np.array([[0, 1, 1]], np.uint8)
    c = np.array([[0, 2, 0]], np.uint8)
    mask, undecided = majority([a, b, c], 4)
    assert mask[0, 0] == 0 and mask[0, 1] == 1 and not undecided[0, :2].any()
    assert undecided[0, 2]                 # 2, 1, 0: one vote each
    two, tie = majority([a, b], 4)
    assert tie.tolist() == [[False, False, True]]
    assert disagreement([a, b], 4).tolist() == [[0.0, 0.0, 0.5]]


def test_staple_trusts_the_careful_annotator_and_beats_the_majority():
    rng = np.random.default_rng(0)
    classes = 4
    truths = [rng.integers(0, classes, (40, 50)).astype(np.uint8) for _ in range(4)]

    def annotate(truth, wrong):
        mask = truth.copy()
        flip = rng.random(truth.shape) < wrong
        mask[flip] = (truth[flip] + rng.integers(1, classes, int(flip.sum()))) % classes  # always another class
        return mask

    images = [[annotate(t, 0.02), annotate(t, 0.4), annotate(t, 0.4)] for t in truths]
    fitted = fit_staple(images, classes)
    careful, sloppy, sloppier = fitted.reliability()
    assert careful > 0.95 and sloppy < 0.7 and sloppier < 0.7
    staple_right = np.mean([(fitted.consensus(m)[0] == t).mean() for m, t in zip(images, truths, strict=True)])
    majority_right = np.mean([(majority(m, classes)[0] == t).mean() for m, t in zip(images, truths, strict=True)])
    assert staple_right > 0.97 and staple_right > majority_right + 0.02

"""Confusion matrix and metrics against hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model.evaluation.metrics import ConfusionAccumulator, confusion_matrix, metrics_from_confusion

NAMES = ["Sky", "Road", "Car", "Void"]
VOID = 3


def _case():
    target = np.array([[0, 0, 1, 1], [2, 3, 3, 1]], dtype=np.uint8)
    pred = np.array([[0, 1, 1, 1], [0, 2, 0, 1]], dtype=np.uint8)
    return pred, target


def test_confusion_matrix_hand_computed_rows_truth_cols_pred():
    pred, target = _case()
    cm = confusion_matrix(pred, target, 4, ignore_index=VOID)
    expected = np.array([
        [1, 1, 0, 0],
        [0, 3, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 0],  # Void truth is never counted
    ])
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, expected)


def test_without_ignore_index_void_row_is_counted():
    pred, target = _case()
    cm = confusion_matrix(pred, target, 4)
    assert cm[3].tolist() == [1, 0, 1, 0]
    assert cm.sum() == pred.size


def test_metrics_hand_computed():
    pred, target = _case()
    m = metrics_from_confusion(confusion_matrix(pred, target, 4, VOID), NAMES, VOID)
    assert m["pixel_accuracy"] == pytest.approx(4 / 6)
    assert m["error_rate_non_void"] == pytest.approx(2 / 6)
    assert set(m["per_class_iou"]) == {"Sky", "Road", "Car"}  # Void not listed
    assert m["per_class_iou"]["Sky"] == pytest.approx(1 / 3)  # tp1 fp1 fn1
    assert m["per_class_iou"]["Road"] == pytest.approx(3 / 4)  # tp3 fp1 fn0
    assert m["per_class_iou"]["Car"] == pytest.approx(0.0)  # tp0 fp0 fn1
    assert m["miou"] == pytest.approx((1 / 3 + 3 / 4 + 0) / 3)
    assert m["per_class"]["Road"] == {
        "tp": 3, "fp": 1, "fn": 0, "support": 3, "iou": pytest.approx(0.75),
        "recall": pytest.approx(1.0), "precision": pytest.approx(0.75),
    }
    assert m["num_pixels"] == 6
    json.dumps(m)  # JSON-ready: no numpy scalars, no NaN


def test_accuracy_equals_fastai_acc_camvid_and_void_prediction_is_an_error():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, size=(3, 17, 23))
    pred = rng.integers(0, 4, size=(3, 17, 23))  # includes predictions of Void
    mask = target != VOID
    acc_camvid = float((pred[mask] == target[mask]).mean())
    m = metrics_from_confusion(confusion_matrix(pred, target, 4, VOID), NAMES, VOID)
    assert m["pixel_accuracy"] == pytest.approx(acc_camvid)
    # truth Sky predicted Void: an error (fn of Sky), not skipped
    m2 = metrics_from_confusion(confusion_matrix(np.array([3, 0]), np.array([0, 0]), 4, VOID), NAMES, VOID)
    assert m2["pixel_accuracy"] == pytest.approx(0.5)
    assert m2["per_class_iou"]["Sky"] == pytest.approx(0.5)


def test_absent_class_is_none_and_left_out_of_miou():
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 0, 1, 0])
    m = metrics_from_confusion(confusion_matrix(pred, target, 4, VOID), NAMES, VOID)
    assert m["per_class_iou"]["Car"] is None
    assert m["miou"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_accumulation_over_batches_equals_whole_split_not_batch_average():
    rng = np.random.default_rng(1)
    targets = [rng.integers(0, 4, size=(n, 8, 8)) for n in (1, 5, 2)]
    preds = [np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, 4, size=t.shape)) for t in targets]
    acc = ConfusionAccumulator(4, VOID)
    for p, t in zip(preds, targets, strict=True):
        acc.update(torch.from_numpy(p), torch.from_numpy(t))
    whole = confusion_matrix(np.concatenate(preds), np.concatenate(targets), 4, VOID)
    np.testing.assert_array_equal(acc.matrix, whole)
    m = acc.metrics(NAMES)
    batch_mean = np.mean([metrics_from_confusion(confusion_matrix(p, t, 4, VOID), NAMES, VOID)["pixel_accuracy"]
                          for p, t in zip(preds, targets, strict=True)])
    split_acc = metrics_from_confusion(whole, NAMES, VOID)["pixel_accuracy"]
    assert m["pixel_accuracy"] == pytest.approx(split_acc)
    assert m["pixel_accuracy"] != pytest.approx(batch_mean, abs=1e-9)


def test_torch_and_numpy_inputs_agree():
    rng = np.random.default_rng(2)
    t = rng.integers(0, 4, size=(2, 9, 7))
    p = rng.integers(0, 4, size=(2, 9, 7))
    np.testing.assert_array_equal(
        confusion_matrix(torch.from_numpy(p), torch.from_numpy(t).to(torch.uint8), 4, VOID),
        confusion_matrix(p, t, 4, VOID),
    )


def test_out_of_range_class_raises_with_the_value():
    with pytest.raises(ValueError, match="7"):
        confusion_matrix(np.array([0, 1]), np.array([0, 7]), 4, VOID)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(np.zeros((2, 2)), np.zeros((2, 3)), 4)
    # ignored label values (e.g. 255 as ignore) are fine
    cm = confusion_matrix(np.array([0, 1]), np.array([0, 255]), 4, ignore_index=255)
    assert cm.sum() == 1

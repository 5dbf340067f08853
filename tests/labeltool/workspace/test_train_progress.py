"""The window's reading of training events: progress by the clock with a budget, by steps without."""

from labeltool.workspace.train_progress import TrainProgress


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_budgeted_run_progresses_with_time_even_when_epochs_are_replanned():
    clock = Clock()
    progress = TrainProgress(clock)
    assert "12 images" in progress.update({"event": "start", "epochs": 400, "images": 12, "time_budget": 60})
    clock.now += 30
    text = progress.update({"event": "epoch_end", "epoch": 3, "epochs": 7, "metrics": {"pixel_accuracy": 0.915}})
    assert progress.value == 500
    assert text == "Training: epoch 3/7 done, validation accuracy 91.5%, about 35 s left"  # 30 s of 60 + scoring
    clock.now += 100
    progress.update({"event": "step", "epoch": 8, "step": 1, "steps": 2, "loss": 0.5})
    assert progress.value == 999  # never shows "done" before the done event


def test_run_without_budget_progresses_by_steps():
    progress = TrainProgress(Clock())
    progress.update({"event": "start", "epochs": 2, "images": 4})
    assert progress.update({"event": "step", "epoch": 1, "step": 1, "steps": 4, "loss": 1.23456,
                            "seconds": 2.0}) == "Training: epoch 1/2, loss 1.235, about 19 s left"
    assert progress.value == 125
    progress.update({"event": "step", "epoch": 2, "step": 2, "steps": 4, "loss": None})
    assert progress.value == 750
    assert progress.update({"event": "notice", "message": "fine-tuning model-x"}) == "fine-tuning model-x"
    assert progress.update({"event": "checkpoint", "path": "x"}) is None


def test_curves_and_eta_for_the_live_chart():
    progress = TrainProgress(Clock())
    progress.update({"event": "start", "epochs": 400, "images": 4, "time_budget": 60, "steps_per_epoch": 2})
    progress.update({"event": "step", "epoch": 1, "step": 1, "steps": 2, "loss": 1.5, "epochs": None, "seconds": 3})
    assert "/400" not in progress.update({"event": "step", "epoch": 1, "step": 2, "steps": 2, "loss": 1.0,
                                          "epochs": 9, "seconds": 6})
    progress.update({"event": "epoch_end", "epoch": 1, "epochs": 9, "train_loss": 1.25, "seconds": 7,
                     "metrics": {"pixel_accuracy": 0.8, "miou": 0.4}})
    assert progress.loss == [(3.0, 1.5), (6.0, 1.0)] and progress.epoch_loss == [(7.0, 1.25)]
    assert progress.validation == [(7.0, {"pixel_accuracy": 0.8, "miou": 0.4})]
    assert progress.eta() == 60 - 7 + 5

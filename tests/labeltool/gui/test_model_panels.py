"""The window's model docks: live chart, Retrain options, proposals in a child process image by image."""

import numpy as np
from _train_data import CODES, make_dataset
from PySide6.QtWidgets import QMainWindow

from labeltool.gui.model_jobs import ModelJobs
from labeltool.gui.retrain_dialog import RetrainDialog
from labeltool.gui.train_chart import TrainChart
from labeltool.workspace.retrain import options_to_args, retrain_options
from labeltool.workspace.train_progress import TrainProgress
from model.nets.networks import make_net, normalization
from model.project.project import Project
from model.registry.modelfile import make_card, save_model
from model.training.defaults import project_working_scale
from model.training.train_lock import train_lock


def test_live_chart_draws_loss_and_validation_with_an_eta(qtbot):
    chart = TrainChart()
    qtbot.addWidget(chart)
    progress = TrainProgress()
    chart.start(progress)
    events = [{"event": "start", "epochs": 400, "time_budget": 60, "steps_per_epoch": 2, "images": 5,
               "valid_images": 1}]
    for epoch in (1, 2):
        for step in (1, 2):
            events.append({"event": "step", "epoch": epoch, "step": step, "steps": 2, "loss": 1.0 / (epoch + step),
                           "epochs": 12, "seconds": 4.0 * epoch + step})
        events.append({"event": "epoch_end", "epoch": epoch, "epochs": 12, "train_loss": 0.5 / epoch,
                       "seconds": 4.0 * epoch + 2.5, "metrics": {"miou": 0.3 * epoch, "pixel_accuracy": 0.4 * epoch}})
    for event in events:
        progress.update(event)
        chart.on_event(event)
    chart.redraw()
    assert len(chart.step_curve.getData()[0]) == 4 and list(chart.miou_curve.getData()[1]) == [0.3, 0.6]
    assert "epoch 2 of 12" in chart.header.text() and "left" in chart.header.text()
    chart.on_event({"event": "done", "model": "/d/models/model-x.safetensors", "seconds": 61, "promoted": False,
                    "active": "model-old.safetensors", "metrics": {"miou": 0.6}, "validation_images": 1})
    assert "not promoted" in chart.header.text() and "model-old" in chart.header.text()


def test_retrain_options_are_saved_with_the_project_and_used_by_the_next_retrain(tmp_path, qtbot):
    project = Project.open(make_dataset(tmp_path / "ds", count=2))
    dialog = RetrainDialog(project)
    qtbot.addWidget(dialog)
    dialog.arch.setCurrentText("FPN")
    dialog.budget.setValue(120)
    dialog.scale.setValue(0.5)
    assert dialog.save() == {"arch": "FPN", "time_budget": 120.0, "scale": 0.5}
    again = Project.open(project.root)
    assert retrain_options(again) == {"arch": "FPN", "time_budget": 120.0}
    assert options_to_args(retrain_options(again)) == ["--arch", "FPN", "--time-budget", "120.0"]
    assert project_working_scale(again) == 0.5  # the one working-scale setting training and proposing read
    assert RetrainDialog(again).options() == dialog.options()


def test_proposals_run_in_a_child_process_and_report_each_image(tmp_path, qtbot):
    root = make_dataset(tmp_path / "ds", count=3)
    for name in ("img01", "img02"):
        (root / "labels" / f"{name}_P.png").unlink()
    card = make_card(arch="Unet", encoder="resnet18", classes=CODES, void_index=3, normalization=normalization(),
                     input_size=[64, 64], training_images=["img00"])
    save_model(root / "models", make_net("Unet", "resnet18", len(CODES)), card)
    project = Project.open(root)
    jobs = ModelJobs()
    one, done = [], []
    jobs.proposed_one.connect(one.append)
    jobs.proposed.connect(done.append)
    with qtbot.waitSignal(jobs.finished, timeout=180_000):
        jobs.propose(project)
    assert sorted(one) == ["img01", "img02"] and sorted(done[0]) == ["img01", "img02"]
    assert not jobs.busy()
    fresh = Project.open(root)
    assert fresh.status("img01") == "proposed" and fresh.status("img00") == "corrected"
    assert np.asarray(fresh.load_mask("img02")).shape == (64, 64)


def test_install_adds_the_docks_and_follows_the_jobs(tmp_path, qtbot):
    from labeltool.gui import model_panels

    window = QMainWindow()
    qtbot.addWidget(window)
    window.jobs = ModelJobs(window)
    window.session = None
    docks = model_panels.install(window)
    assert docks.models_dock.widget() is docks.panel and docks.chart_dock.isHidden()
    progress = TrainProgress()
    window.jobs.train_started.emit(progress)
    assert not docks.chart_dock.isHidden() and docks.chart.progress is progress
    assert any(a.text() == "Retrain options…" for m in window.menuBar().actions() if m.menu()
               for a in m.menu().actions())


def test_app_retrain_is_refused_while_a_terminal_trains_the_same_dataset(tmp_path, qtbot):

    root = make_dataset(tmp_path / "ds", count=4)
    jobs = ModelJobs()
    failed = []
    jobs.failed.connect(lambda title, text: failed.append(text))
    with train_lock(root / "models", by="labeltool train in a terminal"):
        with qtbot.waitSignal(jobs.finished, timeout=180_000):
            jobs.retrain(Project.open(root), 4)
    assert failed and "already being trained by labeltool train in a terminal (pid" in failed[0]
    assert not list((root / "models").glob("model-*"))


def test_a_retrain_turned_down_names_the_model_it_lost_to():
    """The gate compares with the active and the best model; the Models panel says which one(s)."""
    from labeltool.gui.models_panel import marks_text

    row = {"promoted": False, "compared_with": "model-b.safetensors", "compared_miou": 0.52,
           "compared_best": "model-a.safetensors", "compared_best_miou": 0.61}
    assert marks_text(row) == "not promoted (active model-b: mIoU 0.520; best model-a: mIoU 0.610)"
    row["compared_best"] = "model-b.safetensors"  # the active model is the best: named once
    assert marks_text(row) == "not promoted (active model-b: mIoU 0.520)"

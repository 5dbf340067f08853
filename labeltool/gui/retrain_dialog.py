"""Retrain options without code: architecture, encoder, time budget and working scale, saved with the
project's settings and used by every later "Retrain on my corrections" of that project: the first three as
``project.set_setting("retrain", {...})`` (passed to `labeltool train`), the scale as the project's
``working_scale`` setting, which training and proposing read themselves (model.training.defaults). Unset choices keep
the one-click defaults."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from labeltool.workspace.retrain import check_working_scale, retrain_options, save_options, saved_working_scale

DEFAULT = "(default)"


def architectures() -> list[str]:
    from model.nets.config import ARCHS

    return list(ARCHS)


def encoders() -> list[str]:
    from model.nets.config import ENCODERS

    return [*ENCODERS, "vgg16_bn"] if "vgg16_bn" not in ENCODERS else list(ENCODERS)


class RetrainDialog(QDialog):
    def __init__(self, project, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Retrain options")
        self.project = project
        options = dict(retrain_options(project), scale=saved_working_scale(project))
        self.arch = QComboBox()
        self.arch.addItems([DEFAULT, *architectures()])
        self.encoder = QComboBox()
        self.encoder.setEditable(True)  # any smp encoder name
        self.encoder.addItems([DEFAULT, *encoders()])
        self.budget = QSpinBox()
        self.budget.setRange(0, 24 * 3600)
        self.budget.setSingleStep(30)
        self.budget.setSuffix(" s")
        self.budget.setSpecialValueText(DEFAULT)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0.0, 4.0)
        self.scale.setSingleStep(0.05)
        self.scale.setDecimals(2)
        self.scale.setSpecialValueText(DEFAULT)
        self._set(options)
        note = QLabel("Unset options keep the defaults for this computer (U-Net/ResNet18 at half scale and "
                      "about 4 minutes on a CPU; ResNet34 at full scale on a GPU). A new architecture or encoder "
                      "trains a new model from scratch; SegNet uses the vgg16_bn encoder.")
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Architecture", self.arch)
        form.addRow("Encoder", self.encoder)
        form.addRow("Time budget", self.budget)
        form.addRow("Working scale", self.scale)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel | QDialogButtonBox.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.RestoreDefaults).clicked.connect(lambda: self._set({}))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _set(self, options: dict) -> None:
        self.arch.setCurrentText(options.get("arch") or DEFAULT)
        self.encoder.setCurrentText(options.get("encoder") or DEFAULT)
        self.budget.setValue(int(options.get("time_budget") or 0))
        self.scale.setValue(float(options.get("scale") or 0.0))

    def options(self) -> dict:
        """The choices made ({} = all defaults)."""
        out: dict = {}
        if self.arch.currentText() != DEFAULT:
            out["arch"] = self.arch.currentText()
        encoder = self.encoder.currentText().strip()
        if encoder and encoder != DEFAULT:
            out["encoder"] = encoder
        elif out.get("arch") == "SegNet":
            out["encoder"] = "vgg16_bn"
        if self.budget.value():
            out["time_budget"] = float(self.budget.value())
        if self.scale.value() > 0:
            out["scale"] = round(float(self.scale.value()), 2)
        return out

    def save(self) -> dict:
        options = self.options()
        save_options(self.project, options)
        return options

    def accept(self) -> None:
        from model.nets.config import ConfigError, TrainConfig

        try:  # refuse what `labeltool train` would refuse, naming the option
            options = self.options()
            check_working_scale(options.get("scale"))
            TrainConfig.from_dict(dict(options), source="Retrain options")
        except (ConfigError, ValueError) as exc:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.warning(self, "Retrain options", str(exc))
            return
        self.save()
        super().accept()

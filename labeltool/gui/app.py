"""Start the Qt application and open a folder (asking for one when none is given)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication


def run_app(folder: str | None = None) -> int:
    from labeltool.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("labeltool")
    icon = Path(__file__).resolve().parents[2] / "resources" / "icons" / "labeltool.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    if folder:
        window.open_folder(folder)
    else:
        window.ask_open_folder()
    return app.exec()

"""Start the Qt application and open a folder (asking for one when none is given)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication


def icon_path() -> Path | None:
    """The app icon: from the source checkout, else where the wheel installs it (share/icons/...)."""
    candidates = [Path(__file__).resolve().parents[2] / "resources" / "icons" / "labeltool.svg",
                  Path(sys.prefix) / "share" / "icons" / "hicolor" / "scalable" / "apps" / "labeltool.svg"]
    return next((p for p in candidates if p.exists()), None)


def run_app(folder: str | None = None) -> int:
    from labeltool.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("labeltool")
    icon = icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    from labeltool.gui.models_panel import preload_engine

    preload_engine()  # torch loads in the background while the window opens
    window = MainWindow()
    window.resize(1280, 800)
    from labeltool.gui import preferences

    preferences.restore(window)  # recent folders, brush size, opacity, window layout
    app.aboutToQuit.connect(lambda: preferences.store(window))
    window.show()
    if folder:
        window.open_folder(folder)
    else:
        window.ask_open_folder()
    return app.exec()

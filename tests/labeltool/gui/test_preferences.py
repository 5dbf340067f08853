"""Preferences survive a restart: recent folders, brush size, opacity, wand tolerance, window geometry."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtWidgets import QMainWindow  # noqa: E402

from labeltool.gui import preferences  # noqa: E402
from labeltool.gui.editor import EditorWidget  # noqa: E402


class Window(QMainWindow):
    """What preferences needs of the main window: editor, a File menu, open_folder, session."""

    def __init__(self):
        super().__init__()
        self.editor = EditorWidget(self)
        self.setCentralWidget(self.editor)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("Open folder…")
        file_menu.addAction("Save")
        self.session = None
        self.opened = []

    def open_folder(self, folder):
        self.opened.append(folder)
        return True


@pytest.fixture
def ini(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv(preferences.ENV, str(path))
    return path


def test_settings_come_back_in_a_new_window(qtbot, ini, tmp_path):
    first = Window()
    qtbot.addWidget(first)
    first.resize(1000, 555)
    first.show()
    first.editor.set_brush_radius(17)
    first.editor.opacity_slider.setValue(80)
    first.editor.tolerance_spin.setValue(40)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    preferences.add_recent_folder(tmp_path / "a")
    first.session = SimpleNamespace(project=SimpleNamespace(root=tmp_path / "b"))
    preferences.store(first)
    assert ini.is_file()

    second = Window()
    qtbot.addWidget(second)
    preferences.restore(second)
    second.show()
    qtbot.waitExposed(second)
    assert second.editor.brush_radius() == 17 and second.editor.canvas.radius == 17
    assert second.editor.opacity_slider.value() == 80 and second.editor.canvas.opacity == pytest.approx(0.8)
    assert second.editor.tolerance_spin.value() == 40
    assert second.height() == first.height() == 555  # (the offscreen test screen is 800 px wide: width clamps)
    assert preferences.recent_folders() == [str(tmp_path / "b"), str(tmp_path / "a")]
    menu = second.recent_menu
    menu.aboutToShow.emit()
    entries = [a.text() for a in menu.actions() if a.text()]
    assert entries[:2] == [str(tmp_path / "b"), str(tmp_path / "a")]
    menu.actions()[1].trigger()
    assert second.opened == [str(tmp_path / "a")]
    (tmp_path / "a").rmdir()  # a folder that is gone is not offered
    assert preferences.recent_folders() == [str(tmp_path / "b")]


def test_unusable_settings_are_ignored(qtbot, ini):
    ini.write_text("[editor]\nbrush_radius=huge\nopacity_percent=400\n[window]\ngeometry=nonsense\n")
    window = Window()
    qtbot.addWidget(window)
    radius, opacity = window.editor.brush_radius(), window.editor.opacity_slider.value()
    preferences.restore(window)
    assert (window.editor.brush_radius(), window.editor.opacity_slider.value()) == (radius, opacity)
    assert preferences.recent_folders() == []

"""Opening the real main window on a folder in GUI tests (shared by test_app_loop and test_gui_record)."""

from __future__ import annotations

from labeltool.gui.main_window import MainWindow


def wait_shown(win, qtbot, name=None):
    """Images are decoded on a worker thread: wait until the one asked for is on screen."""
    qtbot.waitUntil(lambda: win.shown is not None and win.shown == (name or win.session.current), timeout=5000)


def open_window(qtbot, root, size=(1000, 700)) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    assert win.open_folder(str(root))
    wait_shown(win, qtbot)
    return win

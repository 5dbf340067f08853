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


def never_block(monkeypatch, messages: bool = False) -> None:
    """A test that fails must not hang in a modal dialog while its window closes: the window's questions get
    the answer that closes without asking again (use it in an autouse fixture); ``messages``: the window's
    message boxes (warning, critical, information) are not shown either."""
    monkeypatch.setattr(MainWindow, "ask_failed_save", lambda self, name, reason, doing: "discard")
    monkeypatch.setattr(MainWindow, "ask_second_instance", lambda self, root, who: "continue")
    monkeypatch.setattr(MainWindow, "ask_quit_while_busy", lambda self: True)
    monkeypatch.setattr(MainWindow, "ask_codes_back", lambda self, root, text: False)  # codes.txt edited by hand
    if messages:
        for name in ("warning", "critical", "information"):
            monkeypatch.setattr(f"labeltool.gui.main_window.QMessageBox.{name}", lambda *a, **k: None)

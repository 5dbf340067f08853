"""Child process for the crash-recovery test: opens the app on a dataset, paints with mouse events,
lets autosave run, paints more, prints READY and waits to be killed."""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# this checkout's code first: run as a script, tests/ is sys.path[0], and its mirror folders tests/labeltool
# and tests/model would otherwise shadow the packages reached only through an editable install's finder
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from labeltool.gui import main_window  # noqa: E402

main_window.AUTOSAVE_IDLE_MS = 300


def point(win, y, x):
    p = win.editor.canvas.widget_point(y + 0.5, x + 0.5)
    return QPoint(round(p.x()), round(p.y()))


def wait(ms):
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def main():
    app = QApplication([])
    win = main_window.MainWindow()
    win.resize(900, 600)
    win.show()
    win.open_folder(sys.argv[1])
    win.go_to(win.session.names.index(sys.argv[2]))
    wait(200)
    canvas = win.editor.canvas
    QTest.keyClick(canvas, Qt.Key_B)
    QTest.keyClick(canvas, Qt.Key_2)
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, point(win, 10, 10))
    wait(1200)  # idle: autosave runs
    end = time.monotonic() + 20  # a loaded machine: let that autosave land before going on
    while (win.editor.is_dirty() or win.writer.busy()) and time.monotonic() < end:
        wait(50)
    QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, point(win, 40, 70))  # not yet autosaved
    print("READY", flush=True)
    if len(sys.argv) > 3:  # stress mode: keep painting so that saves are in flight when the kill comes
        x = 0
        while True:
            QTest.mouseClick(canvas, Qt.LeftButton, Qt.NoModifier, point(win, 30, x % 90))
            win.save()
            x += 7
    wait(600_000)
    app.quit()


main()

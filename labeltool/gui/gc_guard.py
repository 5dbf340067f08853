"""Python's cyclic garbage collector runs only on the GUI thread.

Left alone, the collector runs in whichever thread allocates past its threshold: a loader, writer or
superpixel thread could then destroy a Qt object of a closed window, and Qt's destructor on the wrong
thread deadlocks against the GUI thread (seen: a superpixel thread collecting a QObject while the GUI
thread destroyed a menu). pyqtgraph's GarbageCollector disables automatic collection and collects on a
timer in the GUI thread instead.
"""

from __future__ import annotations

_collector = None


def install() -> None:
    """Once per process, after the QApplication exists."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=1.0)

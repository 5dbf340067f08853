"""Preferences remembered between runs (QSettings): recent folders, brush size, wand tolerance, mask
opacity, window geometry and layout (toolbars, docks).

The window calls two functions, nothing else::

    preferences.restore(window)   # once, after the window is built (before show, after any default resize)
    preferences.store(window)     # once, when the app quits (e.g. app.aboutToQuit)

``restore`` also adds "Open recent" to the window's File menu; the folder open in the window is recorded
as the most recent one whenever that menu is shown and by ``store``. The window needs ``editor`` (the
EditorWidget), ``open_folder(path)`` and, when a folder is open, ``session.project.root``.

Settings live in the platform's usual place (an INI file under the user's config folder); the
``LABELTOOL_SETTINGS`` environment variable names another INI file (tests, portable installs). Values
that are missing or unusable (another version, a hand edit) are ignored, never an error.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMenu

from labeltool.gui.window_actions import window_menu

ORGANIZATION = APPLICATION = "labeltool"
MAX_RECENT = 10
ENV = "LABELTOOL_SETTINGS"


def settings() -> QSettings:
    path = os.environ.get(ENV)
    if path:
        return QSettings(path, QSettings.IniFormat)
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANIZATION, APPLICATION)


def _int(store: QSettings, key: str, low: int, high: int) -> int | None:
    value = store.value(key)
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if low <= value <= high else None


# ---- recent folders --------------------------------------------------------------------------------
def recent_folders() -> list[str]:
    """Remembered dataset folders, newest first; folders that no longer exist are left out."""
    value = settings().value("recent/folders", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if isinstance(v, str) and Path(v).is_dir()][:MAX_RECENT]


def add_recent_folder(folder: str | os.PathLike) -> list[str]:
    folder = str(Path(folder).expanduser().absolute())
    folders = [folder] + [f for f in recent_folders() if f != folder]
    store = settings()
    store.setValue("recent/folders", folders[:MAX_RECENT])
    store.sync()
    return folders[:MAX_RECENT]


def _open_folder_of(window) -> str | None:
    session = getattr(window, "session", None)
    root = getattr(getattr(session, "project", None), "root", None)
    return str(root) if root is not None else None


def _fill_recent_menu(window, menu: QMenu) -> None:
    current = _open_folder_of(window)
    folders = add_recent_folder(current) if current else recent_folders()
    menu.clear()
    for folder in folders:
        action = menu.addAction(folder)
        action.triggered.connect(lambda _checked=False, f=folder: window.open_folder(f))
    if not folders:
        menu.addAction("(none yet)").setEnabled(False)
    menu.addSeparator()
    menu.addAction("Clear list").triggered.connect(lambda: settings().remove("recent/folders"))


def _install_recent_menu(window) -> QMenu | None:
    bar = window.menuBar() if hasattr(window, "menuBar") else None
    if bar is None:
        return None
    file_menu = window_menu(window, "file")
    if file_menu is None:
        return None
    existing = getattr(window, "recent_menu", None)
    if existing is not None:
        return existing
    menu = QMenu("Open &recent", file_menu)
    actions = file_menu.actions()
    if len(actions) > 1:
        file_menu.insertMenu(actions[1], menu)  # after "Open folder…"
    else:
        file_menu.addMenu(menu)
    menu.aboutToShow.connect(lambda: _fill_recent_menu(window, menu))
    window.recent_menu = menu
    return menu


# ---- the editor ------------------------------------------------------------------------------------
def restore_editor(editor, store: QSettings | None = None) -> None:
    """Brush size, wand tolerance and mask opacity through the editor's public controls."""
    store = store or settings()
    radius = _int(store, "editor/brush_radius", 0, 500)
    if radius is not None:
        editor.set_brush_radius(radius)
    tolerance = _int(store, "editor/wand_tolerance", 0, 255)
    if tolerance is not None:
        editor.tolerance_spin.setValue(tolerance)
    opacity = _int(store, "editor/opacity_percent", 0, 100)
    if opacity is not None:
        editor.opacity_slider.setValue(opacity)


def store_editor(editor, store: QSettings | None = None) -> None:
    store = store or settings()
    store.setValue("editor/brush_radius", int(editor.brush_radius()))
    store.setValue("editor/wand_tolerance", int(editor.tolerance_spin.value()))
    store.setValue("editor/opacity_percent", int(editor.opacity_slider.value()))


# ---- the window ------------------------------------------------------------------------------------
def restore(window) -> None:
    """Put back what :func:`store` saved (geometry, toolbar/dock layout, editor settings) and add the
    "Open recent" menu."""
    store = settings()
    geometry = store.value("window/geometry")
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    state = store.value("window/state")
    if isinstance(state, QByteArray) and not state.isEmpty() and hasattr(window, "restoreState"):
        window.restoreState(state)
    editor = getattr(window, "editor", None)
    if editor is not None:
        restore_editor(editor, store)
    _install_recent_menu(window)


def store(window) -> None:
    """Save the window's geometry and layout, the editor settings and the open folder (as most recent)."""
    current = _open_folder_of(window)
    if current:
        add_recent_folder(current)
    store_ = settings()
    store_.setValue("window/geometry", window.saveGeometry())
    if hasattr(window, "saveState"):
        store_.setValue("window/state", window.saveState())
    editor = getattr(window, "editor", None)
    if editor is not None:
        store_editor(editor, store_)
    store_.sync()


__all__ = ["MAX_RECENT", "add_recent_folder", "recent_folders", "restore", "restore_editor", "settings", "store",
           "store_editor"]

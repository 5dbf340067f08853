"""The main window's actions, tool bar and menus. Keys come from labeltool/gui/shortcuts.py (window_shortcuts),
which is the help sheet's table too; which actions are enabled is labeltool.workspace.plan.enabled_actions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from labeltool.gui.shortcuts import window_keys

TOOL_BAR = ("open", "save", "prev", "accept", "next", "next_todo", "propose", "retrain", "cancel")


def window_action(window, action_id: str, text: str, slot, tip: str = "") -> QAction:
    """One of the window's actions, its keys from the shortcut table, added to the window."""
    keys = window_keys(action_id)
    action = QAction(text, window)
    action.setShortcuts([QKeySequence(k) for k in keys])
    action.setShortcutContext(Qt.WindowShortcut)
    action.setToolTip(f"{tip or text} ({', '.join(keys)})" if keys else (tip or text))
    action.triggered.connect(lambda *_: slot())
    window.addAction(action)
    return action


def window_menu(window, *titles: str) -> QMenu | None:
    """The window's menu with one of these titles (case and the mnemonic's & ignored), or None."""
    wanted = {t.casefold() for t in titles}
    return next((a.menu() for a in window.menuBar().actions() if a.menu() is not None
                 and a.text().replace("&", "").casefold() in wanted), None)


def add_menu_section(window, title: str, actions) -> None:
    """``actions`` at the end of the window's menu ``title``, after a separator (nothing without that menu)."""
    menu = window_menu(window, title)
    if menu is not None:
        menu.addSeparator()
        for action in actions:
            menu.addAction(action)


def build_actions(window) -> tuple[dict[str, QAction], QMenu]:
    """The window's actions by id, put in its tool bar and menus; returns them and the Model menu."""
    w = window
    a = {
        "open": window_action(w, "open", "Open folder…", w.ask_open_folder),
        "save": window_action(w, "save", "Save", w.save_now, "Save the mask on screen as edited (not checked yet)"),
        "accept": window_action(w, "accept", "Accept", w.accept_and_next,
                          "Save the mask on screen as corrected and go to the next image to correct"),
        "prev": window_action(w, "prev", "◀ Previous", lambda: w.step(-1)),
        "next": window_action(w, "next", "Next ▶", lambda: w.step(1)),
        "next_todo": window_action(w, "next_todo", "Next to correct", w.next_to_correct,
                             "Next image without a corrected mask, in the list's order"),
        "propose": window_action(w, "propose", "Propose", w.propose,
                           "Let the newest model propose masks for images without a corrected mask"),
        "retrain": window_action(w, "retrain", "Retrain on my corrections", w.retrain,
                           "Fine-tune the model on the corrected images, then re-propose the rest"),
        "cancel": window_action(w, "cancel", "Cancel", lambda: w.jobs.cancel(), "Stop proposing or training"),
        "mark_corrected": window_action(w, "mark_corrected", "Mark corrected", w.mark_corrected,
                                  "The mask on screen is checked: corrected, trained on"),
        "mark_unchecked": window_action(w, "mark_unchecked", "Mark not checked", w.mark_unchecked,
                                  "The mask stays but is not checked: edited, not trained on"),
        "revert_proposal": window_action(w, "revert_proposal", "Revert to proposal", w.revert_to_proposal,
                                   "Bring back the model's proposal this mask was made from"),
    }
    bar = QToolBar("Main", w)
    bar.setObjectName("main")
    bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
    for key in TOOL_BAR:
        bar.addAction(a[key])
    w.addToolBar(Qt.TopToolBarArea, bar)
    menu = w.menuBar()
    file_menu = menu.addMenu("&File")
    for key in ("open", "save"):
        file_menu.addAction(a[key])
    file_menu.addSeparator()
    file_menu.addAction(window_action(w, "quit", "Quit", w.close))
    go = menu.addMenu("&Go")
    for key in ("prev", "next", "next_todo", "accept"):
        go.addAction(a[key])
    image_menu = menu.addMenu("&Image")
    for key in ("accept", "mark_corrected", "mark_unchecked", "revert_proposal"):
        image_menu.addAction(a[key])
    model_menu = menu.addMenu("&Model")
    for key in ("propose", "retrain", "cancel"):
        model_menu.addAction(a[key])
    help_menu = menu.addMenu("&Help")
    help_menu.addAction(window_action(w, "help", "Shortcuts", w.editor.show_shortcuts))
    return a, model_menu

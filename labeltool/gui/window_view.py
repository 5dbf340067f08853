"""Who labels and how the mask looks (issue 19, items 6 and 7); ``ViewSettings`` is a part of MainWindow.

- a permanent status-bar button "Annotator: NAME" (the name every person's stamp gets,
  :func:`model.project.identity.annotator`); a click opens File → Preferences… (labeltool/gui/preferences_dialog.py);
- View → Palette: the project's colours or the colour-blind-safe Okabe-Ito colours
  (:func:`model.project.palette.display_palette`), View → Outline only (class boundaries instead of the filled
  mask). Both are display settings kept per project (``Project.set_setting`` "palette" and "outline"); the
  mask files and their palette never change. A class recoloured in the palette panel is kept as the project's
  colour only while the project's colours are shown.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QToolButton

from labeltool.gui.preferences_dialog import PreferencesDialog
from labeltool.gui.window_actions import window_action, window_menu
from model.project import identity
from model.project.palette import PALETTE_LABELS, PALETTES, display_palette


class ViewSettings:
    """MainWindow's annotator label, Preferences, palette choice and outline mode (see the module docstring)."""

    palette_choice = "default"
    preferences_dialog: PreferencesDialog | None = None

    def install_view(self) -> None:
        """The status-bar annotator button, File → Preferences… and the View menu (after build_actions)."""
        self.annotator_button = QToolButton()
        self.annotator_button.setAutoRaise(True)
        self.annotator_button.clicked.connect(self.open_preferences)
        self.statusBar().addPermanentWidget(self.annotator_button)
        self.update_annotator_label()
        prefs = window_action(self, "preferences", "Preferences…", self.open_preferences)
        file_menu = window_menu(self, "file")
        quit_action = file_menu.actions()[-1] if file_menu and file_menu.actions() else None
        if file_menu is not None:
            file_menu.insertAction(quit_action, prefs)
        view = QMenu("&View", self)
        help_menu = window_menu(self, "help")
        self.menuBar().insertMenu(help_menu.menuAction(), view) if help_menu else self.menuBar().addMenu(view)
        palette_menu = view.addMenu("&Palette")
        group = QActionGroup(self)
        self.palette_actions: dict[str, QAction] = {}
        for choice in PALETTES:
            act = palette_menu.addAction(PALETTE_LABELS[choice])
            act.setCheckable(True)
            act.setChecked(choice == self.palette_choice)
            group.addAction(act)
            act.triggered.connect(lambda _checked=False, c=choice: self.set_palette_choice(c))
            self.palette_actions[choice] = act
        self.outline_action = window_action(self, "toggle_outline", "Outline only",
                                      lambda: self.set_outline(self.outline_action.isChecked()),
                                      "Draw the class boundaries instead of the filled mask")
        self.outline_action.setCheckable(True)
        view.addAction(self.outline_action)
        self.actions_by_name.update(preferences=prefs, toggle_outline=self.outline_action)

    # ---- who -----------------------------------------------------------------------------------
    def update_annotator_label(self) -> None:
        name = identity.annotator()
        self.annotator_button.setText(f"Annotator: {name}")
        where = {"environment": f"from ${identity.ENV}", "preference": "your preference",
                 "login": "your login name"}[identity.source()]
        self.annotator_button.setToolTip(f"{name} ({where}) is written in every mask you save. "
                                         "Click to change it (Preferences).")

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Back in the window: the name may have been set meanwhile (``labeltool whoami --set`` in a terminal)."""
        if event.type() == QEvent.ActivationChange and self.isActiveWindow() and hasattr(self, "annotator_button"):
            self.update_annotator_label()
        super().changeEvent(event)

    def open_preferences(self) -> PreferencesDialog:
        """Open Preferences without blocking; the label follows when a new name is saved."""
        if self.preferences_dialog is not None and self.preferences_dialog.isVisible():
            self.preferences_dialog.raise_()
            return self.preferences_dialog
        dialog = PreferencesDialog(self)
        dialog.nameChanged.connect(lambda _name: self.update_annotator_label())
        dialog.nameChanged.connect(lambda _name: self.statusBar().showMessage(
            f"Masks you save now name {identity.annotator()}", 5000))
        self.preferences_dialog = dialog
        dialog.open()
        return dialog

    # ---- how it looks ----------------------------------------------------------------------------
    def view_settings_opened(self, project) -> None:
        """A project was opened: its palette choice and outline mode (display settings)."""
        # "Opening FOLDER…" has no timeout: left up, it hides the cursor text (x, y, class) for good
        self.statusBar().clearMessage()
        choice = project.get_setting("palette", "default")
        self.palette_choice = choice if choice in PALETTES else "default"
        self.palette_actions[self.palette_choice].setChecked(True)
        outline = project.get_setting("outline", False) is True
        self.outline_action.setChecked(outline)
        self.editor.canvas.set_outline(outline)

    def shown_palette(self, project):
        """The colours the classes of ``project`` are shown in (the palette choice; never written to masks)."""
        return display_palette(self.palette_choice, project.palette, project.void_index)

    def set_palette_choice(self, choice: str) -> None:
        if choice not in PALETTES:
            raise ValueError(f"unknown palette {choice!r}; expected one of {PALETTES}")
        self.palette_choice = choice
        self.palette_actions[choice].setChecked(True)
        if self.session is None:
            return
        project = self.session.project
        self._record_call(project.set_setting, "palette", choice)
        layer = self.editor.layer
        if layer is not None:
            layer.palette[:] = self.shown_palette(project)
            self.editor.canvas.refresh_palette()
            self.editor.palette_panel.set_classes(layer.names, layer.palette, layer.visible)
            self.editor.palette_panel.set_current(self.editor.canvas.current_class)
        self.statusBar().showMessage(f"Palette: {PALETTE_LABELS[choice]} (display only; the masks do not change)",
                                     5000)

    def set_outline(self, on: bool) -> None:
        self.outline_action.setChecked(on)
        self.editor.canvas.set_outline(on)
        if self.session is not None:
            self._record_call(self.session.project.set_setting, "outline", bool(on))

    def _palette_changed(self, palette) -> None:
        """A class was recoloured in the palette panel: the project's colour, when its colours are shown."""
        if self.session is None:
            return
        if self.palette_choice == "default":
            self._record_call(self.session.project.set_palette, palette)
        else:
            self.statusBar().showMessage("Colour changed on screen only: choose View → Palette → "
                                         f"{PALETTE_LABELS['default']} to change the project's colours", 8000)

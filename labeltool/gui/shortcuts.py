"""Shortcut tables of the editor and of the main window (single source of truth for the QActions and the
help sheet)."""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout


class Shortcut(NamedTuple):
    id: str | None          # QAction id in EditorWidget.actions; None for mouse gestures
    keys: tuple[str, ...]   # QKeySequence strings (portable text) or a gesture description
    description: str
    section: str


def shortcut_table() -> list[Shortcut]:
    """All editor shortcuts and mouse gestures, in help-sheet order."""
    s = Shortcut
    rows = [
        s("tool_brush", ("B",), "Brush: paint the selected class", "Tools"),
        s("tool_eraser", ("E",), "Eraser: paint Void / unlabelled", "Tools"),
        s("tool_fill", ("F",), "Contiguous fill of the region under the click", "Tools"),
        s("tool_wand", ("W",), "Magic wand: fill the region of similar image colour", "Tools"),
        s("tool_superpixel", ("S",), "Superpixel: assign a whole superpixel", "Tools"),
        s("tool_polygon", ("P",), "Polygon fill (click vertices; double-click, right-click "
                                  "or click the first vertex to close)", "Tools"),
        s("tool_eyedropper", ("I",), "Eyedropper: pick the class under the cursor", "Tools"),
        s("tool_scribble", ("T",), "Scribble: strokes of several classes, a pixel classifier labels the rest "
                                   "(one undo step; Esc clears the strokes)", "Tools"),
        s("replace_class", ("R",), "Replace class A with class B in the whole image", "Tools"),
        s("clean_up", ("Ctrl+L",), "Clean up: remove islands / fill holes, one class or all", "Tools"),
        s("brush_smaller", ("[",), "Smaller brush", "Brush"),
        s("brush_bigger", ("]",), "Bigger brush", "Brush"),
        s("wand_tolerance_down", ("{",), "Lower wand tolerance", "Brush"),
        s("wand_tolerance_up", ("}",), "Higher wand tolerance", "Brush"),
        s(None, ("Shift+drag",), "Straight line (brush / eraser)", "Brush"),
        s(None, ("Alt+click",), "Eyedropper from any tool", "Brush"),
        s("preserve_cycle", ("L",), "Preserve mode: off → only Void → only the chosen class", "Brush"),
        s(None, ("Esc",), "Cancel the polygon being drawn", "Brush"),
        s(None, ("Backspace",), "Remove the last polygon vertex", "Brush"),
    ]
    for i in range(10):
        key = str((i + 1) % 10)
        rows.append(s(f"class_{i}", (key,), f"Select class {i + 1}", "Classes"))
    rows += [
        s("find_class", ("Ctrl+F",), "Search the class list", "Classes"),
        s("undo", ("Ctrl+Z",), "Undo (one stroke or fill per step)", "Edit"),
        s("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Edit"),
        s("zoom_fit", ("Ctrl+0",), "Fit image to window", "View"),
        s("zoom_1to1", ("Ctrl+1",), "Zoom 1:1 (100 %)", "View"),
        s("zoom_in", ("=", "+"), "Zoom in", "View"),
        s("zoom_out", ("-",), "Zoom out", "View"),
        s(None, ("Wheel",), "Zoom around the cursor", "View"),
        s(None, ("Space+drag", "Middle drag"), "Pan", "View"),
        s("toggle_mask", ("M",), "Show mask / image only", "View"),
        s("toggle_confidence", ("C",), "Show low-confidence highlight", "View"),
        s("toggle_grid", ("G",), "Pixel grid at high zoom on/off", "View"),
        s("toggle_objects", ("O",), "Objects panel: count, outline, recolour or delete objects", "View"),
        s("opacity_down", (",",), "Mask opacity −10 %", "View"),
        s("opacity_up", (".",), "Mask opacity +10 %", "View"),
        s("display_window", ("Ctrl+D",), "Display: min/max, gamma, auto-levels (the data is not changed)", "View"),
        s("show_shortcuts", ("?",), "This shortcut sheet", "Help"),
    ]
    return rows


def window_shortcuts() -> list[Shortcut]:
    """The main window's actions (QAction ids in MainWindow.actions_by_name), in help-sheet order: the keys
    here are the ones the window's actions get (labeltool/gui/window_actions.py)."""
    s = Shortcut
    return [
        s("open", ("Ctrl+O",), "Open a dataset folder", "Window"),
        s("save", ("Ctrl+S",), "Save the mask on screen, as edited (not checked: not trained on)", "Window"),
        s("accept", ("Return", "Enter"), "Accept: save the mask on screen as corrected and go to the next image "
                                         "to correct", "Window"),
        s("prev", ("PgUp", "A"), "Previous image in the list", "Window"),
        s("next", ("PgDown", "D"), "Next image in the list", "Window"),
        s("next_todo", ("N",), "Next image without a corrected mask, in the list's order", "Window"),
        s("mark_corrected", ("Ctrl+Return",), "Mark corrected: the mask on screen is checked and trained on "
                                              "(stays on this image)", "Window"),
        s("mark_unchecked", ("Ctrl+U",), "Mark not checked: the mask stays, as edited (not trained on)", "Window"),
        s("revert_proposal", ("Ctrl+Shift+R",), "Revert to proposal: the model's proposal this mask was made "
                                                "from comes back", "Window"),
        s("toggle_outline", ("Shift+M",), "Outline only: draw the class boundaries in their colours instead of "
                                          "the filled mask (the mask files do not change)", "View"),
        s("preferences", ("Ctrl+,",), "Preferences: your name, written in every mask you save", "Window"),
        s("review_mode", ("Ctrl+R",), "Review mode on/off: walk the corrected images, the pixels changed from the "
                                      "proposal highlighted", "Review"),
        s("approve", ("Y",), "Approve the mask on screen (review mode; Enter too when it is untouched): "
                             "reviewed, then the next corrected image", "Review"),
        s("reject", ("X",), "Reject the mask on screen with a note (review mode): sent back to the annotator, "
                            "then the next corrected image", "Review"),
        s("show_disputed", ("Shift+D",), "Show disputed pixels on/off: those the audit's held-out model disputes, "
                                         "or those the image's annotators labelled differently", "Review"),
        s("consensus", ("Ctrl+Shift+C",), "Start from consensus: the annotators' majority into the editor (one "
                                          "undo step), the undecided pixels shown", "Review"),
        s("quit", ("Ctrl+Q",), "Quit", "Window"),
        s("help", ("F1",), "This shortcut sheet", "Help"),
    ]


def window_keys(action_id: str) -> tuple[str, ...]:
    """The keys of one of the window's actions (none for an action without a shortcut)."""
    return next((row.keys for row in window_shortcuts() if row.id == action_id), ())


class ShortcutsDialog(QDialog):
    """Help → Shortcuts: a read-only table of :func:`shortcut_table` and :func:`window_shortcuts`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Editor shortcuts")
        rows = shortcut_table() + window_shortcuts()
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Section", "Keys", "Action"])
        for r, row in enumerate(rows):
            for c, text in enumerate((row.section, " / ".join(row.keys), row.description)):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                self.table.setItem(r, c, item)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.Close, parent=self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        self.resize(620, 640)

"""Objects panel: the connected objects of each class, counted and listed; the selected one is outlined on
the canvas and can be recoloured or deleted (one undo step each). Also the "Clean up…" dialog
(:mod:`labeltool.gui.cleanup_dialog`).

The panel sits beside the class palette in the editor (hidden until toggled, key O). All the work is
in :mod:`labeltool.editing.instances` and :mod:`labeltool.editing.cleanup` (Qt-free); this file only
shows it. It needs nothing from the canvas but its public coordinate mapping, ``viewChanged`` and
``apply_change``/``edited``: the outline is a transparent child widget over the canvas, and "pick on
canvas" is an event filter that takes a left click while the pick button is down (both in
:mod:`labeltool.gui.object_overlay`).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labeltool.editing.cleanup import fill_holes_step, remove_islands_step
from labeltool.editing.instances import (
    Instance,
    class_instances,
    count_objects,
    delete_object,
    object_at,
    recolour_object,
)

from .cleanup_dialog import CleanupDialog
from .object_overlay import ObjectHighlight, PickFilter

MAX_LISTED = 200  # objects listed per class (the count is always exact)
AUTO_RECOUNT_PIXELS = 4_000_000  # larger images are recounted after an edit only on Refresh
TITLE = "Objects (connected regions of each class)"


class InstancesPanel(QWidget):
    """Classes with their object counts; select an object to outline it, then recolour or delete it."""

    def __init__(self, editor):
        super().__init__(editor)
        self.editor = editor
        self._layer = None
        self._selected: tuple[int, int] | None = None  # a pixel (y, x) inside the selected object
        self._dialog = None
        self.setMinimumWidth(180)
        self._stale = False
        self.title = QLabel(TITLE, self)
        self.title.setWordWrap(True)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Class: objects", "Pixels"])
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeToContents)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.itemExpanded.connect(self._populate)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        self.pick_button = QPushButton("Pick on canvas", self, checkable=True)
        self.pick_button.setToolTip("While down, a click on the canvas selects the object under it")
        self.target_combo = QComboBox(self)
        self.recolour_button = QPushButton("Recolour", self)
        self.recolour_button.setToolTip("Give the selected object the class chosen beside (one undo step)")
        self.delete_button = QPushButton("Delete → Void", self)
        self.delete_button.setToolTip("Turn the selected object into Void (Delete key; one undo step)")
        self.recolour_button.clicked.connect(self.recolour_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        recolour_row = QHBoxLayout()
        recolour_row.addWidget(self.target_combo, 1)
        recolour_row.addWidget(self.recolour_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title, self.tree, self.refresh_button, self.pick_button):
            lay.addWidget(widget)
        lay.addLayout(recolour_row)
        lay.addWidget(self.delete_button)
        QShortcut(QKeySequence.Delete, self.tree, activated=self.delete_selected)
        self.highlight = ObjectHighlight(editor.canvas)
        self.picker = PickFilter(editor.canvas)
        self.picker.picked.connect(self.select_at)
        self.pick_button.toggled.connect(lambda on: setattr(self.picker, "active", on))
        self._recount = QTimer(self, singleShot=True, interval=150, timeout=self.refresh)
        editor.canvas.viewChanged.connect(self._maybe_new_image)
        editor.canvas.edited.connect(self._on_edited)
        self._update_buttons()

    # ------------------------------------------------------------ content
    def _maybe_new_image(self) -> None:
        if self.editor.layer is not self._layer:
            self._layer = self.editor.layer
            self._selected = None
            self.highlight.show_region(None, None)
            self.target_combo.clear()
            if self._layer is not None:
                self.target_combo.addItems(self._layer.names)
            if self.isVisible():
                self.refresh()

    def _on_edited(self, change) -> None:
        if change is None or not self.isVisible():
            return
        layer = self.editor.layer
        if layer is not None and layer.mask.size <= AUTO_RECOUNT_PIXELS:
            self._recount.start()
        else:  # counting a large image takes a second or more: on demand
            self._stale = True
            self.title.setText("Counts are from before the last edit: press Refresh")

    def showEvent(self, event):  # noqa: N802
        splitter = self.parentWidget()
        if hasattr(splitter, "sizes") and splitter.sizes()[-1] < self.minimumWidth():
            sizes = splitter.sizes()
            sizes[0] = max(sizes[0] - 280, 100)
            sizes[-1] = 280
            splitter.setSizes(sizes)
        self._maybe_new_image()
        self.refresh()
        super().showEvent(event)

    def hideEvent(self, event):  # noqa: N802
        self.pick_button.setChecked(False)
        self.highlight.show_region(None, None)
        super().hideEvent(event)

    def counts(self) -> dict[int, int]:
        """Objects per class present in the mask (what the panel lists)."""
        layer = self.editor.layer
        if layer is None:
            return {}
        counts = count_objects(layer.mask, layer.n_classes)
        return {int(c): int(counts[c]) for c in np.flatnonzero(counts)}

    def refresh(self) -> None:
        """Recount and relist (objects are listed when their class is expanded); the selection stays on
        the object under the same pixel when it still exists."""
        layer = self.editor.layer
        self._stale = False
        self.title.setText(TITLE)
        self.tree.blockSignals(True)
        self.tree.clear()
        if layer is not None:
            pixels = np.bincount(layer.mask.ravel(), minlength=layer.n_classes)
            for cls, count in self.counts().items():
                top = QTreeWidgetItem([f"{layer.names[cls]}: {count}", str(int(pixels[cls]))])
                top.setToolTip(0, f"{layer.names[cls]}: {count} object{'s' if count != 1 else ''} "
                                  "(expand to list them, largest first)")
                top.setData(0, Qt.UserRole, cls)
                top.setFlags(top.flags() & ~Qt.ItemIsSelectable)
                top.setChildIndicatorPolicy(QTreeWidgetItem.ShowIndicator)
                self.tree.addTopLevelItem(top)
        self.tree.blockSignals(False)
        point = self._selected
        if point is None or not self._show_in_tree(point):
            self._select(None)
        else:
            self._select(point)
        self._update_buttons()

    def _populate(self, top: QTreeWidgetItem) -> None:
        layer = self.editor.layer
        if top.childCount() or layer is None or top.parent() is not None:
            return
        objects = class_instances(layer.mask, int(top.data(0, Qt.UserRole)))
        for inst in objects[:MAX_LISTED]:
            child = QTreeWidgetItem([f"#{inst.number}  x {inst.seed[1]}, y {inst.seed[0]}", str(inst.area)])
            child.setData(0, Qt.UserRole, inst)
            top.addChild(child)
        if len(objects) > MAX_LISTED:
            more = QTreeWidgetItem([f"… {len(objects) - MAX_LISTED} smaller objects (pick them on the canvas)", ""])
            more.setFlags(more.flags() & ~Qt.ItemIsSelectable)
            top.addChild(more)

    def _show_in_tree(self, point: tuple[int, int]) -> bool:
        """Expand the class of the object under ``point`` and make its row current; False when that
        object no longer exists."""
        layer = self.editor.layer
        found = None if layer is None else object_at(layer.mask, *point)
        if found is None:
            return False
        (y0, x0, y1, x1), region = found
        cls = layer.class_at(*point)
        self.tree.blockSignals(True)
        try:
            for i in range(self.tree.topLevelItemCount()):
                top = self.tree.topLevelItem(i)
                if top.data(0, Qt.UserRole) != cls:
                    continue
                top.setExpanded(True)
                self._populate(top)
                for j in range(top.childCount()):
                    inst = top.child(j).data(0, Qt.UserRole)
                    if isinstance(inst, Instance):
                        y, x = inst.seed
                        if y0 <= y < y1 and x0 <= x < x1 and region[y - y0, x - x0]:
                            self.tree.setCurrentItem(top.child(j))
                            return True
            self.tree.setCurrentItem(None)
            return True  # a small object past the listed ones: still selected, not in the list
        finally:
            self.tree.blockSignals(False)

    # ---------------------------------------------------------- selection
    def selected(self) -> tuple[int, int] | None:
        return self._selected

    def _selection_changed(self) -> None:
        items = self.tree.selectedItems()
        inst = items[0].data(0, Qt.UserRole) if items else None
        self._select(inst.seed if isinstance(inst, Instance) else None)

    def _select(self, point: tuple[int, int] | None) -> None:
        layer = self.editor.layer
        self._selected = point
        found = None if point is None or layer is None else object_at(layer.mask, *point)
        if found is None:
            self._selected = None
            self.highlight.show_region(None, None)
        else:
            self.highlight.show_region(*found)
            cls = layer.class_at(*point)
            self.editor.statusMessage.emit(f"Object of {layer.names[cls]}: {int(found[1].sum())} pixels")
        self._update_buttons()

    def select_at(self, y: int, x: int) -> None:
        """Select the object under image pixel (y, x) (the canvas pick)."""
        if self.isHidden():
            self.setVisible(True)
        if self._stale:
            self.refresh()
        point = (int(y), int(x))
        if self._show_in_tree(point):
            self._select(point)

    def _update_buttons(self) -> None:
        has = self._selected is not None
        self.recolour_button.setEnabled(has)
        self.delete_button.setEnabled(has)

    # --------------------------------------------------------------- edits
    def _apply(self, change) -> None:
        canvas = self.editor.canvas
        canvas.apply_change(change)
        canvas.edited.emit(change)
        self._recount.stop()
        self.refresh()

    def recolour_selected(self, value: int | None = None) -> None:
        layer = self.editor.layer
        if layer is None or self._selected is None:
            return
        value = self.target_combo.currentIndex() if value is None or isinstance(value, bool) else value
        if value < 0:
            return
        self._apply(recolour_object(layer, *self._selected, value))

    def delete_selected(self) -> None:
        if self.editor.layer is not None and self._selected is not None:
            change = delete_object(self.editor.layer, *self._selected)
            self._selected = None  # the object is gone (its pixels joined Void)
            self._apply(change)

    def open_cleanup(self) -> CleanupDialog | None:
        if self.editor.layer is None:
            return None
        dialog = CleanupDialog(self.editor.layer.names, self.editor)
        dialog.accepted.connect(lambda: self.run_cleanup(*dialog.choice()))
        dialog.open()
        self._dialog = dialog
        return dialog

    def run_cleanup(self, operation: str, size: int, classes: list[int] | None) -> None:
        layer = self.editor.layer
        if layer is None:
            return
        if operation == "islands":
            change = remove_islands_step(layer, size, classes)
        else:
            change = fill_holes_step(layer, size or None, classes)
        canvas = self.editor.canvas
        canvas.apply_change(change)
        canvas.edited.emit(change)
        self.editor.statusMessage.emit("Clean up: nothing to change" if change is None else
                                       f"Clean up: {int(change.region.sum())} pixels changed (Ctrl+Z undoes)")
        if self.isVisible():
            self.refresh()


def install(editor) -> InstancesPanel:
    """Add the objects panel beside the class palette (hidden) and the "Objects" / "Clean up…" buttons."""
    panel = InstancesPanel(editor)
    panel.setVisible(False)
    splitter = editor.palette_panel.parentWidget()
    splitter.addWidget(panel)
    for key, text in (("toggle_objects", "Objects"), ("clean_up", "Clean up…")):
        action = editor.actions.get(key)
        if action is not None:
            action.setText(text)
            editor.toolbar.addAction(action)
    return panel


__all__ = ["CleanupDialog", "InstancesPanel", "install"]

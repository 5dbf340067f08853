"""The list of images (model/view, fine at 100,000 rows): status, model confidence and the pixels to check,
with a status filter, a name search and the navigation order.

The model's rows are the Session's rows shown (its order, filter and search, computed with numpy): a save
updates one row (dataChanged for that row only); a new order or filter re-lays the list once. No
QSortFilterProxyModel: its per-row Python filter callback took seconds at 100,000 rows."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from labeltool.workspace.session import FILTERS, ORDERS, Session

STATUS_TEXT = {"none": "no mask", "proposed": "proposed", "edited": "edited", "corrected": "corrected",
               "reviewed": "reviewed", "rejected": "rejected", "unknown": "unknown"}
STATUS_COLOUR = {"none": QColor(150, 150, 150), "proposed": QColor(214, 140, 0), "edited": QColor(40, 110, 210),
                 "corrected": QColor(30, 150, 60), "reviewed": QColor(0, 110, 90), "rejected": QColor(200, 40, 40),
                 "unknown": QColor(190, 60, 160)}
STATUS_TIP = {"edited": "A person's edits, not checked yet: not trained on until accepted (Enter) or marked corrected",
              "unknown": "Not a proposal as the model wrote it, and no person checked it: not trained on",
              "reviewed": "A reviewer approved this corrected mask: trained on",
              "rejected": "A reviewer sent this mask back (open it to read the note): not trained on until "
                          "fixed and accepted (Enter)"}
COLUMNS = ("Image", "Status", "Confidence", "To check")
INDEX_ROLE = Qt.UserRole + 1  # the project index of a row
KEY_OPEN_DELAY_MS = 120  # a row reached with the keyboard opens when the keys rest this long (auto-repeat skims)


def short_count(n: int | None) -> str:
    if n is None:
        return ""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} M"
    if n >= 10_000:
        return f"{n / 1e3:.0f} k"
    return f"{n:,}"


class FileTableModel(QAbstractTableModel):
    """The Session's rows shown, top to bottom; reads its arrays, copies nothing."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session: Session | None = None

    def set_session(self, session: Session | None) -> None:
        self.beginResetModel()
        self.session = session
        self.endResetModel()

    def relayout(self) -> None:
        """The session's order changed (a new sort): one reset, not a row-by-row move."""
        self.beginResetModel()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 - Qt's signature
        return 0 if parent.isValid() or self.session is None else len(self.session.visible)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.DisplayRole):
        s = self.session
        if s is None or not index.isValid():
            return None
        i = int(s.visible[index.row()])
        column = index.column()
        if role == Qt.DisplayRole:
            if column == 0:
                return s.names[i]
            if column == 1:
                return STATUS_TEXT.get(s.statuses[i], s.statuses[i])
            if column == 2:
                record = s.records.get(s.names[i])
                # the model's confidence in its proposal: gone once a person corrected the mask
                value = getattr(record, "mean_confidence", None) if s.statuses[i] in ("proposed", "unknown") else None
                return "" if value is None else f"{value:.0%}"
            disputed = s.disputes(s.names[i])
            if disputed is not None and s.to_check(i) is None:  # a checked mask the audit still describes
                return f"{short_count(disputed)} disputed"
            return short_count(s.to_check(i))
        if role == INDEX_ROLE:
            return i
        if role == Qt.ForegroundRole and column == 1:
            return QBrush(STATUS_COLOUR.get(s.statuses[i], QColor(0, 0, 0)))
        if role == Qt.ToolTipRole and column == 1:
            return STATUS_TIP.get(s.statuses[i])
        if role == Qt.ToolTipRole and column == 3:
            if s.disputes(s.names[i]) is not None and s.to_check(i) is None:
                return "Pixels a model that never saw this image is sure are another class (Image > Audit)"
            return "Estimated pixels to check: the share of pixels the model was unsure about x image size"
        return None

    def row_changed(self, index: int) -> None:
        """One image's record changed: repaint its row only (it stays in place until the next re-lay)."""
        if self.session is None:
            return
        row = int(self.session.row_in_view[index])
        if row >= 0:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def add_names(self, names: list[str], statuses: dict[str, str] | None = None) -> list[int]:
        """Images that appeared in the folder: appended as rows at the end, in one insert."""
        s = self.session
        if s is None:
            return []
        before = len(s.visible)
        new = [n for n in dict.fromkeys(names) if n not in s.row_of]
        shown = sum(1 for n in new if s.would_show(n, (statuses or {}).get(n, "none")))
        if shown:
            self.beginInsertRows(QModelIndex(), before, before + shown - 1)
        added = s.add(new, statuses)
        if shown:
            self.endInsertRows()
        return added


class FileView(QTableView):
    """The list's view; ``keyMoved(row)`` when a key (arrows, Page Up/Down, Home/End) moved the current row,
    so the keyboard opens an image like a click does (programmatic moves, e.g. ``FileList.select``, do not)."""

    keyMoved = Signal(int)

    def keyPressEvent(self, event):  # noqa: N802 - Qt's name
        before = self.currentIndex().row()
        super().keyPressEvent(event)
        now = self.currentIndex()
        if now.isValid() and now.row() != before:
            self.keyMoved.emit(now.row())


class FileList(QWidget):
    """Shows every image; emits ``activated(index)`` with the project index when a row is clicked, entered
    or reached with the keyboard (held arrow keys open where they stop: KEY_OPEN_DELAY_MS after the last
    move); ``orderChanged(mode)`` and ``filterChanged()`` when the user changes how Next walks."""

    activated = Signal(int)
    orderChanged = Signal(str)
    filterChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: Session | None = None
        self.model = FileTableModel(self)
        self.proxy = self.model  # what the view shows (the old name)
        self.view = FileView()  # lays out only the rows on screen (QTreeView visits every row on a reset)
        self.view.setModel(self.model)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 4)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.activated.connect(self._on_index)
        self.view.clicked.connect(self._on_index)
        self._by_keys = False
        self._key_open = QTimer(self, singleShot=True, interval=KEY_OPEN_DELAY_MS, timeout=self._open_current)
        self.view.keyMoved.connect(lambda _row: self._key_open.start())
        self.view.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((96, 64, 76, 60)):  # fixed: sizing to contents would read every row
            self.view.setColumnWidth(column, width)
        self.setMinimumWidth(320)
        self.tree = self.view  # the old name
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search names…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search_changed)
        self.status_filter = QComboBox()
        for key, text in FILTERS.items():
            self.status_filter.addItem(text, key)
        self.status_filter.setToolTip("Show only images with this status; Next, N and Enter walk what is shown")
        self.status_filter.currentIndexChanged.connect(self._filter_changed)
        self.order = QComboBox()
        for key, text in ORDERS.items():
            self.order.addItem(text, key)
        self.order.setToolTip("The order of the list, which Next, N and Enter follow. Least certain first: "
                              "the images the model is least sure about; correcting those teaches it most")
        self.order.currentIndexChanged.connect(self._order_changed)
        row = QHBoxLayout()
        row.addWidget(self.status_filter)
        row.addWidget(self.search, 1)
        order_row = QHBoxLayout()
        order_row.addWidget(QLabel("Order:"))
        order_row.addWidget(self.order, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        layout.addWidget(self.view)
        layout.addLayout(order_row)

    # ---- content -------------------------------------------------------------------------------
    def set_session(self, session: Session | None) -> None:
        self.session = session
        self.model.set_session(session)
        if session is not None:
            self.order.blockSignals(True)
            self.order.setCurrentIndex(list(ORDERS).index(session.order_mode))
            self.order.blockSignals(False)
            session.set_filter(self.status_filter.currentData(), self.search.text())
            self.model.relayout()
        self.summarise()

    def row_changed(self, index: int) -> None:
        self.model.row_changed(index)

    def add_names(self, names: list[str], statuses: dict[str, str] | None = None) -> list[int]:
        added = self.model.add_names(names, statuses)
        self.summarise()
        return added

    def resorted(self) -> None:
        current = self.session.index if self.session else -1
        self.model.relayout()
        self.select(current)

    def select(self, index: int) -> None:
        if self.session is None or not 0 <= index < len(self.session.names):
            return
        row = int(self.session.row_in_view[index])
        if row < 0:
            self.view.clearSelection()
            return
        model_index = self.model.index(row, 0)
        self.view.blockSignals(True)
        self.view.setCurrentIndex(model_index)
        self.view.blockSignals(False)
        self.view.scrollTo(model_index)

    def status_text(self, index: int) -> str:
        return STATUS_TEXT[self.session.statuses[index]]

    def shown_names(self) -> list[str]:
        """Names top to bottom as the view shows them (what a person sees)."""
        return [self.session.names[int(i)] for i in self.session.visible] if self.session else []

    def summarise(self) -> None:
        s = self.session
        if s is None:
            self.summary.setText("")
            return
        c = s.counts
        text = f"{len(s.names):,} images: {c['corrected']:,} corrected, "
        if c["reviewed"] or c["rejected"]:
            text += f"{c['reviewed']:,} reviewed, {c['rejected']:,} rejected, "
        if c["edited"]:
            text += f"{c['edited']:,} edited (not checked), "
        text += f"{c['proposed']:,} proposed, {c['none']:,} without mask"
        if c["unknown"]:
            text += f", {c['unknown']:,} unknown"
        if s.total_to_check:
            text += f" · ≈ {short_count(s.total_to_check)} pixels to check"
        self.summary.setText(text)

    # ---- user --------------------------------------------------------------------------------
    def set_order(self, mode: str) -> None:
        self.order.setCurrentIndex(list(ORDERS).index(mode))

    def set_status_filter(self, status: str) -> None:
        self.status_filter.setCurrentIndex(list(FILTERS).index(status))

    def _order_changed(self, _i: int) -> None:
        mode = self.order.currentData()
        if self.session is not None and mode != self.session.order_mode:
            self.session.sort(mode)
            self.resorted()
        self.orderChanged.emit(mode)

    def _filter_changed(self, _i: int = 0) -> None:
        if self.session is not None:
            self.session.set_filter(self.status_filter.currentData(), self.search.text())
            self.model.relayout()
            self.select(self.session.index)
        self.filterChanged.emit()

    def _search_changed(self, _text: str) -> None:
        self._filter_changed()

    def keeps_focus(self) -> bool:
        """True while the person walks the list with the keyboard (the last image was opened by a key and
        the list still has the focus): the window should leave the focus here, not move it to the canvas."""
        return self._by_keys and self.view.hasFocus()

    def _open_current(self) -> None:
        if self.view.currentIndex().isValid():
            self._on_index(self.view.currentIndex(), by_keys=True)

    def _on_index(self, model_index, by_keys: bool = False) -> None:
        self._by_keys = by_keys
        index = model_index.sibling(model_index.row(), 0).data(INDEX_ROLE)
        if index is not None:
            self.activated.emit(int(index))

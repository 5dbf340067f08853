"""The main window: file list, editor, and the propose → correct → retrain → re-propose loop.

The window never decodes or writes a file itself (labeltool.workspace's loader and writer do, on worker threads):
- switching images shows a prefetched decode at once, or the decode when it arrives; the image that was
  on screen is saved from a snapshot of its mask (edits made after the snapshot stay dirty);
- the open image is held (``Project.hold``) from its first edit until its edits are saved: proposals of
  any process leave it alone meanwhile (an untouched open image gets its proposal like any other); a new
  mask for the open image is offered, never loaded under the user;
- autosave (2 s idle), switching image, closing and Ctrl+S save the mask as *edited* (a person's work, not
  checked: never trained on, never overwritten by proposals); only Accept (Enter) and Mark corrected make
  *corrected*; Accept saves the pixels on screen, whatever the file on disk says by then;
- a failed save raises a banner that stays until the save succeeds or is discarded, and its pixels are
  written to a recovery file (labeltool.workspace.recovery);
- closing or opening another folder stops when a save failed, with the reason and Retry / Save as… /
  Discard / Cancel: edits go only when saved or discarded on purpose;
- model jobs belong to the folder that started them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from labeltool.gui.disk_changes import DiskChanges
from labeltool.gui.editor import EditorWidget
from labeltool.gui.file_list import FileList
from labeltool.gui.futures import future_signals, wait_future
from labeltool.gui.model_jobs import ModelJobs
from labeltool.gui.proposal_server import ProposalsAhead
from labeltool.gui.save_banner import ListsBanner, SaveBanner
from labeltool.gui.window_actions import build_actions
from labeltool.gui.window_classes import ClassChanges
from labeltool.gui.window_jobs import ModelWork
from labeltool.gui.window_merge import MergeConflicts
from labeltool.gui.window_open import Opening
from labeltool.gui.window_review import Reviewing
from labeltool.gui.window_saves import Saving
from labeltool.gui.window_status import StatusActions
from labeltool.gui.window_team import Teamwork
from labeltool.gui.window_view import ViewSettings
from labeltool.workspace.folder_lock import FolderLock
from labeltool.workspace.loader import ImageLoader, Opened, open_project
from labeltool.workspace.plan import PREFETCH, decode_plan, enabled_actions
from labeltool.workspace.saves import HOLD_REFRESH_S, Hold, SaveBook
from labeltool.workspace.session import Session
from labeltool.workspace.writer import MaskWriter
from model.project.status import REVIEWABLE

AUTOSAVE_IDLE_MS = 2000
POLL_MS = 1000  # how often the record is asked what changed (other processes included)
RESCAN_MS = 120_000  # a folder rescan even without a file-system notification (network folders)


class MainWindow(Reviewing, Teamwork, Opening, Saving, StatusActions, ModelWork, DiskChanges, MergeConflicts,
                 ViewSettings, ClassChanges, QMainWindow):
    imageShown = Signal(str, bool)  # an image is on screen (name, with a mask): the proposal child plans on it

    def __init__(self) -> None:
        super().__init__()
        from labeltool.gui import gc_guard

        gc_guard.install()  # cyclic garbage collection on this (the GUI) thread only
        self.setWindowTitle("labeltool")
        self.session: Session | None = None
        self.read_only = False
        self.shown: str | None = None  # the image whose pixels are in the editor
        self._shown_fp = None  # its mask file when it was loaded or last saved here
        self._kept_proposal = False  # the image on screen has a kept proposal (Revert to proposal)
        self._want: str | None = None  # the image being loaded
        self.saves = SaveBook()  # the latest save of each image, the failed ones nobody resolved yet
        self._serial = 0
        self._poll_future = None
        self._job_root: Path | None = None
        self._lock: FolderLock | None = None
        self._opening = False
        self._closed = False
        self._user_order = False
        self.writer = MaskWriter()
        self.loader = ImageLoader(writer=self.writer)
        self._open_pool = ThreadPoolExecutor(1, thread_name_prefix="labeltool-open")
        self.futures = future_signals(self)
        self.futures.done.connect(self._future_done)
        self.jobs = ModelJobs(self)
        self.jobs.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.jobs.progress.connect(self._job_progress)
        self.jobs.proposed.connect(self._proposed)
        self.jobs.proposed_one.connect(lambda _name: self._proposed([]))  # the list fills as a run goes
        self.jobs.trained.connect(self._trained)
        self.jobs.failed.connect(lambda title, text: QMessageBox.warning(self, title, text))
        self.jobs.finished.connect(self._job_finished)
        self.editor = EditorWidget(self)
        self.banner = SaveBanner(self.retry_failed)  # while a save failed: what, and where its pixels went
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        self.lists_banner = ListsBanner()  # valid.txt/test.txt problems: retrains stop on them
        column.addWidget(self.lists_banner)
        column.addWidget(self.editor, 1)
        self.setCentralWidget(centre)
        self.files = FileList(self)
        dock = QDockWidget("Images", self)
        dock.setObjectName("images")
        dock.setWidget(self.files)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        self.cursor_label = QLabel()
        self.newer_label = QLabel()
        self.newer_button = QPushButton("Load it")
        self.newer_button.setToolTip("Replace the mask on screen by the one on disk")
        self.newer_button.clicked.connect(self.load_newer_mask)
        self.statusBar().addWidget(self.cursor_label, 1)
        self.statusBar().addPermanentWidget(self.newer_label)
        self.statusBar().addPermanentWidget(self.newer_button)
        self.statusBar().addPermanentWidget(self.progress)
        self._hide_newer()
        self.autosave = QTimer(self)
        self.autosave.setSingleShot(True)
        self.autosave.setInterval(AUTOSAVE_IDLE_MS)
        self.autosave.timeout.connect(self._autosave)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self.rescan_timer = QTimer(self)
        self.rescan_timer.setInterval(RESCAN_MS)
        self.rescan_timer.timeout.connect(lambda: self.poll(rescan=True))
        self.watcher = QFileSystemWatcher(self)
        self._rescan_soon = QTimer(self, singleShot=True, interval=300)
        self._rescan_soon.timeout.connect(lambda: self.poll(rescan=True))
        self.watcher.directoryChanged.connect(lambda _path: self._rescan_soon.start())
        self.editor.edited.connect(self.autosave.start)
        self.editor.dirtyChanged.connect(self._update_title)
        self.hold = Hold(self._record_call)  # the image held for its unsaved edits
        self.hold_timer = QTimer(self, interval=HOLD_REFRESH_S * 1000)  # a live hold never expires
        self.hold_timer.timeout.connect(lambda: self.hold.refresh(self.session.project if self.session else None))
        self.editor.canvas.strokeStarted.connect(self._hold_open_image)
        self.editor.dirtyChanged.connect(self._edits_saved_or_not)
        self.editor.statusMessage.connect(self.cursor_label.setText)
        self.editor.paletteChanged.connect(self._palette_changed)
        self.editor.displayChanged.connect(  # the display window is kept per project (H4)
            lambda d: self.session is not None and not self.read_only
            and self.writer.call(self.session.project.set_setting, "display", d))
        self.files.activated.connect(self.go_to)
        self.files.orderChanged.connect(self._order_changed)
        self.files.filterChanged.connect(self._prefetch)
        self.actions_by_name, self.model_menu = build_actions(self)
        self.install_view()  # annotator label, Preferences, View menu (labeltool/gui/window_view.py)
        self.install_review()  # review mode: its actions, banner and diff overlay (window_review.py)
        self.install_merge_action()  # Image > Resolve merge conflict… (labeltool/gui/window_merge.py)
        self.install_team()  # audit, agreement, consensus (labeltool/gui/window_team.py)
        self.install_classes_action()  # Edit > Change classes… (labeltool/gui/window_classes.py)
        self._update_enabled()
        self.proposals = ProposalsAhead(self)  # the proposal child: the next images proposed ahead
        self.proposals.message.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.install_panels()

    def install_panels(self) -> None:
        """Hook for optional panels (the Models panel and training chart: labeltool/gui/model_panels.py)."""
        import importlib

        try:
            model_panels = importlib.import_module("labeltool.gui.model_panels")
        except ImportError as exc:
            if getattr(exc, "name", None) != "labeltool.gui.model_panels":
                raise  # the module exists but is broken: say so
            return
        model_panels.install(self)

    # ---- futures coming back from the worker threads ------------------------------------------
    def _future_done(self, tag, future) -> None:
        if self._closed:
            return
        kind = tag[0]
        if kind == "load":
            self._show(tag[1], future)
        elif kind == "save":
            self._save_done(tag[1], future)
        elif kind == "poll":
            self._poll_done(tag[1], future)
        elif kind == "proposal":
            self._proposal_decoded(tag[1], future)
        elif kind == "status":
            self._status_done(tag[1], future)

    # ---- opening -------------------------------------------------------------------------------
    def _open_in_thread(self, folder: str, codes: list[str] | None = None) -> Opened:
        future = self._open_pool.submit(open_project, folder, codes)
        wait_future(future, 600_000)  # the window keeps painting while a large folder is scanned
        return future.result()

    def _switch_to(self, opened: Opened, read_only: str | None) -> None:
        """Make ``opened`` the window's project; ``read_only``: why nothing may be saved, or None."""
        self._release_hold()  # in the old project, before the session changes
        if self.watcher.directories():
            self.watcher.removePaths(self.watcher.directories())
        project = opened.project
        self.session = opened.session
        self.read_only = bool(read_only)
        self._user_order = opened.order_saved
        self.shown = self._want = None
        self._shown_fp = None
        self.saves.clear()
        self.banner.show_text(None)
        self.lists_banner.show_problems(opened.list_problems)
        self._serial = opened.serial
        self._hide_newer()
        self.loader.set_project(project)
        self.writer.set_project(project, read_only=read_only)
        self.files.set_session(self.session)
        self.editor.set_display(project.get_setting("display"))  # per-project display window (H4)
        self.view_settings_opened(project)  # palette choice, outline mode
        self.setWindowTitle(f"labeltool — {project.root}" + (" (read-only)" if read_only else ""))
        for warning in project.warnings:
            self.statusBar().showMessage(warning, 8000)
        if Path(project.images_dir).is_dir():
            self.watcher.addPath(str(project.images_dir))
        self.poll_timer.start()
        self.rescan_timer.start()
        self.hold_timer.start()
        self.proposals.set_project(project, read_only=bool(read_only))
        first = self.session.step(1)
        if first is not None:
            self.go_to(first)
        else:
            self.statusBar().showMessage(f"No images in {project.images_dir}", 8000)
        self._update_enabled()

    # ---- navigation ----------------------------------------------------------------------------
    def go_to(self, index: int) -> None:
        """Show the image at project index ``index``: at once when prefetched, else when decoded."""
        if self.session is None or self._opening or not 0 <= index < len(self.session.names):
            return
        if index == self.session.index:  # already open or on its way
            return
        self.autosave.stop()
        self._snapshot_shown()
        self.session.index = index
        self.files.select(index)
        name = self.session.names[index]
        self._want = name
        future = self.loader.get(name)
        if future.done():
            self._show(name, future)
        else:
            self.futures.watch(future, ("load", name))
            self.statusBar().showMessage(f"Loading {name}…", 2000)

    def _show(self, name: str, future, replace: bool = False) -> None:
        if name != self._want or future.cancelled():
            return  # the user moved on; a newer request is under way
        exc = future.exception()
        if exc is not None:
            self._want = None
            self.session.index = self.session.row_of.get(self.shown, -1)
            self.files.select(self.session.index)
            QMessageBox.warning(self, "Cannot open image", str(exc))
            return
        bundle = future.result()
        if not self.loader.is_current(bundle):  # its mask changed while it was decoded: decode again
            again = self.loader.get(name)
            self.futures.watch(again, ("load", name))
            return
        if not replace:
            self._snapshot_shown()  # edits made while this image was on its way
        project = self.session.project
        previous = self.shown
        failed = self.saves.take_back(name)  # a failed save's pixels come back on screen, unsaved
        mask = failed[0].mask if failed else bundle.mask
        unpainted = failed[0].unpainted if failed else bundle.unpainted
        try:
            self.editor.load(bundle.image, mask, project.codes, self.shown_palette(project), project.void_index,
                             unpainted)
        except ValueError as exc:
            self._want = None
            QMessageBox.warning(self, "Cannot open image", f"{project.image_path(name)}: {exc}")
            return
        if failed:
            self.editor.mark_saved(-1)  # its save failed: the pixels are back on screen, unsaved
            self.statusBar().showMessage(f"{name}: not saved ({failed[1]}); your edits are back on screen", 10000)
        self.editor.set_confidence(bundle.confidence if not failed and bundle.status not in REVIEWABLE else None)
        self.shown = name
        self._want = None
        self._shown_fp = bundle.fingerprint
        self._kept_proposal = bundle.kept_proposal
        self._hide_newer()
        if previous != name:
            self._release_hold()  # after its save: the writer keeps the order
        height, width = bundle.image.shape[:2]
        self.session.set_pixels(name, height * width)
        index = self.session.update(name, bundle.status, bundle.record)
        if index is not None:
            self.files.row_changed(index)
        if not self.files.keeps_focus():  # walking the list with the arrow keys keeps the focus in the list
            self.editor.canvas.setFocus()  # tool keys (B, F, 1-9…) work right after picking an image in the list
        self._update_title()
        self._prefetch()
        self.imageShown.emit(name, mask is not None)

    def _prefetch(self) -> None:
        s = self.session
        if s is None or s.index < 0 or self._closed:  # a timer may fire after close (seen in CI)
            return
        self.loader.prefetch(decode_plan(s, PREFETCH))

    def step(self, delta: int) -> None:
        if self.session is not None:
            target = self.session.step(delta)
            if target is not None:
                self.go_to(target)

    def next_to_correct(self) -> None:
        if self.session is None:
            return
        target = self.session.next_not_corrected()
        if target is None:
            self.statusBar().showMessage("Every image in the list has a corrected mask", 5000)
        else:
            self.go_to(target)

    def _update_enabled(self) -> None:
        status = self.session.status(self.shown) if self.session is not None and self.shown is not None else None
        enabled = enabled_actions(self.session is not None, self._opening, self.read_only, self.jobs.busy(),
                                  status, self.editor.is_dirty(), self._kept_proposal, self.review_mode)
        for key, on in enabled.items():
            self.actions_by_name[key].setEnabled(on)
        self._update_merge_action()

    def _update_title(self, *_args) -> None:
        if self.session is None or self.shown is None:
            return
        dirty = "● " if self.editor.is_dirty() else ""
        status = self.session.status(self.shown)
        ro = " (read-only)" if self.read_only else ""
        self.setWindowTitle(f"{dirty}{self.shown} ({status}) — labeltool — {self.session.project.root}{ro}")
        self._update_enabled()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._closed:
            super().closeEvent(event)
            return
        if self._opening:
            event.ignore()  # the folder scan is still running; close once it is open
            self.statusBar().showMessage("Still opening the folder…", 3000)
            return
        if self.jobs.busy() and not self.ask_quit_while_busy():
            event.ignore()  # found under Xvfb: Ctrl+Q during a retrain dropped it without a word
            return
        if not self.settle("close"):
            event.ignore()  # nothing closes unless saved or discarded on purpose
            return
        self._closed = True
        self.poll_timer.stop()
        self.rescan_timer.stop()
        self.hold_timer.stop()
        self._release_hold()
        self.jobs.shutdown()
        self.proposals.shutdown()
        self.writer.shutdown()
        self.loader.shutdown()
        self._open_pool.shutdown(wait=False)
        self._release_lock()
        super().closeEvent(event)

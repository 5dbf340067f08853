"""The main window: file list, editor, and the propose → correct → retrain → re-propose loop.

The window never decodes or writes a file itself (labeltool.gui.io_threads does, on worker threads):
- switching images shows a prefetched decode at once, or the decode when it arrives; the image that was
  on screen is saved from a snapshot of its mask (edits made after the snapshot stay dirty);
- the open image is held (``Project.hold``) from its first edit until its edits are saved: proposals of
  any process leave it alone meanwhile (an untouched open image gets its proposal like any other); a new
  mask for the open image is offered, never loaded under the user;
- Accept saves the pixels on screen as corrected, whatever the file on disk says by then;
- closing or opening another folder stops when a save failed, with the reason and Retry / Save as… /
  Discard / Cancel: edits go only when saved or discarded on purpose;
- model jobs belong to the folder that started them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QLockFile, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolBar,
)

from labeltool.gui.disk_changes import DiskChanges
from labeltool.gui.editor import EditorWidget
from labeltool.gui.file_list import FileList
from labeltool.gui.io_threads import (
    ConflictError,
    ImageLoader,
    MaskWriter,
    Opened,
    Snapshot,
    future_signals,
    open_project,
    wait_future,
)
from labeltool.gui.model_jobs import ModelJobs
from labeltool.gui.proposal_server import ProposalsAhead
from labeltool.session import Session, accept_action
from model.errors import LabeltoolError
from model.project import NeedsCodesError

AUTOSAVE_IDLE_MS = 2000
POLL_MS = 1000  # how often the record is asked what changed (other processes included)
RESCAN_MS = 120_000  # a folder rescan even without a file-system notification (network folders)
PREFETCH = 2


class MainWindow(DiskChanges, QMainWindow):
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
        self._want: str | None = None  # the image being loaded
        self._saves: dict[str, tuple] = {}  # name -> (snapshot, future) of its latest save
        self._failed: dict[str, tuple] = {}  # name -> (snapshot, exception): saves nobody resolved yet
        self._handled: set[int] = set()
        self._serial = 0
        self._poll_future = None
        self._job_root: Path | None = None
        self._lock_file: QLockFile | None = None
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
        self.setCentralWidget(self.editor)
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
        self._holding: str | None = None  # the image held for its unsaved edits
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
        self._build_actions()
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

    # ---- actions -------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.WindowShortcut)
        action.setToolTip(f"{tip or text} ({', '.join(shortcuts)})" if shortcuts else (tip or text))
        action.triggered.connect(lambda *_: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self.actions_by_name = {
            "open": self._action("Open folder…", self.ask_open_folder, ["Ctrl+O"]),
            "save": self._action("Save", self.save_now, ["Ctrl+S"]),
            "accept": self._action("Accept", self.accept_and_next, ["Return", "Enter"],
                                   "Save the mask on screen as corrected and go to the next image to correct"),
            "prev": self._action("◀ Previous", lambda: self.step(-1), ["PgUp", "A"]),
            "next": self._action("Next ▶", lambda: self.step(1), ["PgDown", "D"]),
            "next_todo": self._action("Next to correct", self.next_to_correct, ["N"],
                                      "Next image without a corrected mask, in the list's order"),
            "propose": self._action("Propose", self.propose,
                                    tip="Let the newest model propose masks for images without a corrected mask"),
            "retrain": self._action("Retrain on my corrections", self.retrain,
                                    tip="Fine-tune the model on the corrected images, then re-propose the rest"),
            "cancel": self._action("Cancel", lambda: self.jobs.cancel(), tip="Stop proposing or training"),
        }
        bar = QToolBar("Main", self)
        bar.setObjectName("main")
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for key in ("open", "save", "prev", "accept", "next", "next_todo", "propose", "retrain", "cancel"):
            bar.addAction(a[key])
        self.addToolBar(Qt.TopToolBarArea, bar)
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for key in ("open", "save"):
            file_menu.addAction(a[key])
        file_menu.addSeparator()
        file_menu.addAction(self._action("Quit", self.close, ["Ctrl+Q"]))
        go = menu.addMenu("&Go")
        for key in ("prev", "next", "next_todo", "accept"):
            go.addAction(a[key])
        self.model_menu = menu.addMenu("&Model")
        for key in ("propose", "retrain", "cancel"):
            self.model_menu.addAction(a[key])
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("Shortcuts", self.editor.show_shortcuts, ["F1"]))

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

    # ---- opening -------------------------------------------------------------------------------
    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a dataset folder")
        if folder:
            self.open_folder(folder)

    def _open_in_thread(self, folder: str, codes: list[str] | None = None) -> Opened:
        future = self._open_pool.submit(open_project, folder, codes)
        wait_future(future, 600_000)  # the window keeps painting while a large folder is scanned
        return future.result()

    def open_folder(self, folder: str) -> bool:
        """Open a dataset folder (scanned on a worker thread; the window stays responsive). False when
        it did not open, or when unsaved edits of the open folder stopped it."""
        if self._opening or self._closed:
            return False
        if not self.settle("open another folder"):
            return False
        self._opening = True
        self.editor.setEnabled(False)
        self._update_enabled()
        self.statusBar().showMessage(f"Opening {folder}…")
        try:
            try:
                opened = self._open_in_thread(folder)
            except NeedsCodesError:
                from labeltool.gui.classes_dialog import ClassesDialog

                dialog = ClassesDialog(folder, self)
                if not dialog.exec():
                    self.statusBar().clearMessage()
                    return False
                opened = self._open_in_thread(folder, dialog.names)
        except LabeltoolError as exc:
            self.statusBar().clearMessage()
            QMessageBox.critical(self, "Cannot open folder", str(exc))
            return False
        finally:
            self._opening = False
            self.editor.setEnabled(True)
            self._update_enabled()
        if self._closed:
            return False
        mode = self._lock_folder(opened.project)
        if mode is None:
            self.statusBar().showMessage("Not opened: another window has that folder open", 5000)
            return False
        if mode == "read_only":
            reason = "this window opened the folder read-only (another window has it open)"
        elif not opened.project.writable:
            reason = "the folder cannot be written here (see the warning when it opened)"
        else:
            reason = None
        self._switch_to(opened, read_only=reason)
        return True

    def _lock_folder(self, project) -> str | None:
        """"write", "read_only" or None (cancel): a second window on the same folder is told."""
        if self._lock_file is not None and self.session is not None and self.session.project.root == project.root:
            return "read_only" if self.read_only else "write"  # the folder this window has open already
        lock = QLockFile(str(Path(project.state_dir) / "app.lock"))
        lock.setStaleLockTime(0)  # held for as long as the window is open; a crashed holder is detected by pid
        if lock.tryLock(0):
            self._release_lock()
            self._lock_file = lock
            return "write"
        if lock.error() != QLockFile.LockFailedError:
            return "write"  # no lock possible here (read-only folder): the record says what can be saved
        info = lock.getLockInfo()  # (pid, host, app) in PySide6; (ok, pid, host, app) in older bindings
        info = info[1:] if len(info) == 4 else info
        who = f"process {info[0]} on {info[1]}" if info and info[0] else "another process"
        choice = self.ask_second_instance(project.root, who)
        if choice in ("read_only", "continue"):
            self._release_lock()  # this window leaves the folder it had
        return {"read_only": "read_only", "continue": "write"}.get(choice)

    def ask_second_instance(self, root, who: str) -> str:
        """"read_only", "continue" or "cancel" (tests replace this)."""
        box = QMessageBox(QMessageBox.Warning, "Folder already open",
                          f"Another labeltool window ({who}) has {root} open.\n\n"
                          "Open it read-only to look without saving. If you continue, both windows can save: "
                          "each save is recorded, and a correction made in the other window is never replaced "
                          "without asking you first. Work on different images to avoid that question.", parent=self)
        read_only = box.addButton("Open read-only", QMessageBox.AcceptRole)
        go_on = box.addButton("Continue", QMessageBox.DestructiveRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(read_only)
        box.exec()
        clicked = box.clickedButton()
        return "read_only" if clicked is read_only else "continue" if clicked is go_on else "cancel"

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.unlock()
            self._lock_file = None

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
        self._saves.clear()
        self._failed.clear()
        self._serial = opened.serial
        self._hide_newer()
        self.loader.set_project(project)
        self.writer.set_project(project, read_only=read_only)
        self.files.set_session(self.session)
        self.editor.set_display(project.get_setting("display"))  # per-project display window (H4)
        self.setWindowTitle(f"labeltool — {project.root}" + (" (read-only)" if read_only else ""))
        for warning in project.warnings:
            self.statusBar().showMessage(warning, 8000)
        if Path(project.images_dir).is_dir():
            self.watcher.addPath(str(project.images_dir))
        self.poll_timer.start()
        self.rescan_timer.start()
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
        failed = self._failed.get(name) or self._failed_save_of(name)
        if failed:
            self._forget_failed(name)
        mask = failed[0].mask if failed else bundle.mask
        try:
            self.editor.load(bundle.image, mask, project.codes, project.palette, project.void_index)
        except ValueError as exc:
            self._want = None
            QMessageBox.warning(self, "Cannot open image", f"{project.image_path(name)}: {exc}")
            return
        if failed:
            self.editor.mark_saved(-1)  # its save failed: the pixels are back on screen, unsaved
            self.statusBar().showMessage(f"{name}: not saved ({failed[1]}); your edits are back on screen", 10000)
        self.editor.set_confidence(bundle.confidence if not failed and bundle.status != "corrected" else None)
        self.shown = name
        self._want = None
        self._shown_fp = bundle.fingerprint
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

    def _failed_save_of(self, name: str):
        """A failed save whose news has not arrived yet (the decode waited for it and came first)."""
        entry = self._saves.get(name)
        if entry is None or not entry[1].done() or entry[1].cancelled() or entry[1].exception() is None:
            return None
        self._handled.add(entry[0].serial)
        return entry[0], entry[1].exception()

    def _forget_failed(self, name: str) -> None:
        """The failed save's pixels are on screen again, or were discarded on purpose."""
        self._failed.pop(name, None)
        entry = self._saves.get(name)
        if entry is not None and entry[1].done():
            self._handled.add(entry[0].serial)
            del self._saves[name]

    def _prefetch(self) -> None:
        s = self.session
        if s is None or s.index < 0 or self._closed:  # a timer may fire after close (seen in CI)
            return
        ahead = []
        for delta in range(1, PREFETCH + 1):
            target = s.step(delta)
            if target is not None:
                ahead.append(target)
        todo = s.next_not_corrected()
        if todo is not None and todo not in ahead:
            ahead.insert(0, todo)
        self.loader.prefetch([s.names[i] for i in ahead[:PREFETCH + 1]])

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

    # ---- saving --------------------------------------------------------------------------------
    def stroke_in_progress(self) -> bool:
        canvas = self.editor.canvas
        layer = self.editor.layer
        return (getattr(canvas, "_stroke_last", None) is not None or getattr(canvas, "_line_anchor", None) is not None
                or bool(canvas.polygon_points) or (layer is not None and layer.history.in_transaction))

    def _snapshot_shown(self, force: bool = False):
        """Save the image on screen from a copy of its mask, on the writer thread; the Future or None."""
        if self.shown is None or self.session is None or not self.editor.is_dirty():
            return None
        layer = self.editor.layer
        latest = self._saves.get(self.shown)
        if (latest is not None and not force and latest[0].layer is layer
                and latest[0].state_id == layer.history.state_id
                and not (latest[1].done() and latest[1].exception() is not None)):
            return latest[1]  # these very pixels are being (or have just been) saved
        snap = Snapshot(self.shown, layer.mask.copy(), self._shown_fp, layer.history.state_id, layer, force=force)
        return self._submit(snap)

    def _submit(self, snap: Snapshot):
        future = self.writer.save(snap)
        if snap.target is None:
            self._saves[snap.name] = (snap, future)
            self.loader.invalidate(snap.name)
        self.futures.watch(future, ("save", snap))
        return future

    def _autosave(self) -> None:
        if self.stroke_in_progress():
            self.autosave.start()  # never save half a stroke; try again when idle
            return
        self._snapshot_shown()

    def _save_done(self, snap: Snapshot, future) -> None:
        if snap.serial in self._handled or future.cancelled():
            return
        self._handled.add(snap.serial)
        if snap.target is not None:
            return  # "Save as…": its caller waits for it
        latest = self._saves.get(snap.name)
        exc = future.exception()
        if exc is not None:
            if latest is not None and latest[0] is not snap:
                return  # a later save of this image (with these pixels and more) supersedes this one
            self._failed[snap.name] = (snap, exc)
            where = "your edits are still on screen" if snap.name == self.shown else \
                "its edits are kept until you save or discard them"
            self.statusBar().showMessage(f"Could not save {snap.name}: {exc} ({where})", 15000)
            return
        if latest is not None and latest[0] is snap:
            del self._saves[snap.name]
        failed = self._failed.get(snap.name)
        if failed is not None and failed[0].serial < snap.serial:
            del self._failed[snap.name]
        result = future.result()
        if snap.layer is not None and snap.layer is self.editor.layer:
            self.editor.mark_saved(snap.state_id)
        if snap.name == self.shown:
            self._shown_fp = result.fingerprint
        index = self.session.update(snap.name, result.status, result.record) if self.session else None
        if index is not None:
            self.files.row_changed(index)
            self.files.summarise()
        self.statusBar().showMessage(f"Saved {result.path.name}", 3000)
        self._update_title()

    def _wait_for_writes(self) -> None:
        """Let every queued save finish (the window keeps answering) and take in its outcome now."""
        barrier = self.writer.call(lambda: None)
        wait_future(barrier)
        for snap, future in list(self._saves.values()):
            if future.done():
                self._save_done(snap, future)

    def save(self) -> bool:
        """Save the mask on screen if it changed; True when nothing is left unsaved."""
        self.autosave.stop()
        if self.session is None or self._closed:
            return True
        self._snapshot_shown()
        self._wait_for_writes()
        return not self.editor.is_dirty() and not self._failed

    def save_now(self) -> None:
        """Ctrl+S: save and say so, or say why not."""
        if not self.save() and self._failed:
            name, (_snap, exc) = next(iter(self._failed.items()))
            QMessageBox.critical(self, "Could not save", f"{exc}\n\nThe edits of {name} are kept: they are "
                                 "still yours to save (try again, or Save as… when closing) or discard.")

    def settle(self, doing: str = "close") -> bool:
        """Before closing or opening another folder: True once nothing is unsaved (saved, or discarded on
        purpose); False when the user cancels."""
        while True:
            self.save()
            if not self._failed:
                return True
            name, (snap, exc) = next(iter(self._failed.items()))
            choice = self.ask_failed_save(name, str(exc), doing)
            if choice == "cancel":
                return False
            if choice == "discard":
                self._forget_failed(name)
                if name == self.shown:
                    self.editor.mark_saved()  # discarded on purpose
            elif choice == "retry":
                del self._failed[name]
                self._retry(snap, force=isinstance(exc, ConflictError))
            elif choice == "save_as":
                path = self.ask_save_as_path(name)
                if path and self._save_as(snap, path):
                    self._forget_failed(name)
                    if name == self.shown:
                        self.editor.mark_saved()

    def _retry(self, snap: Snapshot, force: bool) -> None:
        if snap.name == self.shown and snap.layer is self.editor.layer:
            self._snapshot_shown(force=force) or self._submit(
                Snapshot(snap.name, snap.mask, snap.base_fingerprint, snap.state_id, snap.layer, force=force))
        else:
            self._submit(Snapshot(snap.name, snap.mask, snap.base_fingerprint, force=force))

    def _save_as(self, snap: Snapshot, path: str) -> bool:
        mask = self.editor.layer.mask.copy() if snap.name == self.shown and self.editor.layer is not None \
            else snap.mask
        future = self._submit(Snapshot(snap.name, mask, target=Path(path)))
        wait_future(future)
        if future.exception() is not None:
            QMessageBox.critical(self, "Could not save", str(future.exception()))
            return False
        self.statusBar().showMessage(f"Saved a copy of {snap.name} as {path}", 8000)
        return True

    def ask_quit_while_busy(self) -> bool:
        """True: close anyway, cancelling the retrain or proposal run (tests replace this)."""
        answer = QMessageBox.question(self, "A model job is running",
                                      "A retrain or proposal run is in progress. Closing cancels it: a retrain "
                                      "publishes no model. Close anyway?",
                                      QMessageBox.Close | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Close

    def ask_failed_save(self, name: str, reason: str, doing: str) -> str:
        """"retry", "save_as", "discard" or "cancel" (tests replace this)."""
        box = QMessageBox(QMessageBox.Critical, "Edits not saved",
                          f"The mask of {name} could not be saved:\n{reason}\n\nIts edits are kept until you "
                          f"choose. Retry, save the mask somewhere else, or discard the edits to {doing}.",
                          parent=self)
        retry = box.addButton(QMessageBox.Retry)
        save_as = box.addButton("Save as…", QMessageBox.ActionRole)
        discard = box.addButton(QMessageBox.Discard)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(retry)
        box.exec()
        clicked = box.clickedButton()
        return {id(retry): "retry", id(save_as): "save_as", id(discard): "discard"}.get(id(clicked), "cancel")

    def ask_save_as_path(self, name: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, f"Save the mask of {name} as", f"{name}_P.png", "PNG (*.png)")
        return path or None

    def accept_and_next(self) -> None:
        """Enter: the pixels on screen become the image's corrected mask; go to the next one to correct."""
        if self.session is None or self.shown is None or self.session.current != self.shown:
            return
        if self.stroke_in_progress():
            self.statusBar().showMessage("Finish the stroke or polygon first", 3000)
            return
        self.autosave.stop()
        name = self.shown
        action = accept_action(self.session.status(name), self.editor.is_dirty())
        if action == "nothing":
            self.statusBar().showMessage("Nothing to accept: this image has no mask yet (paint one or Propose)", 5000)
            return
        if action == "save":
            layer = self.editor.layer
            # what is on screen, whatever proposal the file holds by now (another person's correction
            # made meanwhile is not replaced without asking: ConflictError)
            self._submit(Snapshot(name, layer.mask.copy(), self._shown_fp, layer.history.state_id, layer))
        self.next_to_correct()

    def _hold_open_image(self, *_args) -> None:
        """The open image has edits (from the first dab of a stroke): proposals leave it alone until saved."""
        if self.session is not None and self.shown is not None and self._holding != self.shown:
            self._release_hold()
            self._holding = self.shown
            self._record_call(self.session.project.hold, self.shown)

    def _edits_saved_or_not(self, dirty: bool) -> None:
        if dirty:
            self._hold_open_image()
        elif self._holding is not None and self._holding == self.shown and not self.stroke_in_progress():
            self._release_hold()

    def _release_hold(self) -> None:
        """The held image (if any) is released in the record, after the saves queued before it."""
        if self.session is not None and self._holding is not None:
            self._record_call(self.session.project.release, self._holding)
        self._holding = None

    def _record_call(self, fn, *args) -> None:
        """A small write to the project's record (hold, release, settings), on the writer thread, in order
        with the saves; none from a read-only window."""
        if not self.read_only:
            self.writer.call(fn, *args)

    def _palette_changed(self, palette) -> None:
        if self.session is not None:
            self._record_call(self.session.project.set_palette, palette)

    # ---- model work ----------------------------------------------------------------------------
    def _order_changed(self, mode: str) -> None:
        self._user_order = True
        if self.session is not None:
            self._record_call(self.session.project.set_setting, "order", mode)
        self._prefetch()

    def propose(self, names: list[str] | None = None) -> None:
        if self.session is None or self.jobs.busy() or self.read_only:
            return
        self.save()
        from model.modelfile import latest_model

        if latest_model(self.session.project.models_dir) is None:
            QMessageBox.information(self, "Propose", "There is no model yet. Label a few images (paint, then "
                                    "Enter to accept), then click \"Retrain on my corrections\": the new model "
                                    "proposes the rest.")
            return
        self._job_root = self.session.project.root
        self.jobs.propose(self.session.project, names)
        self._update_enabled()

    def retrain(self) -> None:
        if self.session is None or self.jobs.busy() or self.read_only:
            return
        self.save()
        corrected = self.session.counts["corrected"]
        if not corrected:
            QMessageBox.information(self, "Retrain", "No corrected masks yet: correct and accept a few images first.")
            return
        self._job_root = self.session.project.root
        self.jobs.retrain(self.session.project, corrected)
        self._update_enabled()

    def _job_is_ours(self) -> bool:
        return self.session is not None and self._job_root == self.session.project.root

    def _proposed(self, written: list) -> None:
        if not self._job_is_ours():
            return  # proposals of a folder that is no longer open
        self.poll()

    def _trained(self, model_path: str) -> None:
        if not self._job_is_ours():
            self.statusBar().showMessage(f"The retrain of {self._job_root} finished ({Path(model_path).name}); "
                                         "its model stays in that folder and proposes nothing here", 10000)
            return
        if (self.jobs.last_result or {}).get("promoted") is False:
            return  # the active model did not change: its proposals stand
        self.statusBar().showMessage(f"New model {Path(model_path).name}; re-proposing the other images…", 8000)
        self.propose()

    def _job_progress(self, value: int, maximum: int) -> None:
        self.progress.setMaximum(maximum)
        self.progress.setValue(value)
        self.progress.show()

    def _job_finished(self) -> None:
        self.progress.hide()
        self._update_enabled()
        if self._job_is_ours():
            self.poll()
            QTimer.singleShot(POLL_MS // 2, self._reorder_after_proposals)

    def _reorder_after_proposals(self) -> None:
        """New confidences: least certain first becomes the order (unless the user chose one), re-sorted."""
        s = self.session
        if s is None or self._closed or self.jobs.busy():
            return
        if not self._user_order and s.order_mode == "name" and s.has_uncertainty():
            self.files.set_order("uncertain")  # sorts and re-lays the list
            self._user_order = False
        elif s.order_mode != "name":
            s.sort()
            self.files.resorted()
        self._prefetch()

    def _update_enabled(self) -> None:
        has = self.session is not None and not self._opening
        busy = self.jobs.busy()
        writable = has and not self.read_only
        for key in ("prev", "next", "next_todo"):
            self.actions_by_name[key].setEnabled(has)
        for key in ("save", "accept"):
            self.actions_by_name[key].setEnabled(writable)
        self.actions_by_name["open"].setEnabled(not self._opening)
        self.actions_by_name["propose"].setEnabled(writable and not busy)
        self.actions_by_name["retrain"].setEnabled(writable and not busy)
        self.actions_by_name["cancel"].setEnabled(busy)

    def _update_title(self, *_args) -> None:
        if self.session is None or self.shown is None:
            return
        dirty = "● " if self.editor.is_dirty() else ""
        status = self.session.status(self.shown)
        ro = " (read-only)" if self.read_only else ""
        self.setWindowTitle(f"{dirty}{self.shown} ({status}) — labeltool — {self.session.project.root}{ro}")

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
        self._release_hold()
        self.jobs.shutdown()
        self.proposals.shutdown()
        self.writer.shutdown()
        self.loader.shutdown()
        self._open_pool.shutdown(wait=False)
        self._release_lock()
        super().closeEvent(event)

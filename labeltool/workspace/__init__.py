"""What a window does with an open project, without Qt: the list's order and filter (session), which images
come next (plan), loading and writing off the GUI thread (loader, writer), changes on disk (changes), the
save bookkeeping (saves), the folder lock, the Retrain options and a training run's progress. labeltool/gui
keeps the widgets and their wiring; tests/test_architecture.py keeps this package free of Qt."""

from labeltool.workspace.changes import Changes, poll_changes
from labeltool.workspace.folder_lock import FolderLock
from labeltool.workspace.loader import Bundle, ImageLoader, Opened, fingerprint, load_bundle, open_project
from labeltool.workspace.plan import decode_plan, has_model, proposal_plan
from labeltool.workspace.retrain import options_to_args, retrain_options
from labeltool.workspace.saves import Hold, SaveBook, accept_and_next
from labeltool.workspace.session import Session, accept_action
from labeltool.workspace.train_progress import TrainProgress
from labeltool.workspace.writer import ConflictError, MaskWriter, ReadOnlyError, Snapshot

__all__ = [
    "Bundle", "Changes", "ConflictError", "FolderLock", "Hold", "ImageLoader", "MaskWriter", "Opened",
    "ReadOnlyError", "SaveBook", "Session", "Snapshot", "TrainProgress", "accept_action", "accept_and_next",
    "decode_plan", "fingerprint", "has_model", "load_bundle", "open_project", "options_to_args",
    "poll_changes", "proposal_plan", "retrain_options",
]

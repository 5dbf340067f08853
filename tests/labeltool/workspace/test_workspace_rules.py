"""The window's rules in labeltool/workspace, without Qt: which images come next (one plan for decoding and
proposing), the save bookkeeping and settle, the folder lock, the Retrain options."""

import subprocess
import sys
from concurrent.futures import Future
from types import SimpleNamespace

import numpy as np
import pytest

from labeltool.workspace.folder_lock import FolderLock
from labeltool.workspace.plan import decode_plan, enabled_actions, proposal_plan
from labeltool.workspace.retrain import check_working_scale, options_to_args, save_options
from labeltool.workspace.saves import SaveBook
from labeltool.workspace.session import Session
from labeltool.workspace.writer import ConflictError, Snapshot


class FakeProject:
    def __init__(self, names):
        self._names = names

    def names(self):
        return list(self._names)


def session_of(statuses):
    s = Session(FakeProject(list(statuses)), statuses=statuses)
    s.sort("name")
    return s


def done(result=None, exc=None) -> Future:
    f = Future()
    f.set_exception(exc) if exc is not None else f.set_result(result)
    return f


def test_decode_plan_starts_with_the_next_image_to_correct_then_the_next_in_the_list():
    s = session_of({"a": "corrected", "b": "corrected", "c": "corrected", "d": "proposed", "e": "none"})
    s.index = 0
    assert decode_plan(s, 2) == ["d", "b", "c"]  # Enter opens d; D opens b then c
    s.index = 3
    assert decode_plan(s, 2) == ["e"]


def test_proposal_plan_skips_corrected_images_and_an_edited_screen():
    s = session_of({"a": "none", "b": "corrected", "c": "proposed", "d": "none", "e": "none"})
    s.index = 0
    assert proposal_plan(s, "a", dirty=False, count=2) == ["a", "c", "d"]
    assert proposal_plan(s, "a", dirty=True, count=2) == ["c", "d"]  # edits on screen: no proposal under them
    assert proposal_plan(s, None, dirty=False, count=2) == []
    s.update("c", "edited")  # a person's unchecked work: never planned for a proposal (the engine refuses it)
    s.update("a", "unknown")
    assert proposal_plan(s, "a", dirty=False, count=2) == ["d", "e"]


def test_a_read_only_window_neither_saves_nor_proposes():
    on = enabled_actions(True, False, read_only=True, busy=False)
    assert on["next"] and not on["save"] and not on["accept"] and not on["propose"]
    assert enabled_actions(True, False, read_only=False, busy=True)["cancel"]


def test_a_failed_save_is_kept_until_a_later_save_succeeds_and_an_older_failure_is_superseded():
    book = SaveBook()
    first, second = Snapshot("x", np.zeros((2, 2), np.uint8)), Snapshot("x", np.ones((2, 2), np.uint8))
    book.submitted(first, f1 := done(exc=OSError("disk full")))
    book.submitted(second, f2 := done(exc=OSError("disk full")))
    assert book.outcome(first, f1) is None  # superseded: the later save has these pixels and more
    assert book.outcome(second, f2) == "failed" and "x" in book.failed
    assert book.outcome(second, f2) is None  # taken in once
    third = Snapshot("x", np.ones((2, 2), np.uint8))
    book.submitted(third, f3 := done(result="ok"))
    assert book.outcome(third, f3) == "saved" and not book.failed and not book.saving("x")


def test_settle_asks_until_nothing_is_unsaved_and_cancel_stops():
    book = SaveBook()
    snap = Snapshot("x", np.zeros((2, 2), np.uint8))
    book.submitted(snap, f := done(exc=ConflictError("x_P.png", "another window saved")))
    book.outcome(snap, f)
    asked, retried = [], []
    assert not book.settle("close", save=lambda: None, ask=lambda n, r, d: asked.append(r) or "cancel",
                           resolved=lambda n: None, retry=lambda s, force: None, save_as=lambda n, s: False)
    assert "another window" in asked[0] and "x" in book.failed

    def retry(s, force):
        retried.append(force)
        book.submitted(s, f := done(result="ok"))
        book.outcome(s, f)

    assert book.settle("close", save=lambda: None, ask=lambda *a: "retry", resolved=lambda n: None,
                       retry=retry, save_as=lambda n, s: False)
    assert retried == [True]  # after a conflict a retry means: the person's pixels win


def test_settle_discard_resolves_the_image():
    book = SaveBook()
    snap = Snapshot("x", np.zeros((2, 2), np.uint8))
    book.submitted(snap, f := done(exc=OSError("read-only")))
    book.outcome(snap, f)
    resolved = []
    assert book.settle("close", save=lambda: None, ask=lambda *a: "discard", resolved=resolved.append,
                       retry=lambda *a: None, save_as=lambda *a: False)
    assert resolved == ["x"] and not book.failed


def test_one_window_per_folder_and_a_dead_holder_leaves_it_free(tmp_path):
    path = tmp_path / "app.lock"
    first, second = FolderLock(path), FolderLock(path)
    assert first.acquire() == "held"
    assert second.acquire() == "taken"
    assert second.holder().startswith("process ") and str(__import__("os").getpid()) in second.holder()
    first.release()
    assert second.acquire() == "held"
    second.release()
    code = ("import sys, os; from labeltool.workspace.folder_lock import FolderLock; "
            "assert FolderLock(sys.argv[1]).acquire() == 'held'; os._exit(0)")  # dies holding it
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
    assert FolderLock(path).acquire() == "held"
    (tmp_path / "folder.lock").mkdir()
    assert FolderLock(tmp_path / "folder.lock").acquire() == "unlockable"


def test_the_retrain_options_refuse_the_working_scale_training_would_refuse():
    settings = {}
    project = SimpleNamespace(root="p", set_setting=settings.__setitem__, get_setting=settings.get)
    with pytest.raises(ValueError, match="between 0.05 and 4"):
        save_options(project, {"scale": 0.02})
    assert not settings
    save_options(project, {"arch": "FPN", "scale": 0.5})
    assert settings == {"retrain": {"arch": "FPN"}, "working_scale": 0.5}
    assert check_working_scale(None) is None
    assert options_to_args(settings["retrain"]) == ["--arch", "FPN"]


def test_a_recovery_file_goes_into_the_dataset_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    from labeltool.workspace.recovery import write_recovery

    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    project = SimpleNamespace(root=tmp_path / "ds", state_dir=tmp_path / "ds" / ".labeltool",
                              palette=np.zeros((3, 3), np.uint8))
    path = write_recovery(project, "img", np.ones((4, 5), np.uint8))
    assert path == tmp_path / "ds" / ".labeltool" / "recovery" / "img_P.png" and path.is_file()


def test_the_conflict_check_runs_inside_the_projects_write(tmp_path):
    """save_snapshot hands the check to save_mask(guard=...): it runs under the project's write lock."""
    from labeltool.workspace.writer import save_snapshot

    calls = []

    class Spy:
        def label_path(self, name):
            return tmp_path / f"{name}_P.png"

        def status(self, name):
            return "corrected"

        def save_mask(self, name, mask, status, *, guard=None, unpainted=None):
            calls.append(("lock taken", status))
            (tmp_path / f"{name}_P.png").write_bytes(b"someone else's")
            guard()  # raises: someone else's mask appeared since the image was opened
            calls.append("written")

    with pytest.raises(ConflictError):
        save_snapshot(Spy(), Snapshot("x", np.zeros((2, 2), np.uint8), base_fingerprint=None))
    assert calls == [("lock taken", "edited")]


def test_a_refreshed_hold_outlives_the_expiry_that_clears_a_crashed_editors(tmp_path):
    """An editor open for days keeps its image held (predict leaves it alone); without the refresh the hold
    would look like one left by a crashed editor on another machine and expire."""
    from labeltool.workspace.saves import Hold
    from model.project.project import Project
    from model.project.record import HOLD_EXPIRY_S

    (tmp_path / "images").mkdir()
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "a.png")
    (tmp_path / "codes.txt").write_text("Sky\nVoid\n")
    project = Project.open(tmp_path)
    hold = Hold(lambda fn, *args: fn(*args))
    hold.hold(project, "a")

    def age(seconds):
        with project.db.transaction() as conn:
            conn.execute("UPDATE holds SET since = since - ?", (seconds,))

    age(HOLD_EXPIRY_S - 60)
    hold.refresh(project)  # what the window's timer does every HOLD_REFRESH_S
    age(120)
    assert project.db.holder("a") is not None
    age(HOLD_EXPIRY_S)  # no refresh for longer than the expiry: treated as left by a crashed editor
    assert project.db.holder("a") is None

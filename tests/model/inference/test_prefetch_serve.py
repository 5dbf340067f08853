"""`labeltool predict DATASET --json --serve`: the app's proposal child, driven through its stdin."""

from __future__ import annotations

import io
import json
import os
import queue
import sys
import threading
import time
from pathlib import Path

import pytest

from model.inference.prefetch import Prefetcher
from model.project.project import Project
from tests._train_data import make_dataset, with_unproposed_images


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELTOOL_RUNTIME", "torch")  # no ONNX timing here: tests/test_runtime.py covers it
    root = make_dataset(tmp_path / "ds", count=7, size=64)
    return with_unproposed_images(root, ["img01", "img02", "img03", "img05", "img06"])


class Child:
    """``labeltool predict DATASET --json --serve`` run in a thread of this process (the same code as the
    child process the app starts, without paying for a second torch import), stdin and stdout as pipes."""

    def __init__(self, root: Path, monkeypatch):
        from labeltool.cli import main

        read_fd, write_fd = os.pipe()
        self.stdin = os.fdopen(write_fd, "w")
        self.lines: queue.Queue[str] = queue.Queue()
        lines = self.lines

        class Out(io.TextIOBase):
            def write(self, text: str) -> int:
                for line in text.splitlines():
                    lines.put(line)
                return len(text)

        monkeypatch.setattr(sys, "stdin", os.fdopen(read_fd, "r"))
        monkeypatch.setattr(sys, "stdout", Out())
        self.code: list[int] = []
        self.thread = threading.Thread(target=lambda: self.code.append(main(
            ["predict", str(root), "--json", "--serve", "--device", "cpu", "--nice", "0"])), daemon=True)
        self.thread.start()
        self.events: list[dict] = []

    def send(self, message: dict) -> None:
        self.stdin.write(json.dumps(message) + "\n")
        self.stdin.flush()

    def until(self, predicate, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = json.loads(self.lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                break
            self.events.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"no such event; got {self.events}")

    def close(self) -> int:
        self.stdin.close()  # the app closing its end: the child finishes and exits
        self.thread.join(60)
        assert not self.thread.is_alive(), "the serve loop did not end when its stdin closed"
        while not self.lines.empty():
            self.events.append(json.loads(self.lines.get()))
        return self.code[0]


def proposed(events: list[dict]) -> list[str]:
    return [e["name"] for e in events if e.get("event") == "proposed"]


def test_serve_proposes_each_plan_in_order_and_exits_when_stdin_closes(dataset, monkeypatch):
    corrected = (dataset / "labels" / "img04_P.png").read_bytes()
    project = Project.open(dataset)
    project.hold("img03")  # open in an editor (the app holds its image from the first dab)
    child = Child(dataset, monkeypatch)
    try:
        child.until(lambda e: e.get("event") == "start")
        child.send({"plan": ["img02", "img04", "img03", "img01"]})  # the order the app will show them in
        child.until(lambda e: e.get("name") == "img01" and e.get("event") == "proposed")
        child.send({"plan": ["img06", "nope"]})  # replaces the plan; an unknown name is named back
        child.until(lambda e: e.get("name") == "img06" and e.get("event") == "proposed")
    finally:
        code = child.close()
    assert code == 0
    assert proposed(child.events) == ["img02", "img01", "img06"]  # in plan order; img05 was never asked for
    held = [e for e in child.events if e.get("event") == "skipped" and e.get("name") == "img03"]
    assert held and held[0]["reason"].startswith("open in an editor on ")  # the machine and since when
    notices = [e for e in child.events if e.get("event") == "notice"]
    assert notices and "nope" in notices[0]["message"]
    assert child.events[-1]["event"] == "done" and child.events[-1]["count"] == 3
    assert (dataset / "labels" / "img04_P.png").read_bytes() == corrected  # a correction is never overwritten
    project = Project.open(dataset)
    assert [project.status(n) for n in ("img01", "img02", "img03", "img04", "img05", "img06")] == \
        ["proposed", "proposed", "none", "corrected", "none", "proposed"]
    record = project.record("img02")
    assert record.mean_confidence is not None and record.entropy is not None  # as a batch run records it
    assert project.confidence_path("img02").exists()


def test_a_new_plan_replaces_the_old_one(dataset):
    project = Project.open(dataset)
    prefetcher = Prefetcher(project, ahead=0)
    try:
        first = prefetcher.schedule(["img01", "img02", "img03"], ahead=3)
        prefetcher.schedule(["img05"], ahead=1)  # while the model loads for img01: img02 and img03 are dropped
        assert prefetcher.wait_idle(120)
    finally:
        prefetcher.close()
    assert first == ["img01", "img02", "img03"]
    assert set(prefetcher.proposed) <= {"img01", "img05"} and "img05" in prefetcher.proposed
    assert project.status("img02") == "none" and project.status("img03") == "none"


def test_quit_message_ends_the_child(dataset, monkeypatch):
    child = Child(dataset, monkeypatch)
    child.until(lambda e: e.get("event") == "start")
    child.send({"quit": True})
    child.thread.join(30)
    assert not child.thread.is_alive() and child.code == [0]
    assert child.until(lambda e: e.get("event") == "done")["count"] == 0
    child.stdin.close()

"""Shared test set-up: Qt runs offscreen, torch stays small, the network is never touched."""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LABELTOOL_OFFLINE", "1")

import pytest  # noqa: E402

CAMVID = Path(__file__).resolve().parents[1].parent / "shared" / "camvid11"


@pytest.fixture(scope="session", autouse=True)
def _small_torch():
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def camvid11() -> Path:
    """The real CamVid-11 data beside the checkout; tests using it skip on a fresh clone without it."""
    if not (CAMVID / "train").is_dir():
        pytest.skip("../shared/camvid11 is not present")
    return CAMVID


@pytest.fixture(autouse=True)
def _torch_runtime(request, monkeypatch):
    """Proposals use the torch path in tests (no ONNX export and runtime timing after every tiny training);
    tests/test_runtime.py covers the onnxruntime path itself."""
    if not request.module.__name__.endswith("test_runtime"):
        monkeypatch.setenv("LABELTOOL_RUNTIME", "torch")


@pytest.fixture(autouse=True)
def _collect_on_the_main_thread():
    """As in the app (labeltool/gui/gc_guard.py): no automatic collection, which could run in a loader or
    superpixel thread and destroy a Qt object there (a deadlock against the main thread, seen in a full
    run); cycles are collected after each test, on the main thread."""
    import gc

    gc.disable()
    yield
    gc.collect()

"""The window's rules without Qt (labeltool.workspace.session) and the I/O threads headless (labeltool.workspace):
navigation order, filter, uncertainty, pixels to check, Accept, and the writer's conflict rule."""

from types import SimpleNamespace

import numpy as np
import pytest

from labeltool.workspace.loader import ImageLoader, fingerprint, open_project
from labeltool.workspace.session import Session, accept_action, pixels_to_check, uncertainty
from labeltool.workspace.writer import ConflictError, MaskWriter, Snapshot
from model.images.imageio import read_mask, write_image
from model.project.codes import write_codes
from model.project.project import Project

CODES = ["Sky", "Road", "Void"]


def rec(status="proposed", **values):
    base = dict(mean_confidence=None, unsure_fraction=None, entropy=None, margin=None)
    base.update(values)
    return SimpleNamespace(status=status, **base)


class FakeProject:
    def __init__(self, names):
        self._names = names

    def names(self):
        return list(self._names)


def session_of(records, pixels=100):
    return Session(FakeProject(list(records)), records=records, image_pixels=pixels)


def test_least_certain_first_is_the_order_next_follows():
    records = {"a": rec("corrected", entropy=0.9), "b": rec(entropy=0.2), "c": rec(entropy=0.7),
               "d": rec("none"), "e": rec(entropy=0.5)}
    s = session_of(records)
    assert s.order_mode == "uncertain"  # the default once a proposal has a confidence
    assert [s.names[i] for i in s.order] == ["c", "e", "b", "d", "a"]  # corrected last, no proposal before it
    s.index = s.row_of["c"]
    walked = []
    while (target := s.step(1)) is not None:
        s.index = target
        walked.append(s.names[target])
    assert walked == ["e", "b", "d", "a"]
    s.index = s.row_of["b"]
    assert s.names[s.next_not_corrected()] == "d"
    s.index = s.row_of["d"]
    assert s.names[s.next_not_corrected()] == "c"  # wraps around, skips the corrected "a"
    s.sort("name")
    s.index = s.row_of["a"]
    assert s.names[s.step(1)] == "b"


def test_name_order_without_any_proposal_and_status_order():
    s = session_of({"b": rec("none"), "a": rec("corrected"), "c": rec("unknown")})
    assert s.order_mode == "name"
    assert [s.names[i] for i in s.order] == ["a", "b", "c"]
    s.sort("status")
    assert [s.names[i] for i in s.order] == ["c", "b", "a"]  # unknown, no mask, corrected


def test_filter_and_search_restrict_what_next_walks():
    s = session_of({f"img{i}": rec("proposed" if i % 2 else "none", mean_confidence=i / 10) for i in range(6)})
    s.sort("name")
    s.set_filter("proposed")
    assert [s.names[i] for i in s.shown()] == ["img1", "img3", "img5"]
    s.index = s.row_of["img1"]
    assert s.names[s.step(1)] == "img3"
    s.index = s.row_of["img2"]  # the open image need not pass the filter
    assert s.names[s.step(1)] == "img3" and s.names[s.step(-1)] == "img1"
    s.set_filter("all", "IMG4")
    assert [s.names[i] for i in s.shown()] == ["img4"]


def test_uncertainty_measures_and_pixels_to_check():
    assert uncertainty(rec(entropy=0.3, margin=0.9, mean_confidence=0.95)) == pytest.approx(0.3)
    assert uncertainty(rec(margin=0.9, mean_confidence=0.95)) == pytest.approx(0.1)
    assert uncertainty(rec(mean_confidence=0.8)) == pytest.approx(0.2)
    assert uncertainty(rec()) is None
    mixed = {"a": rec(entropy=0.3, margin=0.9), "b": rec(margin=0.5), "c": rec(mean_confidence=0.9), "d": rec("none")}
    s = session_of(mixed)  # the vectorised columns follow the same rule as one record at a time
    assert [None if np.isnan(u) else round(u, 6) for u in s.uncertainty] == [0.3, 0.5, 0.1, None]
    assert pixels_to_check(rec(unsure_fraction=0.25), 1000) == 250
    assert pixels_to_check(rec(), 1000) is None
    s = session_of({"a": rec(unsure_fraction=0.5), "b": rec(unsure_fraction=0.1), "c": rec("corrected", unsure_fraction=1)})
    assert s.total_to_check == 60  # corrected images have nothing left to check
    s.set_pixels("a", 1000)  # its real size once decoded
    assert s.to_check(s.row_of["a"]) == 500 and s.total_to_check == 510
    s.update("a", "corrected")
    assert s.total_to_check == 10 and s.counts["corrected"] == 2


def test_accept_rules():
    assert accept_action("proposed", dirty=False) == "save"  # the pixels on screen, never "whatever is on disk"
    assert accept_action("unknown", dirty=False) == "save"
    assert accept_action("none", dirty=True) == "save"
    assert accept_action("edited", dirty=False) == "save"  # checked now: the same pixels, restamped corrected
    assert accept_action("corrected", dirty=False) == "skip"
    assert accept_action("none", dirty=False) == "nothing"


@pytest.fixture
def project(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(tmp_path / "images" / f"f{i}.png", rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
    write_codes(tmp_path / "codes.txt", CODES)
    return Project.open(tmp_path)


def test_writer_never_replaces_a_correction_made_elsewhere_but_replaces_a_proposal(project, tmp_path):
    writer = MaskWriter(project)
    base = fingerprint(project.label_path("f0"))
    other = Project.open(tmp_path)  # another window or program
    other.save_mask("f0", np.full((12, 16), 1, np.uint8), "corrected")
    with pytest.raises(ConflictError, match="f0_P.png"):
        writer.save(Snapshot("f0", np.zeros((12, 16), np.uint8), base)).result()
    assert read_mask(project.label_path("f0"), 3).max() == 1  # theirs kept
    writer.save(Snapshot("f0", np.zeros((12, 16), np.uint8), base, force=True)).result()  # the user said so
    assert read_mask(project.label_path("f0"), 3).max() == 0
    # a proposal written meanwhile is not a person's work: the person's pixels replace it
    other.save_mask("f1", np.full((12, 16), 1, np.uint8), "proposed")
    result = writer.save(Snapshot("f1", np.zeros((12, 16), np.uint8), None)).result()
    assert result.status == "edited" and read_mask(project.label_path("f1"), 3).max() == 0  # a save: not checked
    # this writer's own earlier saves never count as someone else's
    writer.save(Snapshot("f1", np.full((12, 16), 2, np.uint8), None)).result()
    # another person's edited (unchecked) mask is theirs too: not replaced without asking
    base = fingerprint(project.label_path("f2"))
    other.save_mask("f2", np.full((12, 16), 1, np.uint8), "edited")
    with pytest.raises(ConflictError, match="f2_P.png"):
        writer.save(Snapshot("f2", np.zeros((12, 16), np.uint8), base, status="corrected")).result()
    assert other.status("f2") == "edited"
    writer.shutdown()


def test_loader_waits_for_the_pending_save_and_drops_stale_prefetch(project):
    writer = MaskWriter(project)
    loader = ImageLoader(project, writer)
    loader.prefetch(["f2"])
    assert loader.get("f2").result().mask is None
    writer.save(Snapshot("f2", np.full((12, 16), 1, np.uint8)))
    loader.invalidate("f2")
    bundle = loader.get("f2").result()
    assert bundle.mask is not None and bundle.mask.max() == 1 and bundle.status == "edited"
    assert bundle.image.shape == (12, 16, 3)
    loader.shutdown()
    writer.shutdown()


def test_open_project_headless(project, tmp_path):
    project.save_mask("f3", np.zeros((12, 16), np.uint8), "proposed",
                      summary={"mean_confidence": 0.6, "unsure_fraction": 0.5, "entropy": 0.4})
    opened = open_project(tmp_path)
    s = opened.session
    assert s.order_mode == "uncertain" and s.names[s.order[0]] == "f3"
    assert s.image_pixels == 12 * 16 and s.total_to_check == 96


def test_headless_accept_and_next(project, tmp_path):
    from labeltool.workspace.saves import accept_and_next

    opened = open_project(tmp_path)
    s, writer = opened.session, MaskWriter(opened.project)
    loader = ImageLoader(opened.project, writer)
    s.index = 0
    save, bundle = accept_and_next(s, loader, writer, np.ones((12, 16), np.uint8))
    assert save.result().status == "corrected" and bundle.name == s.current == "f1"
    loader.shutdown()
    writer.shutdown()

"""The status rule (issue 16): a person's checked work is the only training data; the proof covers the
decoded pixels; a person's stamp beats the index row; edited work, kept proposals and removed masks."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3

import numpy as np
import pytest
from _status_data import SIZE, make, striped
from PIL import Image, PngImagePlugin

from model.atomic import atomic_write_bytes
from model.errors import MaskError
from model.images.imageio import encode_mask, read_mask, write_mask
from model.project.kept import STATUSES
from model.project.project import Project, ProposalRefused
from model.project.provenance import Provenance, idat_hash, person_info, read_provenance, read_stamp, stamp
from model.project.status import decide


def recompress(path, level=9, keep_chunk=True):
    """What optipng or a PIL re-save does: the same pixels, other IDAT bytes, the labeltool chunk kept."""
    with Image.open(path) as image:
        image.load()
        text = image.info.get("labeltool")
        info = PngImagePlugin.PngInfo()
        if keep_chunk and text is not None:
            info.add_text("labeltool", text)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=level, pnginfo=info)
    path.write_bytes(buffer.getvalue())


# ---- the rule itself -----------------------------------------------------------------------------
@pytest.mark.parametrize("prov, row, legacy, expected", [
    (None, (None, None), None, "none"),
    (Provenance({"source": "person", "checked": True}), (None, None), None, "corrected"),
    (Provenance({"source": "person", "checked": False}), (None, None), None, "edited"),
    (Provenance({"v": 1, "source": "person"}), (None, None), None, "corrected"),  # labeltool 0.2's stamp
    (Provenance({"source": "person"}), ("proposed", "h"), None, "corrected"),  # the file beats the row
    (Provenance({"source": "model"}, proven=True), (None, None), None, "proposed"),
    (Provenance({"source": "model"}, proven=False), (None, None), None, "unknown"),
    (Provenance({"source": "unreadable"}), (None, None), None, "unknown"),
    (Provenance({"source": "robot"}), (None, None), None, "unknown"),
    (Provenance(None), (None, None), None, "corrected"),  # another tool, an import
    (Provenance(None, pixels="h"), ("proposed", "h"), None, "proposed"),  # chunk stripped, pixels kept
    (Provenance(None, pixels="h"), ("edited", "h"), None, "edited"),
    (Provenance(None, pixels="x"), ("proposed", "h"), None, "corrected"),
    (Provenance(None), (None, None), "unknown", "unknown"),  # labeltool 0.1's record
])
def test_decide_is_the_one_rule(prov, row, legacy, expected):
    assert decide(prov, *row, legacy=legacy) == expected
    assert expected in STATUSES


# ---- the proof covers pixels --------------------------------------------------------------------
def test_a_lossless_recompression_keeps_a_proposal_a_proposal(tmp_path):
    project = make(tmp_path)
    project.save_mask("f1", striped(), "proposed", model="m")
    path = tmp_path / "labels" / "f1_P.png"
    before = path.read_bytes()
    recompress(path, level=9)
    after = path.read_bytes()
    assert idat_hash(after) != idat_hash(before)  # other compressed bytes ...
    assert (read_mask(path) == striped()).all()  # ... the same pixels
    assert read_stamp(path)["source"] == "model"
    project = Project.open(tmp_path)
    assert project.status("f1") == "proposed"
    assert "f1" not in project.training_names()[0] and "f1" not in project.corrected_names()
    shutil.rmtree(tmp_path / ".labeltool")  # a copy without the index decides from the file alone
    assert Project.open(tmp_path).status("f1") == "proposed"


def test_one_changed_pixel_under_a_kept_model_stamp_is_unknown(tmp_path):
    project = make(tmp_path)
    project.save_mask("f1", striped(), "proposed", model="m")
    path = tmp_path / "labels" / "f1_P.png"
    text = read_stamp(path)
    changed = striped()
    changed[3, 4] = (changed[3, 4] + 1) % 3
    info = PngImagePlugin.PngInfo()
    info.add_text("labeltool", json.dumps(text))
    Image.fromarray(changed, mode="L").save(path, pnginfo=info)
    project = Project.open(tmp_path)
    assert project.status("f1") == "unknown"
    assert project.training_names()[0] == []


def raw_stamp(png: bytes, info: dict) -> bytes:
    """``png`` with a labeltool chunk holding exactly ``info`` (as labeltool 0.2 wrote its v1 stamps)."""
    from model.project.provenance import PNG_SIGNATURE, _chunk, _chunks

    text = json.dumps(info, sort_keys=True, separators=(",", ":")).encode("latin-1")
    out = [PNG_SIGNATURE]
    for kind, payload in _chunks(png):
        out.append(_chunk(kind, payload))
        if kind == b"IHDR":
            out.append(_chunk(b"tEXt", b"labeltool\x00" + text))
    return b"".join(out)


def test_proposals_of_labeltool_0_2_stamps_stay_proposals(tmp_path):
    project = make(tmp_path)
    png = encode_mask(striped(), project.palette)
    labels = tmp_path / "labels"
    labels.mkdir(exist_ok=True)
    (labels / "f0_P.png").write_bytes(raw_stamp(png, {"v": 1, "source": "model", "model": "old", "at": "then",
                                                      "pixels": idat_hash(png)}))
    (labels / "f1_P.png").write_bytes(raw_stamp(png, {"v": 1, "source": "model", "model": "old", "at": "then",
                                                      "pixels": "0" * 64}))
    (labels / "f2_P.png").write_bytes(raw_stamp(png, {"v": 1, "source": "person", "by": "x", "at": "then"}))
    project = Project.open(tmp_path)
    assert project.statuses() == {"f0": "proposed", "f1": "unknown", "f2": "corrected", "f3": "none"}


def test_a_proposal_whose_chunk_was_stripped_keeps_its_status_by_its_pixels(tmp_path):
    project = make(tmp_path)
    project.save_mask("f1", striped(), "proposed", model="m")
    project.save_mask("f2", striped(2), "edited")
    for name in ("f1", "f2"):
        recompress(tmp_path / "labels" / f"{name}_P.png", level=1, keep_chunk=False)
    project = Project.open(tmp_path)
    assert project.status("f1") == "proposed" and project.status("f2") == "edited"
    write_mask(tmp_path / "labels" / "f1_P.png", striped(5))  # other pixels, no chunk: another tool's work
    assert project.status("f1") == "corrected"


# ---- the file wins over the index ------------------------------------------------------------------
def test_a_persons_stamp_beats_a_stale_proposed_row_and_predict_leaves_it(tmp_path):
    """Accept's rename happened, its record update did not (a SIGKILL in between): the row says proposed."""
    project = make(tmp_path)
    project.save_mask("f1", striped(), "proposed", model="m")
    path = tmp_path / "labels" / "f1_P.png"
    accepted = stamp(encode_mask(striped(), project.palette), person_info("ann", "now", checked=True))
    atomic_write_bytes(path, accepted)
    assert project.db.get("f1").status == "proposed"
    for fresh in (project, Project.open(tmp_path)):
        assert fresh.status("f1") == "corrected"
        assert fresh.training_names()[0] == ["f1"]
        with pytest.raises(ProposalRefused, match="f1_P.png.*corrected"):
            fresh.save_mask("f1", striped(3), "proposed", model="m2")
    assert path.read_bytes() == accepted


def test_a_row_is_trusted_only_while_size_mtime_and_inode_are_unchanged(tmp_path):
    project = make(tmp_path)
    png = encode_mask(striped(), project.palette)
    checked = stamp(png, person_info("abc", "now", checked=True))
    unchecked = stamp(png, person_info("ab", "now", checked=False))
    assert len(checked) == len(unchecked)
    path = tmp_path / "labels" / "f1_P.png"
    atomic_write_bytes(path, checked)
    assert project.status("f1") == "corrected"
    st = path.stat()
    atomic_write_bytes(path, unchecked)  # same size; the mtime is put back as it was
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert project.status("f1") == "edited"
    assert Project.open(tmp_path).statuses()["f1"] == "edited"


def test_an_index_of_schema_1_opens_and_gains_the_new_columns(tmp_path):
    make(tmp_path)
    db = tmp_path / ".labeltool" / "record.sqlite"
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / ".labeltool" / f"record.sqlite{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE images (name TEXT PRIMARY KEY, status TEXT NOT NULL, size INTEGER, mtime_ns INTEGER,
            pixels TEXT, model TEXT, mean_confidence REAL, unsure_fraction REAL, entropy REAL, margin REAL,
            corrected_by TEXT, corrected_at TEXT, proposed_at TEXT, updated_at TEXT,
            serial INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE holds (name TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, since REAL);
        INSERT INTO meta VALUES ('schema_version', '1');
    """)
    write_mask(tmp_path / "labels" / "f0_P.png", striped())
    st = (tmp_path / "labels" / "f0_P.png").stat()
    conn.execute("INSERT INTO images (name, status, size, mtime_ns, model, mean_confidence) VALUES "
                 "('f0', 'proposed', ?, ?, 'old', 0.5)", (st.st_size, st.st_mtime_ns))
    conn.commit()
    conn.close()
    project = Project.open(tmp_path)
    assert project.db.get_meta("schema_version") == 2
    assert project.status("f0") == "corrected"  # re-checked once: a file without a stamp or known pixels
    assert project.record("f0").mean_confidence == 0.5  # the rest of the row is kept
    row = project.db.get("f0")
    assert row.inode == st.st_ino and row.ctime_ns == st.st_ctime_ns


# ---- edited: a person's unchecked work ---------------------------------------------------------------
def test_edited_work_is_kept_never_trained_on_and_never_overwritten_by_proposals(tmp_path):
    project = make(tmp_path)
    project.save_mask("f1", striped(), "proposed", model="m")
    project.save_mask("f1", striped(1), "edited")
    assert read_stamp(tmp_path / "labels" / "f1_P.png")["checked"] is False
    assert project.status("f1") == "edited"
    assert project.corrected_names() == [] and project.training_names() == ([], [])
    with pytest.raises(ProposalRefused, match="f1_P.png.*edited"):
        project.save_mask("f1", striped(2), "proposed", model="m")
    assert (project.load_mask("f1") == striped(1)).all()
    shutil.rmtree(tmp_path / ".labeltool")
    assert Project.open(tmp_path).status("f1") == "edited"  # the file says so


def test_unpainted_pixels_travel_in_the_edited_stamp_and_block_mark_corrected(tmp_path):
    project = make(tmp_path)
    unpainted = np.random.default_rng(3).random(SIZE) < 0.5  # a noisy map: a chunk longer than the head read
    project.save_mask("f0", striped(), "edited", unpainted=unpainted)
    assert (project.load_unpainted("f0") == unpainted).all()
    assert Project.open(tmp_path).status("f0") == "edited"
    with pytest.raises(MaskError, match=f"f0_P.png.*{int(unpainted.sum())} pixels nobody painted"):
        project.set_status("f0", "corrected")
    with pytest.raises(MaskError, match="f0_P.png.*never painted"):
        project.save_mask("f0", striped(), "corrected", unpainted=unpainted)
    assert project.status("f0") == "edited"
    project.save_mask("f0", striped(), "edited", unpainted=np.zeros(SIZE, bool))  # all painted now
    assert project.load_unpainted("f0") is None
    project.set_status("f0", "corrected")
    assert project.status("f0") == "corrected" and project.training_names()[0] == ["f0"]
    project.set_status("f0", "edited")  # Mark not checked
    assert project.status("f0") == "edited" and project.training_names()[0] == []


def test_a_large_unpainted_map_is_stored_compactly(tmp_path):
    project = make(tmp_path)
    unpainted = np.zeros(SIZE, bool)
    unpainted[:, :10] = True
    project.save_mask("f0", striped(), "edited", unpainted=unpainted)
    assert len(json.dumps(read_stamp(tmp_path / "labels" / "f0_P.png")["unpainted"])) < 200


# ---- revert to the proposal, remove without deleting -------------------------------------------------
def test_revert_to_proposal_restores_the_kept_proposal(tmp_path):
    project = make(tmp_path)
    project.save_mask("f1", striped(), "proposed", model="m", summary={"mean_confidence": 0.8})
    assert not project.has_kept_proposal("f1")
    project.save_mask("f1", striped(1), "edited")
    assert project.has_kept_proposal("f1")
    project.save_mask("f1", striped(2), "corrected")  # later saves keep the first proposal
    project.set_status("f1", "proposed")
    assert project.status("f1") == "proposed" and not project.has_kept_proposal("f1")
    assert (project.load_mask("f1") == striped()).all()
    replaced = list((tmp_path / ".labeltool" / "removed").glob("f1_P.*.png"))
    assert len(replaced) == 1 and (read_mask(replaced[0]) == striped(2)).all()  # the person's mask is kept
    assert project.record("f1").model == "m" and project.record("f1").mean_confidence == 0.8
    assert Project.open(tmp_path).status("f1") == "proposed"
    with pytest.raises(MaskError, match="f2_P.png.*no kept proposal"):
        project.set_status("f2", "proposed")


def test_a_new_proposal_replaces_the_kept_one(tmp_path):
    project = make(tmp_path)
    project.save_mask("f1", striped(), "proposed", model="m")
    project.save_mask("f1", striped(1), "corrected")
    project.set_status("f1", "none")
    project.save_mask("f1", striped(4), "proposed", model="m2")
    assert not project.has_kept_proposal("f1")


def test_removing_a_mask_moves_it_aside(tmp_path):
    project = make(tmp_path)
    project.save_mask("f1", striped(1), "corrected")
    project.set_status("f1", "none")
    assert project.status("f1") == "none" and not (tmp_path / "labels" / "f1_P.png").exists()
    removed = list((tmp_path / ".labeltool" / "removed").glob("f1_P.*.png"))
    assert len(removed) == 1 and (read_mask(removed[0]) == striped(1)).all()
    assert read_provenance(removed[0]).source == "person"


def test_a_guard_runs_under_the_lock_and_can_stop_the_write(tmp_path):
    project = make(tmp_path)
    project.save_mask("f1", striped(), "corrected")
    before = (tmp_path / "labels" / "f1_P.png").read_bytes()
    seen = []

    def guard():
        seen.append(project._lock_depth.n)  # inside the write lock
        raise MaskError(tmp_path / "labels" / "f1_P.png", "changed on disk meanwhile")

    with pytest.raises(MaskError, match="changed on disk"):
        project.save_mask("f1", striped(1), "edited", guard=guard)
    assert seen == [1] and (tmp_path / "labels" / "f1_P.png").read_bytes() == before
    assert project.status("f1") == "corrected"


# ---- labeltool status --set ----------------------------------------------------------------------------
def test_status_command_sets_statuses_and_names_the_file_it_cannot(tmp_path, capsys):
    from labeltool.cli import main

    project = make(tmp_path)
    project.save_mask("f0", striped(), "proposed", model="m")
    project.save_mask("f1", striped(1), "edited")
    assert main(["status", str(tmp_path), "--set", "corrected", "f0", "f1.png"]) == 0
    assert Project.open(tmp_path).statuses() == {"f0": "corrected", "f1": "corrected", "f2": "none",
                                                 "f3": "none"}
    assert main(["status", str(tmp_path), "--set", "edited", "f1"]) == 0
    assert main(["status", str(tmp_path), "--set", "proposed", "f0"]) == 0
    capsys.readouterr()
    assert main(["status", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"none": 2, "proposed": 1, "edited": 1, "corrected": 0, "reviewed": 0, "rejected": 0,
                             "unknown": 0}
    assert main(["status", str(tmp_path), "--only", "edited"]) == 0
    captured = capsys.readouterr()
    assert "f1\tedited" in captured.out and "f0" not in captured.out and "not checked" in captured.err
    assert main(["status", str(tmp_path), "--set", "proposed", "f1", "nope"]) == 2
    err = capsys.readouterr().err
    assert "f1_P.png" in err and "no kept proposal" in err and "nope" in err
    assert main(["status", str(tmp_path), "--set", "none", "f1"]) == 0
    assert Project.open(tmp_path).status("f1") == "none"
    assert main(["status", str(tmp_path), "--set", "unknown", "f0"]) == 2

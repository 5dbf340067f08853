"""labeltool merge: two copies of a dataset become one; nothing a person made is lost, THEIRS never changes."""

import json

import numpy as np
import pytest
from _merge_copies import H, W, expected_table, outcomes, put, tree, two_copies

from model.errors import CodesError
from model.images.imageio import write_image
from model.project.codes import write_codes
from model.project.merge import plan_merge
from model.project.merge_apply import combine, conflict_path, merge, read_conflicts, resolve, resolve_combined
from model.project.project import Project
from model.project.provenance import read_stamp


def test_every_pair_of_statuses_merges_as_the_table_says(tmp_path):
    table = expected_table()
    ours_root, theirs_root = two_copies(tmp_path, list(table))
    before = {name: data for name, data in tree(ours_root).items() if name.startswith("labels")}
    theirs_before = tree(theirs_root)
    plan = merge(Project.open(ours_root), theirs_root)
    got = outcomes(plan)
    assert {case: got.get(case, "-") for case in table} == table
    assert tree(theirs_root) == theirs_before  # THEIRS is never changed, byte for byte
    removed = {p.read_bytes() for p in (ours_root / ".labeltool" / "removed").glob("*.png")}
    for (o, t), result in table.items():
        label = f"labels/{o}__{t}_P.png"
        mine = ours_root / label
        if result == "take":
            assert mine.read_bytes() == (theirs_root / label).read_bytes()  # stamp and all
            if o != "none":
                assert before[label] in removed  # ours was moved aside, not lost
        elif result in ("keep", "conflict"):
            assert mine.read_bytes() == before[label]
    conflicts = read_conflicts(ours_root / ".labeltool")
    assert set(conflicts) == {f"{o}__{t}" for (o, t), r in table.items() if r == "conflict"}
    statuses = Project.open(ours_root).statuses()
    assert statuses["none__corrected"] == "corrected" and statuses["proposed__edited"] == "edited"


def test_the_same_pixels_take_only_a_higher_status(tmp_path):
    cases = [("proposed", "corrected"), ("corrected", "proposed"), ("corrected", "reviewed"),
             ("reviewed", "corrected"), ("edited", "edited"), ("edited", "corrected")]
    ours_root, theirs_root = two_copies(tmp_path, cases, same_pixels=True)
    got = outcomes(merge(Project.open(ours_root), theirs_root))
    assert got == {("proposed", "corrected"): "take", ("corrected", "proposed"): "same",
                   ("corrected", "reviewed"): "take", ("reviewed", "corrected"): "same",
                   ("edited", "edited"): "same", ("edited", "corrected"): "take"}
    stamp_now = read_stamp(ours_root / "labels" / "corrected__reviewed_P.png")
    assert stamp_now["review"]["verdict"] == "approved"  # the reviewed stamp came in


def test_a_conflict_keeps_both_masks_and_says_who_made_them(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("corrected", "corrected")])
    ours_bytes = (ours_root / "labels" / "corrected__corrected_P.png").read_bytes()
    theirs_bytes = (theirs_root / "labels" / "corrected__corrected_P.png").read_bytes()
    project = Project.open(ours_root)
    merge(project, theirs_root)
    assert (ours_root / "labels" / "corrected__corrected_P.png").read_bytes() == ours_bytes
    assert conflict_path(project.state_dir, "corrected__corrected").read_bytes() == theirs_bytes
    listed = json.loads((ours_root / ".labeltool" / "conflicts.json").read_text())
    assert listed[0]["name"] == "corrected__corrected"
    assert listed[0]["ours"]["status"] == listed[0]["theirs"]["status"] == "corrected"
    assert listed[0]["differing_pixels"] == H * W - 1  # all but the shared Void pixel


@pytest.mark.parametrize("take", ["ours", "theirs"])
def test_resolving_a_conflict_moves_the_loser_to_removed(tmp_path, take):
    ours_root, theirs_root = two_copies(tmp_path, [("edited", "edited")])
    label = ours_root / "labels" / "edited__edited_P.png"
    ours_bytes, theirs_bytes = label.read_bytes(), (theirs_root / "labels" / label.name).read_bytes()
    project = Project.open(ours_root)
    merge(project, theirs_root)
    assert resolve(project, "edited__edited", take) == "edited"
    winner, loser = (ours_bytes, theirs_bytes) if take == "ours" else (theirs_bytes, ours_bytes)
    assert label.read_bytes() == winner
    assert loser in {p.read_bytes() for p in (ours_root / ".labeltool" / "removed").glob("*.png")}
    assert read_conflicts(project.state_dir) == {}
    assert not conflict_path(project.state_dir, "edited__edited").exists()


def test_a_combined_resolution_takes_theirs_where_the_chosen_class_differs(tmp_path):
    ours = np.array([[0, 0, 1, 1], [2, 2, 3, 3]], np.uint8)
    theirs = np.array([[0, 2, 1, 0], [2, 1, 3, 2]], np.uint8)
    assert combine(ours, theirs, {2}).tolist() == [[0, 2, 1, 1], [2, 1, 3, 2]]  # theirs wherever either says 2
    assert combine(ours, theirs, set()).tolist() == ours.tolist()
    ours_root, theirs_root = two_copies(tmp_path, [("corrected", "corrected")])
    project = Project.open(ours_root)
    merge(project, theirs_root)
    mask = combine(project.load_mask("corrected__corrected"),
                   np.full((H, W), 2, np.uint8), {2})
    assert resolve_combined(project, "corrected__corrected", mask, "corrected") == "corrected"
    assert (project.load_mask("corrected__corrected") == mask).all()
    assert len(list((ours_root / ".labeltool" / "removed").glob("*.png"))) == 2  # both earlier masks kept


def test_new_images_come_in_with_their_masks(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("corrected", "corrected")])
    write_image(theirs_root / "images" / "extra.png", np.zeros((H, W, 3), np.uint8))
    theirs = Project.open(theirs_root)
    put(theirs, "extra", "corrected", 2)
    theirs.db.close()
    project = Project.open(ours_root)
    plan = merge(project, theirs_root)
    assert [i.name for i in plan.by_outcome("new")] == ["extra"]
    assert (ours_root / "images" / "extra.png").read_bytes() == (theirs_root / "images" / "extra.png").read_bytes()
    assert Project.open(ours_root).status("extra") == "corrected"
    assert project.record("extra").corrected_by == read_stamp(theirs_root / "labels" / "extra_P.png")["by"]


def test_different_codes_are_refused_naming_both_files(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("none", "corrected")])
    write_codes(theirs_root / "codes.txt", ["Sky", "Car", "Road", "Void"])
    before = tree(ours_root)
    with pytest.raises(CodesError) as error:
        merge(Project.open(ours_root), theirs_root)
    assert str(theirs_root / "codes.txt") in str(error.value) and str(ours_root / "codes.txt") in str(error.value)
    assert (ours_root / "labels" / "none__corrected_P.png").exists() is False
    assert {k for k in tree(ours_root) if k.startswith("labels")} == {k for k in before if k.startswith("labels")}


def test_a_copy_made_before_classes_were_added_here_merges_and_other_lists_say_what_to_do(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("none", "corrected")])
    write_codes(ours_root / "codes.txt", ["Sky", "Road", "Car", "Void", "Bus"])  # ours added Bus at the end
    theirs_mask = (theirs_root / "labels" / "none__corrected_P.png").read_bytes()
    merge(Project.open(ours_root), theirs_root)
    assert (ours_root / "labels" / "none__corrected_P.png").read_bytes() == theirs_mask  # every number means the same
    ours_root, theirs_root = two_copies(tmp_path / "2", [("none", "corrected")])
    write_codes(theirs_root / "codes.txt", ["Sky", "Road", "Car", "Void", "Bus"])
    with pytest.raises(CodesError, match="add them at the end here first"):
        merge(Project.open(ours_root), theirs_root)
    write_codes(theirs_root / "codes.txt", ["Road", "Sky", "Car", "Void"])
    with pytest.raises(CodesError, match="reorder one copy first"):
        merge(Project.open(ours_root), theirs_root)
    assert not (ours_root / "labels" / "none__corrected_P.png").exists()


def test_a_resolved_conflict_is_not_asked_again_until_either_mask_changes(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("corrected", "corrected")])
    name = "corrected__corrected"
    project = Project.open(ours_root)
    assert outcomes(merge(project, theirs_root))[("corrected", "corrected")] == "conflict"
    resolve(project, name, "ours")
    again = merge(project, theirs_root)  # the laptop is merged again next week, unchanged
    assert outcomes(again)[("corrected", "corrected")] == "keep" and not read_conflicts(ours_root / ".labeltool")
    assert outcomes(plan_merge(theirs_root, ours_root))[("corrected", "corrected")] == "keep"  # the dry run agrees
    theirs = Project.open(theirs_root)
    put(theirs, name, "corrected", 0)  # their annotator changed the mask since
    theirs.db.close()
    assert outcomes(merge(project, theirs_root))[("corrected", "corrected")] == "conflict"


def test_a_dry_run_writes_nothing_in_either_copy(tmp_path):
    table = expected_table()
    ours_root, theirs_root = two_copies(tmp_path, list(table))
    ours_before, theirs_before = tree(ours_root), tree(theirs_root)
    plan = plan_merge(theirs_root, ours_root)
    assert outcomes(plan)[("corrected", "reviewed")] == "take"
    assert plan.counts()["conflict"] == 7
    assert tree(ours_root) == ours_before and tree(theirs_root) == theirs_before


def test_an_image_that_differs_between_copies_is_skipped(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("none", "corrected")])
    write_image(theirs_root / "images" / "none__corrected.png", np.zeros((H + 4, W, 3), np.uint8))
    plan = merge(Project.open(ours_root), theirs_root)
    assert [i.outcome for i in plan.items] == ["skip"]
    assert not (ours_root / "labels" / "none__corrected_P.png").exists()


def test_a_new_image_theirs_tests_on_is_listed_in_our_test_list(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("corrected", "corrected")])
    write_image(theirs_root / "images" / "held.png", np.zeros((H, W, 3), np.uint8))
    (theirs_root / "test.txt").write_text("held.png\n")
    (ours_root / "test.txt").write_text("corrected__corrected.png")
    project = Project.open(ours_root)
    plan = merge(project, theirs_root)
    assert (ours_root / "test.txt").read_text() == "corrected__corrected.png\nheld.png\n"
    assert project.test_names() == {"corrected__corrected", "held"}
    assert any("only one copy" in w for w in plan.warnings)  # corrected__corrected is tested on here only


def test_an_image_open_in_an_editor_is_not_replaced_under_it(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("proposed", "corrected")])
    editor = Project.open(ours_root)
    editor.hold("proposed__corrected")  # the app has it open
    before = (ours_root / "labels" / "proposed__corrected_P.png").read_bytes()
    plan = merge(Project.open(ours_root), theirs_root)
    assert [i.outcome for i in plan.items] == ["conflict"] and "open in an editor" in plan.items[0].reason
    assert (ours_root / "labels" / "proposed__corrected_P.png").read_bytes() == before
    assert conflict_path(editor.state_dir, "proposed__corrected").read_bytes() == \
        (theirs_root / "labels" / "proposed__corrected_P.png").read_bytes()


def test_a_leftover_mask_of_ours_is_moved_aside_for_a_new_image(tmp_path):
    ours_root, theirs_root = two_copies(tmp_path, [("none", "none")])
    write_image(theirs_root / "images" / "extra.png", np.zeros((H, W, 3), np.uint8))
    theirs = Project.open(theirs_root)
    put(theirs, "extra", "edited", 2)
    theirs.db.close()
    leftover = b"\x89PNG not really"
    (ours_root / "labels").mkdir(exist_ok=True)
    (ours_root / "labels" / "extra_P.png").write_bytes(leftover)
    merge(Project.open(ours_root), theirs_root)
    assert Project.open(ours_root).status("extra") == "edited"
    assert leftover in {p.read_bytes() for p in (ours_root / ".labeltool" / "removed").glob("*.png")}

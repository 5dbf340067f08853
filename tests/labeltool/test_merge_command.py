"""`labeltool merge`: the summary a person reads, the dry run, and resolving a conflict from the terminal."""

import json

from _merge_copies import H, W, tree, two_copies

from labeltool.cli import main


def test_merge_prints_the_summary_and_how_to_resolve(tmp_path, capsys):
    ours, theirs = two_copies(tmp_path, [("edited", "edited"), ("proposed", "corrected"), ("none", "none")])
    assert main(["merge", str(theirs), str(ours), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would merge" in out and "taken from theirs" in out and "proposed__corrected" in out
    assert main(["merge", str(theirs), str(ours)]) == 0
    out = capsys.readouterr().out
    assert "1 conflicts" in out and "edited__edited" in out and "--resolve" in out
    assert f"{H * W - 1} pixels differ" in out
    assert main(["merge", "--resolve", str(ours), "edited__edited", "--take", "theirs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "edited"
    assert (ours / "labels" / "edited__edited_P.png").read_bytes() == \
        (theirs / "labels" / "edited__edited_P.png").read_bytes()


def test_merge_json_and_the_dry_run_changes_nothing(tmp_path, capsys):
    ours, theirs = two_copies(tmp_path, [("corrected", "reviewed")])
    before = tree(ours)
    assert main(["merge", str(theirs), str(ours), "--dry-run", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["counts"]["take"] == 1 and result["dry_run"] is True
    assert tree(ours) == before


def test_resolve_without_a_conflict_is_an_error_naming_the_file(tmp_path, capsys):
    ours, _theirs = two_copies(tmp_path, [("corrected", "corrected")])
    assert main(["merge", "--resolve", str(ours), "corrected__corrected", "--take", "ours"]) == 2
    assert "corrected__corrected_P.png" in capsys.readouterr().err

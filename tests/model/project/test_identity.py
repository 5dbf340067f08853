"""Who is who (issue 19, item 6): the annotator's name comes from the environment, the preference file or the
login name, and every person's stamp and the record carry it."""

import numpy as np
import pytest

from labeltool.cli import main
from model.images.imageio import write_image
from model.project import identity
from model.project.codes import write_codes
from model.project.project import Project, current_user
from model.project.provenance import read_stamp


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A private XDG config folder and no LABELTOOL_ANNOTATOR from the caller's shell."""
    folder = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    monkeypatch.delenv(identity.ENV, raising=False)
    return folder / "labeltool" / "annotator"


def _project(root):
    write_codes(root / "codes.txt", ["Sky", "Road", "Void"])
    write_image(root / "images" / "a.png", np.zeros((8, 10, 3), np.uint8))
    return Project.open(root)


def test_without_preference_the_login_name_is_used(config, monkeypatch):
    monkeypatch.setattr(identity.getpass, "getuser", lambda: "login7")
    assert identity.annotator() == "login7" and identity.source() == "login"
    monkeypatch.setattr(identity.getpass, "getuser", lambda: (_ for _ in ()).throw(KeyError("no passwd")))
    assert identity.annotator() == "unknown"


def test_preference_file_is_read_stripped_and_the_environment_beats_it(config, monkeypatch):
    identity.set_annotator("  Ada Lovelace \n")
    assert config.read_text(encoding="utf-8") == "Ada Lovelace\n"
    assert identity.annotator() == "Ada Lovelace" and identity.source() == "preference"
    assert current_user() == "Ada Lovelace"  # the old name asks the same rule
    monkeypatch.setenv(identity.ENV, "Grace")
    assert identity.annotator() == "Grace" and identity.source() == "environment"


def test_home_config_is_the_default_without_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert identity.preference_path() == tmp_path / ".config" / "labeltool" / "annotator"


@pytest.mark.parametrize("bad", ["", "   ", "two\nlines", "tab\there", "bell\x07", "x" * 201])
def test_a_bad_name_is_refused_and_the_file_is_unchanged(config, bad):
    identity.set_annotator("Ada")
    before = config.read_bytes()
    with pytest.raises(identity.AnnotatorNameError, match="not changed"):
        identity.set_annotator(bad)
    assert config.read_bytes() == before
    assert identity.annotator() == "Ada"


def test_a_hand_edited_unusable_file_falls_back_to_the_login_name(config, monkeypatch):
    monkeypatch.setattr(identity.getpass, "getuser", lambda: "login7")
    config.parent.mkdir(parents=True)
    config.write_text("\n", encoding="utf-8")
    assert identity.annotator() == "login7"
    config.write_text("Ada\x00x\n", encoding="utf-8")
    assert identity.annotator() == "login7"


def test_every_person_stamp_and_the_record_carry_the_preference_name(config, tmp_path):
    identity.set_annotator("Ada Lovelace")
    project = _project(tmp_path / "data")
    mask = np.zeros((8, 10), np.uint8)
    project.save_mask("a", mask, "edited")
    assert read_stamp(project.label_path("a"))["by"] == "Ada Lovelace"
    identity.set_annotator("Grace Hopper")  # a change holds for the next save, no restart
    project.save_mask("a", mask, "corrected")
    assert read_stamp(project.label_path("a"))["by"] == "Grace Hopper"
    assert Project.open(tmp_path / "data").record("a").corrected_by == "Grace Hopper"


def test_whoami_command_prints_and_sets_the_name(config, capsys):
    assert main(["whoami", "--set", "Ada"]) == 0
    assert "Ada" in capsys.readouterr().out and config.read_text(encoding="utf-8") == "Ada\n"
    assert main(["whoami", "--set", "bad\x1bname"]) == 2
    assert "control character" in capsys.readouterr().err
    assert config.read_text(encoding="utf-8") == "Ada\n"
    assert main(["whoami"]) == 0
    assert capsys.readouterr().out.startswith("Ada (from ")

"""The rules of Edit > Change classes… without Qt: the dialog's state becomes the engine's plan_* Change
(one rule in one place), and the window refuses while it cannot."""

import pytest

from labeltool.workspace.class_change import change_refusal, plan_change, split_names
from model.errors import CodesError

CODES = ["Sky", "Road", "Car", "Void"]


def test_the_dialogs_state_becomes_the_engines_change():
    assert plan_change(CODES, "rename", ["Car"], " Vehicle ").new == ["Sky", "Road", "Vehicle", "Void"]
    assert plan_change(CODES, "add", [], "Sign", colour=(1, 2, 3)).colours == {4: (1, 2, 3)}
    merged = plan_change(CODES, "merge", ["Road", "Car"], "Ground")
    assert merged.new == ["Sky", "Ground", "Void"] and merged.mapping == [0, 1, 1, 2]
    assert plan_change(CODES, "reorder", [], order=["Void", "Sky", "Road", "Car"]).mapping == [1, 2, 3, 0]
    split = plan_change(CODES, "split", ["Road"], "Asphalt, Gravel road")
    assert split.new == ["Sky", "Asphalt", "Gravel road", "Car", "Void"] and split.split == [1]
    assert split_names(" a, b c ,, ") == ["a", "b c"]


@pytest.mark.parametrize(("op", "selected", "text"), [
    ("rename", [], "X"), ("rename", ["Sky", "Road"], "X"), ("rename", ["Car"], "Road"),
    ("merge", [], "X"), ("merge", ["Car"], "Car"), ("split", ["Road"], "Asphalt"), ("add", [], " "),
])
def test_what_cannot_be_is_refused_with_a_reason(op, selected, text):
    with pytest.raises(CodesError):
        plan_change(CODES, op, selected, text)


def test_the_window_refuses_while_it_cannot():
    assert change_refusal(True, False, False, False) is None
    assert "read-only" in change_refusal(True, True, False, False)
    assert "model job" in change_refusal(True, False, True, False)
    assert change_refusal(False, False, False, False)

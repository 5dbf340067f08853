"""The Retrain options (no Qt): saved with the project and turned into `labeltool train` arguments.

Architecture, encoder and time budget are the project setting ``retrain`` (passed to `labeltool train`);
the working scale is the project's ``working_scale`` setting, which training and proposing read themselves
(model.training.defaults.project_working_scale), and which is checked here by that same function, so the dialog
refuses exactly what training would.
"""

from __future__ import annotations

from types import SimpleNamespace

RETRAIN_SETTING = "retrain"  # project setting: the Retrain options dialog's choices
WORKING_SCALE_SETTING = "working_scale"  # model.training.defaults.project_working_scale reads it


def retrain_options(project) -> dict:
    """The saved Retrain options ({} = the one-click defaults)."""
    getter = getattr(project, "get_setting", None)
    value = getter(RETRAIN_SETTING, {}) if getter is not None else {}
    return dict(value) if isinstance(value, dict) else {}


def options_to_args(options: dict) -> list[str]:
    """`labeltool train` options for the saved Retrain options (unset ones keep the defaults; the working
    scale is the project's own setting, which training reads itself)."""
    args: list[str] = []
    for key, flag in (("arch", "--arch"), ("encoder", "--encoder"), ("time_budget", "--time-budget")):
        value = options.get(key)
        if value not in (None, ""):
            args += [flag, str(value)]
    return args


def saved_working_scale(project) -> float | None:
    """The project's working scale setting as the dialog shows it (None: unset or not a number)."""
    get = getattr(project, "get_setting", None)
    value = get(WORKING_SCALE_SETTING) if get is not None else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check_working_scale(value: float | None) -> float | None:
    """The scale as training will read it; ValueError for one training would refuse (the same check)."""
    from model.training.defaults import project_working_scale

    settings = {WORKING_SCALE_SETTING: value}
    stand_in = SimpleNamespace(root="Retrain options", get_setting=lambda key, default=None: settings.get(key, default))
    return project_working_scale(stand_in)


def save_options(project, options: dict) -> None:
    """Save the dialog's choices with the project (``scale`` goes to the working scale setting)."""
    scale = check_working_scale(options.get("scale"))
    project.set_setting(RETRAIN_SETTING, {k: v for k, v in options.items() if k != "scale"})
    project.set_setting(WORKING_SCALE_SETTING, scale)

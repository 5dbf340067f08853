"""Saved models: the files each model has, the registry of them, the active pointer, pruning.
A thin face (model.faces): ``from model.registry import X``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from model.faces import lazy_face

_HOME = {
    "REGISTRY_FILE": "registry",
    "REGISTRY_LOCK": "registry",
    "active_model": "registry",
    "best_model": "registry",
    "contenders": "registry",
    "delete": "registry",
    "load_checked_model": "registry",
    "model_rows": "registry",
    "pin": "registry",
    "promote": "registry",
    "protected_models": "registry",
    "prune_models": "registry",
    "read_registry": "registry",
    "record_trained": "registry",
    "registry_path": "registry",
    "resolve_model": "registry",
    "resolve_model_path": "registry",
    "roll_back": "registry",
    "rollback_target": "registry",
    "update_registry": "registry",
    "validation_miou": "registry",
}

if TYPE_CHECKING:
    from .registry import (
        REGISTRY_FILE,
        REGISTRY_LOCK,
        active_model,
        best_model,
        contenders,
        delete,
        load_checked_model,
        model_rows,
        pin,
        promote,
        protected_models,
        prune_models,
        read_registry,
        record_trained,
        registry_path,
        resolve_model,
        resolve_model_path,
        roll_back,
        rollback_target,
        update_registry,
        validation_miou,
    )


__getattr__ = lazy_face(__name__, _HOME)


__all__ = ["REGISTRY_FILE", "REGISTRY_LOCK", "active_model", "best_model", "contenders", "delete",
           "load_checked_model", "model_rows", "pin", "promote", "protected_models", "prune_models", "read_registry",
           "record_trained", "registry_path", "resolve_model", "resolve_model_path", "roll_back", "rollback_target",
           "update_registry", "validation_miou"]

"""The end of a training run: score the new model and the active one on the same held-out images, save
it, record it (the gate), export it for proposals and say what happened. TrainingRun inherits it."""

from __future__ import annotations

import time
from pathlib import Path

from model.evaluation.evaluate import evaluate_project
from model.evaluation.sources import record_proposal_source
from model.inference.predict import Predictor
from model.inference.runtime import after_training_export
from model.registry.gate import compare, learned_from, verdict
from model.registry.modelfile import LoadedModel, make_card, save_model
from model.registry.registry import contenders, load_checked_model, record_trained

from . import trainutil as tu
from .checkpoint import clear_checkpoint
from .propagated import propagated_names


class RunFinish:
    """Scoring, the promotion gate and saving, for :class:`model.training.train.TrainingRun`."""

    def _score(self, predictor, names: list[str]) -> dict:
        """Metrics of a predictor on these validation images (model.evaluation.evaluate, not saved)."""

        result = evaluate_project(self.project, predictor=predictor, names=names, save=False)
        keys = ("pixel_accuracy", "error_rate_non_void", "miou", "per_class_iou", "per_class", "num_pixels", "classes",
                "ignore_index", "confusion")
        return {k: result[k] for k in keys}

    def _gate(self, card: dict) -> tuple[dict, dict, Path | None]:
        """The promotion gate (model.registry.gate): the new, the active and the best model scored on the same
        validation images none of them trained on; (validation, gate, active) for the card."""

        names = list(self.val_names) if self.cfg.validate else []
        new_predictor = Predictor(LoadedModel(self.net, card, Path("new")), device=self.device, scale=self.cfg.scale)

        def load(path: Path):
            predictor = Predictor(load_checked_model(self.project, path, str(self.device)), device=self.device)
            return predictor.card, lambda images: self._score(predictor, images)

        others, active = contenders(self.project.models_dir, self.codes, load)
        if names:
            self.emit({"event": "notice", "message": f"scoring the new model on up to {len(names)} validation images"})
        validation, gate = compare(names, set(card["seen_images"]), lambda images: self._score(new_predictor, images),
                                   others)
        return dict(validation, source=self.val_source), gate, active

    def _finish(self, history, metrics, used, epoch) -> Path:
        tu.barrier(self.dist)
        path = None
        if self.dist.main:
            cfg = self.cfg
            last = history[-1] if history else {}
            card = make_card(
                arch=cfg.arch, encoder=cfg.encoder, classes=self.codes, void_index=self.void,
                normalization=self.norm, input_size=cfg.size, input_scale=cfg.scale, training_images=self.train_names,
                metrics={"train_loss": last.get("train_loss"), **(metrics or {})},
                extra={"training": {"epochs": len(history) and history[-1]["epoch"], "seconds": round(used(), 1),
                                    "device": str(self.device), "world_size": self.dist.world,
                                    "fine_tuned_from": self.init_path.name if self.init_path else None,
                                    "encoder_pretrained": self.pretrained, "validation_images": self.val_names,
                                    "config": cfg.to_dict(), "history": history,
                                    "pseudo_labels": self.selftrain.summary,
                                    "propagated": getattr(self, "propagated", None)},
                       "seen_images": sorted(learned_from(  # pseudo-labelled and propagated images were trained on
                           [*self.train_names, *(self.selftrain.names if self.selftrain.done else []),
                            *propagated_names(getattr(self, "propagated", None))],
                           self.init_path, self.project.models_dir))})
            validation, gate, active = self._gate(card)
            final = validation["metrics"]
            if final:
                card["metrics"].update({k: final[k] for k in ("pixel_accuracy", "error_rate_non_void", "miou")})
            card.update(validation=validation, gate=gate)
            path = save_model(self.project.models_dir, self.net, card)
            record_trained(self.project.models_dir, path, gate["promoted"], active, self.holdout)
            clear_checkpoint(self.project.models_dir)
            # network, warp or both, per frame gap, on held-out frames next to another corrected one (issue 18)
            record_proposal_source(self.project, path, self.val_names if self.cfg.validate else [],
                                   device=str(self.device), on_event=self.emit)
            if gate["promoted"]:  # it proposes from now on: ONNX beside it, and the faster runtime measured here
                after_training_export(path, on_event=self.emit, int8=False)
            self.emit({"event": "notice", "message": verdict(path.name, validation, gate, active and active.name)})
            self.emit({"event": "done", "model": str(path), "seconds": round(time.monotonic() - self.t0, 2),
                       "epochs": len(history), "metrics": card["metrics"], "promoted": gate["promoted"],
                       "active": path.name if gate["promoted"] or active is None else active.name,
                       "validation_images": len(validation["images"]), "validation_source": validation["source"]})
        tu.barrier(self.dist)
        return path if path is not None else self.project.models_dir

"""labeltool train DATASET: fine-tune the segmentation model on the dataset's corrected masks.

The same command runs from a terminal (progress bars on stderr), from the app (``--json``: one JSON
event per line on stdout, see docs/progress-protocol.md) and under ``torchrun`` (DDP).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def add_training_options(parser: argparse.ArgumentParser) -> None:
    from model.nets.config import ARCHS

    parser.add_argument("dataset", help="dataset folder (CamVid/fastai layout)")
    parser.add_argument("--json", action="store_true", help="print progress as JSON lines on stdout (for the app)")
    parser.add_argument("--arch", choices=ARCHS, help="network architecture (default Unet, or the latest model's)")
    parser.add_argument("--encoder", help="encoder: resnet18, resnet34, resnet50, mobilenet_v2, ...")
    parser.add_argument("--encoder-weights", default="imagenet", metavar="imagenet|none|PATH",
                        help="encoder initialisation (imagenet falls back to random weights when offline)")
    parser.add_argument("--size", type=int, nargs="+", metavar="PX",
                        help="training crop: HEIGHT WIDTH (or one number for both), multiples of 32")
    parser.add_argument("--scale", type=float,
                        help="resize images by this factor for the network (default 0.5 on CPU, 1 on GPU)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="maximum learning rate of the one-cycle schedule")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)


def register(subparsers) -> None:
    from model.nets.config import CLASS_WEIGHTS, LOSSES

    parser = subparsers.add_parser("train", help="retrain the model on the corrected masks",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_options(parser)
    parser.add_argument("--epochs", type=int, help="number of epochs (default: as many as fit the time budget)")
    parser.add_argument("--time-budget", type=float, metavar="S",
                        help="seconds for the whole run (default: 255 on CPU, 600 on GPU, none with --epochs)")
    parser.add_argument("--freeze-epochs", type=int, help="epochs with the pretrained encoder frozen first")
    parser.add_argument("--loss", choices=LOSSES, default="ce+dice")
    parser.add_argument("--class-weights", choices=CLASS_WEIGHTS, default="none")
    parser.add_argument("--no-augment", dest="augment", action="store_false", help="no data augmentation")
    parser.add_argument("--init", default="auto", metavar="auto|latest|fresh|MODEL",
                        help="start from the latest model when its classes match (auto), or a fresh network")
    parser.add_argument("--resume", dest="resume", action="store_true", default=True,
                        help="continue an interrupted run from its last checkpoint (default)")
    parser.add_argument("--no-resume", dest="resume", action="store_false")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--no-amp", dest="amp", action="store_false", default=None, help="no mixed precision on CUDA")
    parser.add_argument("--workers", type=int, dest="num_workers", help="data loader worker processes")
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from model.nets.config import TrainConfig

    size = args.size
    if size is not None and len(size) == 1:
        size = [size[0], size[0]]
    fields = dict(arch=args.arch, encoder=args.encoder, encoder_weights=args.encoder_weights, size=size, scale=args.scale,
                  batch_size=args.batch_size, lr=args.lr, threads=args.threads, seed=args.seed)
    for name in ("epochs", "time_budget", "freeze_epochs", "loss", "class_weights", "augment", "init", "resume",
                 "compile", "amp", "num_workers"):
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    return TrainConfig.from_dict(fields, source="labeltool train")


def run(args: argparse.Namespace) -> int:
    from model.errors import LabeltoolError
    from model.progress import make_sink
    from model.training.train import TrainingCancelled, train_dataset

    sink = make_sink(args.json)
    stop = _stop_on_sigterm()
    try:
        cfg = config_from_args(args)
        train_dataset(args.dataset, cfg, on_event=sink, cancel=stop.is_set)
    except TrainingCancelled as exc:
        sink({"event": "error", "message": str(exc)})
        return 130
    except LabeltoolError as exc:
        if args.json:  # the app reads the error from the stream; a terminal gets cli.py's own line
            sink({"event": "error", "message": str(exc)})
            return 2
        raise
    except KeyboardInterrupt:
        sink({"event": "error", "message": "interrupted; run again to continue from the last checkpoint"})
        return 130
    except Exception as exc:  # an unexpected failure still ends the stream with one error event
        if args.json:
            sink({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
            import traceback

            traceback.print_exc(file=sys.stderr)
            return 1
        raise
    return 0


def _stop_on_sigterm() -> threading.Event:
    """SIGTERM (the app's Cancel, or torchrun stopping its workers) ends the run at the next step, keeping
    the last checkpoint and printing an error event, instead of dying mid-write."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    return stop


def main(argv: list[str] | None = None) -> int:
    """``python -m labeltool.commands.train DATASET ...``: the same command without the rest of the CLI
    (what torchrun launches: ``torchrun --nproc_per_node N -m labeltool.commands.train DATASET``)."""
    from model.errors import LabeltoolError

    parser = argparse.ArgumentParser(prog="labeltool train")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args)
    except LabeltoolError as exc:
        print(f"labeltool: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""labeltool predict DATASET: propose masks for every image without a corrected mask.

Corrected masks are never overwritten. Each proposal is saved as labels/NAME_P.png with status
"proposed" (the model named inside the PNG), its per-pixel confidence under .labeltool/confidence/ and
its confidence figures in the project's record (the app offers the least certain images first). With --json, progress
is one JSON event per line on stdout ("predicted" per image, "notice", then "done").

Under torchrun (`torchrun --nproc_per_node N -m labeltool predict DATASET`) each process proposes a
disjoint slice of the images (rank r takes every N-th image from r), on its own GPU when there are GPUs;
all of them write the one record, each write under the dataset's lock.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="propose masks for images without a corrected mask",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="dataset folder (CamVid/fastai layout)")
    parser.add_argument("--model", metavar="PATH", help="model file (default: the newest in DATASET/models)")
    parser.add_argument("--tta", action="store_true", help="average with the horizontally flipped prediction")
    parser.add_argument("--json", action="store_true", help="print progress as JSON lines on stdout (for the app)")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass (default 4)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="propose only these images")
    parser.add_argument("--neighbours", choices=("warp", "combine", "off"), default="warp",
                        help="a video frame next to a corrected one: its mask moved by optical flow (warp, the "
                             "default: measured best), combined with the network by confidence, or off")
    parser.add_argument("--only-from", metavar="FILE", help="propose only the images named in FILE, one per line")
    parser.set_defaults(func=run)


def shard() -> tuple[int, int]:
    """(rank, world size) when started by torchrun (its RANK / WORLD_SIZE variables), else (0, 1)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0, 1
    return (rank, world) if world > 1 and 0 <= rank < world else (0, 1)


def run(args: argparse.Namespace) -> int:
    from model.progress import format_event
    from model.project import Project
    from model.propose import propose_dataset, resolve_model_path

    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(max(1, args.threads))

    def emit(event: dict) -> None:
        if args.json:
            sys.stdout.write(format_event(event) + "\n")
            sys.stdout.flush()

    project = Project.open(args.dataset)
    model_path = resolve_model_path(project, args.model)
    names = args.only if getattr(args, "only", None) else project.names()
    if getattr(args, "only_from", None):
        from pathlib import Path

        names = [line.strip() for line in Path(args.only_from).read_text(encoding="utf-8").splitlines() if line.strip()]
    rank, world = shard()
    if world > 1:  # under torchrun: each process a disjoint slice, all writing the one record (under its lock)
        names = names[rank::world]
        if getattr(args, "device", None) is None:
            import torch

            if torch.cuda.is_available():
                args.device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank)) % torch.cuda.device_count()}"
    known = set(project.names())
    skipped = sum(1 for n in names if n in known and project.status(n) == "corrected")
    failed: list[str] = []

    def progress(done: int, total: int, name: str) -> None:
        emit({"event": "predicted", "name": name, "done": done, "total": total})
        if not args.json:
            print(f"\r[{done}/{total}] {name}", end="", file=sys.stderr, flush=True)

    def on_error(name: str, exc: Exception) -> None:
        failed.append(name)
        emit({"event": "notice", "message": f"skipped {name}: {exc}"})
        if not args.json:
            print(f"\nskipped {name}: {exc}", file=sys.stderr)

    left_alone: list[str] = []

    def on_skip(name: str) -> None:  # corrected meanwhile, or open in an editor
        left_alone.append(name)
        emit({"event": "skipped", "name": name, "reason": "corrected or open in an editor"})

    emit({"event": "start", "command": "predict", "model": str(model_path), "images": len(names) - skipped,
          **({"rank": rank, "world": world} if world > 1 else {})})
    written = propose_dataset(project, model_path, names=names, on_progress=progress, on_error=on_error, on_skip=on_skip,
                              neighbours=getattr(args, "neighbours", "warp"),
                              batch_size=args.batch_size, tta_flip=args.tta, device=getattr(args, "device", None))
    emit({"event": "done", "command": "predict", "model": str(model_path), "written": written,
          "count": len(written), "skipped_corrected": skipped, "left_alone": left_alone, "failed": failed})
    if not args.json:
        print(file=sys.stderr)
        print(f"proposed {len(written)} masks with {model_path.name}; {skipped} corrected masks left untouched"
              + (f"; {len(left_alone)} left alone (corrected meanwhile or open in an editor)" if left_alone else "")
              + (f"; {len(failed)} unreadable images skipped" if failed else ""))
    return 1 if failed and not written else 0

"""labeltool predict DATASET: propose masks for every image without a corrected mask.

Corrected masks are never overwritten. Each proposal is saved as labels/NAME_P.png with status
"proposed" (the model named inside the PNG), its per-pixel confidence under .labeltool/confidence/ and
its confidence figures in the project's record (the app offers the least certain images first). With --json, progress
is one JSON event per line on stdout ("predicted" per image, "notice", then "done").

Under torchrun (`torchrun --nproc_per_node N -m labeltool predict DATASET`) each process proposes a
disjoint slice of the images (rank r takes every N-th image from r), on its own GPU when there are GPUs;
all of them write the one record, each write under the dataset's lock.

With --serve (and --json) it stays running and proposes ahead of an annotator (the app starts it when
a project with a model is open): it loads the proposing model once (again when a retrain replaces it),
runs at a lower CPU priority (nice +--nice), and reads one JSON message per line on stdin:

  {"plan": ["NAME", ...]}   propose these images, in this order, where needed (no mask, or a proposal
                            of another model); replaces the previous plan (the image being proposed
                            is finished)
  {"quit": true}            stop (closing stdin does the same)

and prints one event per line: "start", then per image {"event": "proposed", "name": ...} once its mask,
confidence and uncertainty summary are written (as a batch run writes them), {"event": "skipped", ...}
for an image corrected meanwhile or open in an editor, {"event": "notice", "name": ..., "message": ...}
naming the file that failed, and "done" at the end. A corrected mask is never overwritten.
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
    parser.add_argument("--neighbours", choices=("auto", "warp", "combine", "off"), default="auto",
                        help="a video frame next to a corrected one: proposed by what won at its frame gap when the "
                             "model was measured after its retrain (auto, the default; the warp for a model without "
                             "that record), its mask moved by optical flow (warp), combined with the network by "
                             "confidence (combine), or the network alone (off)")
    parser.add_argument("--only-from", metavar="FILE", help="propose only the images named in FILE, one per line")
    parser.add_argument("--serve", action="store_true",
                        help="stay running and propose the images named in JSON plans read on stdin, one event per "
                             "image written (the app's proposal child; see above)")
    parser.add_argument("--nice", type=int, default=10, help="with --serve: lower the CPU priority by this much "
                                                             "(default 10)")
    parser.set_defaults(func=run)


def shard() -> tuple[int, int]:
    """(rank, world size) when started by torchrun (its RANK / WORLD_SIZE variables), else (0, 1)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0, 1
    return (rank, world) if world > 1 and 0 <= rank < world else (0, 1)


def require_writable(project) -> None:
    """DatasetError naming the folder unless predict can write everything it writes: the record and the
    lock (``.labeltool/``), the confidence maps and the masks (``labels/``). Checked before the model is
    loaded, so a read-only dataset stops here with nothing written."""
    import tempfile

    from model.errors import DatasetError
    from model.filelock import open_lock_file

    if not project.writable:
        raise DatasetError(project.state_dir, "cannot be written (see the warning below), so predict cannot keep "
                                              "its record or take the dataset's lock; nothing was proposed. Make "
                                              "the folder writable for this user, or copy the dataset, and run "
                                              "predict again" + "".join(f"\n  {w}" for w in project.warnings if "cannot be written" in w))
    open_lock_file(project.state_dir / "lock").close()  # a folder in its place: DatasetError naming it
    for folder in (project.labels_dir, project.state_dir / "confidence"):
        probe = folder if folder.is_dir() else folder.parent
        try:
            with tempfile.TemporaryFile(dir=probe, prefix=".labeltool-probe-"):
                pass
        except OSError as exc:
            raise DatasetError(probe, f"cannot be written ({exc.strerror or exc}); predict writes proposals and "
                                      "their confidence maps there; nothing was proposed. Make the folder "
                                      "writable for this user and run predict again") from None


def skip_reason(project, name: str) -> str:
    """Why a proposal was left unwritten: the editor holding the image (machine and since when), else
    a person's mask."""
    try:
        hold = project.db.holder(name)
    except Exception:  # noqa: BLE001 - the reason is a courtesy; the skip stands
        hold = None
    return hold.describe() if hold is not None else "corrected or open in an editor"


def run(args: argparse.Namespace) -> int:
    from model.inference.propose import propose_dataset
    from model.progress import format_event
    from model.project.project import Project
    from model.project.status import KEPT
    from model.registry.registry import resolve_model_path

    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(max(1, args.threads))

    def emit(event: dict) -> None:
        if args.json:
            sys.stdout.write(format_event(event) + "\n")
            sys.stdout.flush()

    project = Project.open(args.dataset)
    require_writable(project)  # before any mask is written: a proposal is never written outside the lock
    model_path = resolve_model_path(project, args.model)
    if getattr(args, "serve", False):
        return serve(project, args, emit, model_path)
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
    skipped = sum(1 for n in names if n in known and project.status(n) in KEPT)
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
        reason = skip_reason(project, name)
        emit({"event": "skipped", "name": name, "reason": reason})
        if not args.json:
            print(f"\nleft {name} alone: {reason}", file=sys.stderr)

    emit({"event": "start", "command": "predict", "model": str(model_path), "images": len(names) - skipped,
          **({"rank": rank, "world": world} if world > 1 else {})})
    written = propose_dataset(project, model_path, names=names, on_progress=progress, on_error=on_error, on_skip=on_skip,
                              neighbours=getattr(args, "neighbours", "auto"),
                              batch_size=args.batch_size, tta_flip=args.tta, device=getattr(args, "device", None))
    emit({"event": "done", "command": "predict", "model": str(model_path), "written": written,
          "count": len(written), "skipped_corrected": skipped, "left_alone": left_alone, "failed": failed})
    if not args.json:
        print(file=sys.stderr)
        print(f"proposed {len(written)} masks with {model_path.name}; {skipped} edited, corrected or unverifiable masks left untouched"
              + (f"; {len(left_alone)} left alone (corrected meanwhile or open in an editor)" if left_alone else "")
              + (f"; {len(failed)} unreadable images skipped" if failed else ""))
    return 1 if failed and not written else 0


def serve(project, args: argparse.Namespace, emit, model_path) -> int:
    """--serve: propose the plans read on stdin with one model.inference.prefetch.Prefetcher until stdin closes."""
    import json
    import threading

    from model.inference.prefetch import Prefetcher

    if args.nice and hasattr(os, "nice"):
        try:
            os.nice(args.nice)  # before any thread starts: torch's and onnxruntime's threads inherit it
        except OSError:
            pass
    lock = threading.Lock()
    if not args.json:
        emit = lambda event: print(json.dumps(event), flush=True)  # noqa: E731 - serve always speaks JSON

    def say(event: dict) -> None:
        with lock:  # the prefetch thread and this one both print
            emit(event)

    def failed(name: str, message: str) -> None:
        try:
            where = str(project.image_path(name))
        except Exception:
            where = name
        say({"event": "notice", "name": name, "message": f"{where}: {message}"})

    prefetcher = Prefetcher(project, ahead=0, model_path=args.model, device=getattr(args, "device", None), nice=0,
                            on_ready=lambda name: say({"event": "proposed", "name": name}),
                            on_error=failed,
                            on_skip=lambda name: say({"event": "skipped", "name": name,
                                                      "reason": skip_reason(project, name)}))
    say({"event": "start", "command": "predict", "serve": True, "model": str(model_path),
         "pid": os.getpid()})
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                say({"event": "notice", "message": f"not a JSON message: {line[:200]}"})
                continue
            if not isinstance(message, dict) or message.get("quit"):
                break
            accepted = message.get("accepted")
            if isinstance(accepted, list):  # just corrected: their next frames are proposed again from them first
                prefetcher.accepted([str(n) for n in accepted])
            plan = message.get("plan")
            if isinstance(plan, list):
                known = set(project.names())
                if any(str(n) not in known for n in plan):
                    project.rescan()  # images added to the folder since this process started
                    known = set(project.names())
                names = [str(n) for n in plan if str(n) in known]
                for name in plan:
                    if str(name) not in known:
                        say({"event": "notice", "name": str(name),
                             "message": f"{project.images_dir}: no image named {name}"})
                prefetcher.schedule(names, None, ahead=len(names))
    finally:
        prefetcher.close()
    say({"event": "done", "command": "predict", "serve": True, "written": list(prefetcher.proposed),
         "count": len(prefetcher.proposed)})
    return 0

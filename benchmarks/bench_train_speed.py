"""Training throughput (images/s): the engine's training step vs a plain eager fp32 loop, same model
and data. On CUDA the engine adds AMP (bf16/fp16) and channels_last (and torch.compile with
--compile); on CPU it runs the same fp32 maths, so the ratio there shows the engine's overhead
(data pipeline, schedule, events), which should stay near 1.

    python benchmarks/bench_train_speed.py [--encoder resnet34] [--size 352 480] [--batch 8] [--steps 10]

Prints a table and writes benchmarks/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from _common import RESULTS, VOID, write_json


def plain_loop(net, batches, steps: int, device) -> float:
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=VOID)
    net.train()
    for i in range(steps + 2):
        if i == 2:  # two warm-up steps
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        x, y = batches[i % len(batches)]
        loss = loss_fn(net(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def engine_loop(net, batches, steps: int, device, compile_: bool) -> float:
    """The step model.training.train runs: AMP + channels_last on CUDA, one-cycle schedule, set_to_none."""
    from model.nets.losses import build_loss
    from model.training.trainutil import make_one_cycle

    cuda = device.type == "cuda"
    if cuda:
        net = net.to(memory_format=torch.channels_last)
    model = torch.compile(net) if compile_ else net
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    sched = make_one_cycle(opt, [1e-3], steps + 3, 0.25)
    loss_fn = build_loss("ce", VOID).to(device)
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and dtype == torch.float16)
    model.train()
    for i in range(steps + 2):
        if i == 2:
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
        x, y = batches[i % len(batches)]
        x = x.to(device, non_blocking=True)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype, enabled=cuda):
            loss = loss_fn(model(x), y.to(device, non_blocking=True))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        float(loss.item())  # the engine reads the loss for its events every step
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="resnet18")
    parser.add_argument("--size", type=int, nargs=2, default=[160, 224])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    from model.nets.networks import make_net

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(2)
    g = torch.Generator().manual_seed(0)
    h, w = args.size
    batches = [(torch.randn(args.batch, 3, h, w, generator=g), torch.randint(0, 12, (args.batch, h, w), generator=g))
               for _ in range(2)]
    rows = {}
    for name, fn in (("plain eager fp32", lambda n: plain_loop(n, batches, args.steps, device)),
                     ("labeltool engine", lambda n: engine_loop(n, batches, args.steps, device, args.compile))):
        torch.manual_seed(0)
        net = make_net("Unet", args.encoder, 12).to(device)
        seconds = fn(net)
        rows[name] = args.steps * args.batch / seconds
    ratio = rows["labeltool engine"] / rows["plain eager fp32"]
    print(f"device {device}, Unet/{args.encoder}, batch {args.batch} at {h}x{w}, {args.steps} timed steps")
    for name, ips in rows.items():
        print(f"  {name:<20} {ips:8.1f} images/s")
    print(f"  ratio engine/plain  {ratio:8.2f}")
    write_json(RESULTS / "train_speed.json", {"device": str(device), "encoder": args.encoder, "size": args.size,
                                              "batch": args.batch, "images_per_s": rows, "ratio": ratio,
                                              "compile": args.compile})
    return 0


if __name__ == "__main__":
    sys.exit(main())

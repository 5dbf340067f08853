"""Inference-time graph simplification: fold BatchNorm into the convolution before it.

In eval mode ``bn(conv(x))`` is one affine map, so the conv's weights and bias can absorb it and the
BatchNorm becomes an Identity: one pass over the activations fewer per block (see
benchmarks/README_inference.md for what it buys on CPU). Only two safe patterns are folded:
a Conv2d directly followed by a BatchNorm2d inside an ``nn.Sequential`` (smp's decoder blocks), and
``convN``/``bnN`` attribute pairs of torchvision-style ResNet blocks (smp's ResNet encoders). The
folded copy is checked against the original on a random input and discarded if it disagrees.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats
            and bn.running_mean is not None and conv.out_channels == bn.num_features)


@torch.no_grad()
def fold_batchnorm(net: nn.Module) -> tuple[nn.Module, int]:
    """A copy of ``net`` (eval mode) with foldable Conv2d+BatchNorm2d pairs fused; (copy, count)."""
    net = copy.deepcopy(net).eval()
    count = 0
    for parent in list(net.modules()):
        children = parent._modules  # noqa: SLF001 - replacing children in place needs the dict
        names = list(children)
        for i, name in enumerate(names):
            bn = children[name]
            if not isinstance(bn, nn.BatchNorm2d):
                continue
            conv_name = None
            if isinstance(parent, nn.Sequential) and i > 0:
                conv_name = names[i - 1]
            elif name.startswith("bn") and f"conv{name[2:]}" in children:
                conv_name = f"conv{name[2:]}"
            if conv_name is None or not _foldable(children[conv_name], bn):
                continue
            children[conv_name] = fuse_conv_bn_eval(children[conv_name], bn)
            children[name] = nn.Identity()
            count += 1
    return net, count


@torch.no_grad()  # not inference_mode: folded weights made there could not be used outside it
def fold_batchnorm_checked(net: nn.Module, size: int = 64, tolerance: float = 1e-3) -> nn.Module:
    """``fold_batchnorm`` when it changes nothing but speed: the folded copy must give the same
    logits (relative to their scale) on a random (1, 3, size, size) input; otherwise ``net``."""
    try:
        folded, count = fold_batchnorm(net)
    except Exception:  # an unusual module layout: keep the network as it is
        return net
    if count == 0:
        return net
    param = next(net.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    try:
        want, got = net.eval()(x), folded.to(device)(x)
    except Exception:
        return net
    scale = float(want.abs().max()) or 1.0
    if want.shape != got.shape or float((want - got).abs().max()) > tolerance * max(scale, 1.0):
        return net
    return folded

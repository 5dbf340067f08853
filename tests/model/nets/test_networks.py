"""Network factory: offline ImageNet request falls back with one notice; local weight files load."""

import pickle
import subprocess
import sys

import pytest
import torch

from model.errors import ModelFileError
from model.nets import networks
from model.nets.config import TrainConfig
from model.nets.networks import build_model, make_net


def _fail_download(*args, **kwargs):
    raise OSError("simulated: no network")


def test_offline_imagenet_request_gives_one_notice_and_random_init(monkeypatch):
    monkeypatch.setattr(networks, "load_imagenet_state", _fail_download)
    events = []
    net = build_model(TrainConfig(encoder="resnet18", encoder_weights="imagenet").replace(arch="Unet"), 4,
                      on_event=events.append)
    assert events == [{"event": "notice",
                       "message": "ImageNet weights for resnet18 unavailable offline; using random initialisation"}]
    assert net.encoder_pretrained is False
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 4, 64, 64)


def test_offline_without_cache_fails_fast_in_a_fresh_process(tmp_path):
    """The real path (empty Hugging Face cache, LABELTOOL_OFFLINE set): one line, no minute of retries."""
    code = ("import time; t=time.time(); from model.nets.config import TrainConfig; from model.nets.networks import build_model;"
            "build_model(TrainConfig(arch='Unet', encoder='resnet18'), 3, on_event=print); print(time.time()-t)")
    env = {"HF_HOME": str(tmp_path), "LABELTOOL_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
           "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         cwd=str(__import__("pathlib").Path(__file__).parents[3]))
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0, out.stderr
    assert len(lines) == 2 and "unavailable offline" in lines[0]
    assert float(lines[1]) < 30


@pytest.mark.parametrize("fmt", ["safetensors", "torch"])
def test_local_encoder_weights_file_is_loaded(tmp_path, fmt):
    torch.manual_seed(1)
    donor = make_net("Unet", "resnet18", 4)
    state = {k: v.contiguous() for k, v in donor.encoder.state_dict().items()}
    path = tmp_path / f"enc.{fmt}"
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    net = build_model(TrainConfig(arch="Unet", encoder="resnet18", encoder_weights=str(path)), 4)
    assert net.encoder_pretrained is True
    for key, value in state.items():
        assert torch.equal(net.encoder.state_dict()[key], value)


class _Boom:
    """Unpickling this creates ``path``: the marker shows whether anything was unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_weights_file_with_arbitrary_objects_is_refused_without_unpickling(tmp_path):
    """A real torch.save file (zip), so the load reaches ``weights_only``; a full unpickle would create
    the marker file."""
    marker = tmp_path / "unpickled-marker"
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": _Boom(marker)}, path)
    with pytest.raises(ModelFileError, match="evil.pth"):
        build_model(TrainConfig(arch="Unet", encoder="resnet18", encoder_weights=str(path)), 4)
    assert not marker.exists(), "the weights file was unpickled"
    # a bare pickle (no torch zip container) is refused the same way
    bare = tmp_path / "bare.pkl"
    bare.write_bytes(pickle.dumps({"conv1.weight": _Boom(marker)}))
    with pytest.raises(ModelFileError, match="bare.pkl"):
        build_model(TrainConfig(arch="Unet", encoder="resnet18", encoder_weights=str(bare)), 4)
    assert not marker.exists(), "the weights file was unpickled"


def test_weights_for_another_encoder_are_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "r34.safetensors"
    save_file({k: v.contiguous() for k, v in make_net("Unet", "resnet34", 2).encoder.state_dict().items()}, str(path))
    with pytest.raises(ModelFileError, match="do not fit"):
        build_model(TrainConfig(arch="Unet", encoder="resnet18", encoder_weights=str(path)), 4)


@pytest.mark.parametrize("arch", ["Unet", "FPN", "DeepLabV3Plus"])
@pytest.mark.parametrize("encoder", ["resnet18", "mobilenet_v2"])
def test_registry_builds_each_architecture(arch, encoder):
    net = make_net(arch, encoder, 5).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 5, 64, 64)

"""Model files: safetensors + JSON card, never unpickled, refused with a message naming the file."""

import json
import pickle
import time

import pytest
import torch

from model.errors import ModelFileError
from model.nets.networks import make_net, normalization
from model.registry.modelfile import check_classes, latest_model, load_model, make_card, read_card, save_model

CLASSES = ["Background", "Square", "Disc", "Void"]


def _card(classes=CLASSES, scale=1.0):
    return make_card(arch="Unet", encoder="resnet18", classes=classes, void_index=3, normalization=normalization(),
                     input_size=[64, 64], training_images=["b", "a"], metrics={"pixel_accuracy": 0.5},
                     input_scale=scale)


def _net():
    torch.manual_seed(0)
    return make_net("Unet", "resnet18", len(CLASSES)).eval()


def test_save_then_load_gives_the_same_predictions_and_card(tmp_path):
    net = _net()
    path = save_model(tmp_path / "models", net, _card())
    assert path.name.startswith("model-") and path.suffix == ".safetensors"
    assert path.with_suffix(".json").is_file()
    loaded = load_model(path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), loaded.net(x), atol=1e-6)
    card = loaded.card
    assert card["classes"] == CLASSES and card["arch"] == "Unet" and card["encoder"] == "resnet18"
    assert card["normalization"]["mean"] == [0.485, 0.456, 0.406]
    assert card["training_images"] == ["a", "b"] and len(card["training_images_sha256"]) == 64
    assert "torch" in card["versions"] and card["input_size"] == [64, 64] and card["date"]
    assert load_model(path.with_suffix(".json")).card == card  # the card path works too


def test_latest_model_is_the_newest_complete_one(tmp_path):
    models = tmp_path / "models"
    assert latest_model(models) is None
    first = save_model(models, _net(), _card())
    time.sleep(1.1)
    second = save_model(models, _net(), _card())
    assert latest_model(models) == second
    # a newer model whose card was never written (crash while saving) does not count
    (models / "model-29990101-000000.safetensors").write_bytes(second.read_bytes())
    assert latest_model(models) == second
    second.with_suffix(".json").unlink()
    assert latest_model(models) == first


def test_model_for_other_classes_is_refused_naming_both_lists(tmp_path):
    path = save_model(tmp_path, _net(), _card())
    codes = ["Sky", "Road", "Car", "Void"]
    with pytest.raises(ModelFileError) as info:
        check_classes(read_card(path), codes, path)
    message = str(info.value)
    assert path.name in message and "Square" in message and "Road" in message
    check_classes(read_card(path), CLASSES)  # the same list passes


class _Boom:
    def __reduce__(self):
        return (open, ("/tmp/labeltool-test-unpickled-marker", "w"))


def test_pickle_file_is_refused_without_unpickling(tmp_path):
    marker = __import__("pathlib").Path("/tmp/labeltool-test-unpickled-marker")
    marker.unlink(missing_ok=True)
    bad = tmp_path / "model.pt"
    bad.write_bytes(pickle.dumps({"weights": _Boom()}))
    with pytest.raises(ModelFileError, match="model.pt"):
        load_model(bad)
    torch_file = tmp_path / "model-20240101-000000.safetensors"
    torch.save(_net().state_dict(), torch_file)  # a torch zip pickle under the safetensors name
    with pytest.raises(ModelFileError, match="not a safetensors"):
        load_model(torch_file)
    assert not marker.exists()


def test_truncated_weights_and_incomplete_cards_are_refused(tmp_path):
    path = save_model(tmp_path, _net(), _card())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=path.name):
        load_model(path)
    path.write_bytes(data)
    card_file = path.with_suffix(".json")
    card = json.loads(card_file.read_text())
    del card["classes"]
    card_file.write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="lacks classes"):
        load_model(path)
    card_file.write_text("{not json")
    with pytest.raises(ModelFileError, match=card_file.name):
        load_model(path)


def test_weights_of_another_network_are_refused(tmp_path):
    path = save_model(tmp_path, make_net("Unet", "resnet18", 7), _card())  # card says 4 classes
    with pytest.raises(ModelFileError, match="do not match"):
        load_model(path)


def test_model_trained_at_half_scale_takes_full_size_images(tmp_path):
    net = _net()
    path = save_model(tmp_path, net, _card(scale=0.5))
    loaded = load_model(path)
    x = torch.randn(1, 3, 90, 120)  # not a multiple of 32
    with torch.no_grad():
        out = loaded.net(x)
        assert out.shape == (1, len(CLASSES), 90, 120)
        small = torch.nn.functional.interpolate(x, size=(45, 60), mode="bilinear", antialias=True)
        bare = net(torch.nn.functional.pad(small, (0, 4, 0, 19), mode="reflect"))[..., :45, :60]
        expect = torch.nn.functional.interpolate(bare, size=(90, 120), mode="bilinear")
        assert torch.allclose(out, expect, atol=1e-5)  # the network saw the image at half size
    assert not hasattr(load_model(path, raw=True).net, "scale")
    resaved = save_model(tmp_path, loaded.net, _card(scale=0.5))  # saving the wrapper stores the bare weights
    assert load_model(resaved, raw=True).net.state_dict().keys() == net.state_dict().keys()


def test_only_the_newest_models_are_kept(tmp_path):
    import model.registry.modelfile as mf
    from model.registry.registry import prune_models

    net = torch.nn.Conv2d(3, 2, 1)
    saved = []
    for _ in range(mf.KEEP_MODELS + 2):
        saved.append(mf.save_model(tmp_path, net, _card_for_prune()))
        prune_models(tmp_path, mf.KEEP_MODELS)  # what record_trained does after a retrain
    kept = mf.list_models(tmp_path)
    assert kept == saved[-mf.KEEP_MODELS:]  # newest last, even when names repeat within one second
    assert len(list(tmp_path.glob("model-*"))) == 2 * mf.KEEP_MODELS  # weights + card each, no orphans
    assert mf.latest_model(tmp_path) == saved[-1]


def _card_for_prune():
    from model.registry.modelfile import make_card

    return make_card(arch="Unet", encoder="resnet18", classes=["a", "b"], void_index=None,
                     normalization={"mean": [0.5] * 3, "std": [0.5] * 3}, input_size=[32, 32],
                     training_images=["x"])

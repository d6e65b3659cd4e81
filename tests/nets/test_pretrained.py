"""Initial weights from local files: safe loading, name/shape matching, containers, order fallback."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from dysmorph_desk.errors import BundleError
from dysmorph_desk.nets import create_model
from dysmorph_desk.nets.pretrained import BY_NAME, BY_ORDER, load_init_weights


class NotATensor:
    pass


@pytest.fixture(scope="module")
def tv_mobilenet_v2():
    from torchvision.models import mobilenet_v2

    torch.manual_seed(3)
    return mobilenet_v2(weights=None).state_dict()  # the ImageNet layout: 1000-class classifier.1


def _save(state, path):
    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save(state, path)
    return path


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_torchvision_mobilenet_v2_features_load_into_the_hybrid(tmp_path, tv_mobilenet_v2, suffix):
    path = _save(tv_mobilenet_v2, tmp_path / f"mobilenet_v2{suffix}")
    model = create_model("mobilenetv2_bilstm", 2)
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("features.")}
    report = load_init_weights(model, path)

    ours = model.state_dict()
    features = [k for k in ours if k.startswith("features.")]
    assert report.mode == BY_NAME
    assert sorted(report.matched_keys) == sorted(features) and report.matched == len(features)
    assert all(torch.equal(ours[k], tv_mobilenet_v2[k]) for k in features)
    assert all(k.startswith(("sequence.", "classifier.")) for k in report.missing_keys)
    assert report.missing == len(ours) - len(features) == len(report.missing_keys)
    assert (
        sorted(report.unexpected_keys) == ["classifier.1.bias", "classifier.1.weight"]
        and report.unexpected == 2
    )
    assert report.shape_mismatched == 0
    assert all(torch.equal(ours[k], v) for k, v in before.items())  # the rest is untouched
    line = report.summary()
    assert (
        "\n" not in line and f"{len(features)} tensors matched" in line and "2 unexpected" in line
    )
    assert "missing (sequence, classifier)" in line


def test_imagenet_head_is_skipped_as_shape_mismatch(tmp_path, tv_mobilenet_v2):
    path = _save(tv_mobilenet_v2, tmp_path / "mnv2.pt")
    model = create_model("mobilenetv2", 3)
    head = model.classifier[1].weight.detach().clone()
    report = load_init_weights(model, path)
    assert sorted(report.shape_mismatched_keys) == ["classifier.1.bias", "classifier.1.weight"]
    assert report.shape_mismatched == 2 and report.missing == 0 and report.unexpected == 0
    assert report.matched == len(tv_mobilenet_v2) - 2
    assert torch.equal(model.classifier[1].weight, head)
    assert "2 shape-mismatched (skipped)" in report.summary()


@pytest.mark.parametrize("container", ["state_dict", "model", "model_state"])
@pytest.mark.parametrize("prefix", ["module.", "model.", "backbone.", "module.backbone."])
def test_containers_and_prefixes_are_unwrapped(tmp_path, container, prefix):
    src = create_model("mobilenet", 2).state_dict()
    path = tmp_path / "ckpt.ckpt"
    torch.save({container: {prefix + k: v for k, v in src.items()}, "epoch": 7}, path)
    model = create_model("mobilenet", 2)
    report = load_init_weights(model, path)
    assert report.matched == len(src) and report.missing == report.unexpected == 0
    assert all(torch.equal(model.state_dict()[k], v) for k, v in src.items())


def _vgg_face_style(tmp_path, suffix):
    """vgg16 conv weights under VGG-Face port names (conv1_1 ... conv5_3), plus fc layers."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(5)
    convs = [m for m in make_layers(cfgs["D"]) if isinstance(m, torch.nn.Conv2d)]
    names = [f"conv{b}_{i}" for b, n in enumerate([2, 2, 3, 3, 3], 1) for i in range(1, n + 1)]
    state = {}
    for name, conv in zip(names, convs, strict=False):
        state[f"{name}.weight"], state[f"{name}.bias"] = conv.weight.detach(), conv.bias.detach()
    for fc, shape in (("fc6", (64, 32)), ("fc7", (64, 64)), ("fc8", (10, 64))):  # small stand-ins
        state[f"{fc}.weight"], state[f"{fc}.bias"] = torch.randn(shape), torch.randn(shape[0])
    return _save(state, tmp_path / f"vgg_face{suffix}"), state, names


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_renamed_vgg_conv_layers_load_in_order(tmp_path, suffix):
    path, state, names = _vgg_face_style(tmp_path, suffix)
    model = create_model("vgg16_convhead", 2)
    report = load_init_weights(model, path)
    assert report.mode == BY_ORDER and report.matched == 26
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    for name, conv in zip(names, convs, strict=True):
        assert torch.equal(conv.weight, state[f"{name}.weight"]) and torch.equal(
            conv.bias, state[f"{name}.bias"]
        )
    assert sorted(report.unexpected_keys) == sorted(
        f"fc{i}.{p}" for i in (6, 7, 8) for p in ("weight", "bias")
    )
    assert report.missing_keys and all(k.startswith("head.") for k in report.missing_keys)
    assert "by order" in report.summary()


def test_order_fallback_stops_at_the_first_shape_mismatch(tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    convs = [m for m in make_layers(cfgs["D"]) if isinstance(m, torch.nn.Conv2d)]
    state = {}
    for i, conv in enumerate(convs[:3]):
        state[f"c{i}.weight"], state[f"c{i}.bias"] = conv.weight.detach(), conv.bias.detach()
    state["c3.weight"] = torch.zeros(7, 128, 3, 3)  # diverges here
    state["c4.weight"] = convs[4].weight.detach()
    report = load_init_weights(
        create_model("vgg16_convhead", 2), _save(state, tmp_path / "partial.safetensors")
    )
    assert report.mode == BY_ORDER and report.matched == 6
    assert sorted(report.unexpected_keys) == ["c3.weight", "c4.weight"]


def test_numbered_names_keep_numeric_order_from_safetensors(tmp_path):
    # safetensors sorts names as text (layer10 before layer2); pairing in order needs numeric order
    src = [m for m in create_model("mobilenet", 2).modules() if isinstance(m, torch.nn.Conv2d)]
    state = {f"net.layer{i}.weight": c.weight.detach() for i, c in enumerate(src)}
    model = create_model("mobilenet", 2)
    report = load_init_weights(model, _save(state, tmp_path / "numbered.safetensors"))
    assert report.mode == BY_ORDER and report.matched == len(src) == 27
    ours = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(ours, src, strict=True))


def test_insightface_backbone_loads_into_the_cosface_model(tmp_path):
    torch.manual_seed(7)
    backbone = {
        k: v
        for k, v in create_model("iresnet100_arcface", 4).state_dict().items()
        if k != "head.weight"
    }
    path = tmp_path / "backbone.pth"
    torch.save(
        {k: v.half() if v.is_floating_point() else v for k, v in backbone.items()}, path
    )  # fp16 release
    model = create_model("iresnet100_cosface", 3)
    head = model.head.weight.detach().clone()
    report = load_init_weights(model, path)
    assert report.mode == BY_NAME and report.matched == len(backbone)
    assert (
        report.missing_keys == ["head.weight"] and report.unexpected == report.shape_mismatched == 0
    )
    ours = model.state_dict()
    for k in (
        "conv1.weight",
        "layer3.29.conv2.weight",
        "fc.weight",
        "features.running_var",
        "layer4.2.prelu.weight",
    ):
        assert torch.equal(ours[k], backbone[k].half().float())
    assert ours["conv1.weight"].dtype == torch.float32 and torch.equal(model.head.weight, head)
    assert not model.features.weight.requires_grad  # still insightface's frozen feature-BN scale


def test_arbitrary_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": NotATensor(), "conv.weight": torch.zeros(1)}, path)
    with pytest.raises(BundleError, match=r"refused: .*NotATensor") as err:
        load_init_weights(create_model("mobilenet", 2), path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("absent.pth", None, "weights file not found"),
        ("absent.safetensors", None, "weights file not found"),
        ("junk.pth", b"not a checkpoint at all", "unreadable"),
        ("junk.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json", "unreadable"),
        ("weights.h5", b"\x89HDF", "unsupported weights file type"),
    ],
)
def test_unusable_files_give_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BundleError, match=message) as err:
        load_init_weights(create_model("mobilenet", 2), path)
    assert "\n" not in str(err.value)


def test_a_file_that_fits_nothing_is_refused(tmp_path):
    path = _save({"a.weight": torch.zeros(5, 5), "b.bias": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(BundleError, match="nothing loaded"):
        load_init_weights(create_model("mobilenet", 2), path)
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(BundleError, match="not a state_dict"):
        load_init_weights(create_model("mobilenet", 2), tmp_path / "list.pth")


class _RunsCode:
    """A pickle that would call os.system on load (a hostile "pretrained weights" file)."""

    def __reduce__(self):
        import os

        return (os.system, ("true",))


def test_a_checkpoint_holding_a_python_object_is_refused_as_such(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"conv.weight": torch.zeros(2), "x": _RunsCode()}, path)
    with pytest.raises(BundleError, match=r"holds a Python object \((posix|nt|os)\.system\)"):
        load_init_weights(create_model("resnet18", 2), path)

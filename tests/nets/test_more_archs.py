"""Seed 000's comparison models (MobileNet v1, BiLSTM alone, Inception-v4), seed 003's conv-head
VGG-16, and seed 001's IResNet-100 with ArcFace/CosFace margins: shapes, sizes, CAM layers, margins."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dysmorph_desk.nets import create_model, get_arch, list_archs

NEW = [
    "mobilenet",
    "bilstm",
    "inception_v4",
    "vgg16_convhead",
    "iresnet100_arcface",
    "iresnet100_cosface",
]
LIGHT = ["mobilenet", "bilstm", "vgg16_convhead"]
HEAVY = ["inception_v4", "iresnet100_arcface", "iresnet100_cosface"]
SIZES = {"inception_v4": 299, "iresnet100_arcface": 112, "iresnet100_cosface": 112}
# parameters for 3 classes: (low, high)
PARAMS = {
    "mobilenet": (3.20e6, 3.22e6),  # 3.2M (paper) + 1024x3 head
    "bilstm": (0.6e6, 0.8e6),
    "inception_v4": (41.0e6, 41.3e6),  # 42.7M with the 1000-class head
    "vgg16_convhead": (17.1e6, 17.3e6),  # 14.7M conv layers + 2.5M conv head
    "iresnet100_arcface": (65.0e6, 65.3e6),  # incl. the 25088x512 fc
    "iresnet100_cosface": (65.0e6, 65.3e6),
}

_cache: dict[str, torch.nn.Module] = {}


def model(name: str) -> torch.nn.Module:
    """One eval-mode 3-class instance per architecture for the whole module (the big ones take seconds)."""
    if name not in _cache:
        torch.manual_seed(0)
        _cache[name] = create_model(name, 3).eval()
    return _cache[name]


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_registered_with_sizes_sources_and_descriptions():
    assert set(NEW) <= set(list_archs())
    for name in NEW:
        spec = get_arch(name)
        assert spec.input_size == SIZES.get(name, 224)
        assert spec.source and spec.description and len(spec.mean) == len(spec.std) == 3


@pytest.mark.parametrize("name", NEW)
def test_builds_with_target_layer_and_parameter_count(name):
    m = model(name)
    assert isinstance(get_arch(name).target_layer(m), torch.nn.Module)
    low, high = PARAMS[name]
    assert low <= n_params(m) <= high


@pytest.mark.parametrize("name", LIGHT)
def test_forward_batch_of_two(name):
    with torch.no_grad():
        out = model(name)(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", HEAVY)
def test_forward_heavy_at_its_input_size(name):
    m, size = model(name), SIZES[name]
    seen = {}
    handle = (
        get_arch(name)
        .target_layer(m)
        .register_forward_hook(lambda mod, i, o: seen.update(shape=o.shape))
    )
    try:
        with torch.no_grad():
            out = m(torch.randn(1, 3, size, size))
    finally:
        handle.remove()
    assert out.shape == (1, 3) and torch.isfinite(out).all()
    assert tuple(seen["shape"]) == ((1, 1536, 8, 8) if name == "inception_v4" else (1, 512, 7, 7))


def test_mobilenet_v1_layout():
    from dysmorph_desk.nets.mobilenet_v1 import DepthwiseSeparable

    m = model("mobilenet")
    blocks = [b for b in m.features if isinstance(b, DepthwiseSeparable)]
    assert len(blocks) == 13
    depthwise = blocks[0][0][0]
    assert depthwise.groups == depthwise.in_channels == 32 and depthwise.kernel_size == (3, 3)
    assert m.classifier.in_features == 1024


def test_bilstm_reads_56_rows_of_the_downscaled_face():
    m = model("bilstm")
    lstm = m.sequence.lstm
    assert lstm.bidirectional and lstm.num_layers == 2 and lstm.hidden_size == 128
    assert m.dropout.p == pytest.approx(0.3) and m.classifier.in_features == 256
    seen = {}
    h1 = m.downscale.register_forward_hook(lambda mod, i, o: seen.update(small=tuple(o.shape)))
    h2 = m.sequence.register_forward_hook(lambda mod, i, o: seen.update(steps=tuple(i[0].shape)))
    try:
        with torch.no_grad():
            m(torch.randn(1, 3, 224, 224))
    finally:
        h1.remove()
        h2.remove()
    assert seen == {"small": (1, 3, 56, 56), "steps": (1, 56, 168)}


def test_vgg16_convhead_keeps_torchvision_feature_names_and_replaces_fc_by_convs():
    from torchvision.models import vgg16

    with torch.device("meta"):  # no allocation, no init: only names and shapes
        tv = vgg16(weights=None).features.state_dict()
    ours = {
        k: v for k, v in model("vgg16_convhead").state_dict().items() if k.startswith("features.")
    }
    assert {k: tuple(v.shape) for k, v in ours.items()} == {
        f"features.{k}": tuple(v.shape) for k, v in tv.items()
    }
    head = model("vgg16_convhead").head
    assert not any(isinstance(x, torch.nn.Linear) for x in head.modules())
    assert [x.p for x in head if isinstance(x, torch.nn.Dropout)] == [0.5, 0.5]
    assert head[-1].out_channels == 3


def test_inception_v4_block_counts_and_head():
    from dysmorph_desk.nets import inception_v4 as iv4

    kinds = [type(b).__name__ for b in model("inception_v4").features]
    assert (
        kinds.count("InceptionA") == 4
        and kinds.count("InceptionB") == 7
        and kinds.count("InceptionC") == 3
    )
    assert kinds.index("ReductionA") == 10 and kinds.index("ReductionB") == 18
    m = model("inception_v4")
    assert isinstance(get_arch("inception_v4").target_layer(m), iv4.InceptionC)
    assert m.head_drop.p == pytest.approx(0.2) and m.last_linear.in_features == 1536


def test_iresnet_has_insightface_parameter_names():
    sd = model("iresnet100_arcface").state_dict()
    tops = list(dict.fromkeys(k.split(".")[0] for k in sd))
    assert tops == [
        "conv1",
        "bn1",
        "prelu",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "bn2",
        "fc",
        "features",
        "head",
    ]
    assert [len(getattr(model("iresnet100_arcface"), f"layer{i}")) for i in range(1, 5)] == [
        3,
        13,
        30,
        3,
    ]
    assert tuple(sd["fc.weight"].shape) == (512, 512 * 7 * 7)
    for key in (
        "layer3.29.bn3.running_var",
        "layer1.0.downsample.0.weight",
        "layer2.5.prelu.weight",
        "features.running_mean",
        "head.weight",
    ):
        assert key in sd
    assert tuple(sd["head.weight"].shape) == (3, 512)


@pytest.mark.parametrize("name", ["iresnet100_arcface", "iresnet100_cosface"])
def test_margin_models_forward_scaled_cosines(name):
    m = model(name)
    assert m.scale == 64.0
    emb = torch.randn(4, 512) * 1000
    logits = m.head(emb)
    assert logits.abs().max() <= 64.0 + 1e-4
    # the logit of a class vector itself is s * cos(0) = s
    assert m.head(m.head.weight.detach()[:1] * 7)[0, 0].item() == pytest.approx(64.0, abs=1e-3)


def test_arcface_margin_on_target_column_only():
    m = model("iresnet100_arcface")
    assert m.margin == 0.5
    c = torch.tensor([[0.6, -0.2, 0.1], [0.3, 0.9, -0.95]])
    target = torch.tensor([0, 2])
    out = m.margin_logits(64 * c, target)
    changed = torch.zeros_like(c, dtype=torch.bool)
    changed[0, 0] = changed[1, 2] = True
    assert torch.allclose(out[~changed], 64 * c[~changed])
    assert out[0, 0].item() == pytest.approx(64 * math.cos(math.acos(0.6) + 0.5), rel=1e-5)
    # theta + m > pi for cos = -0.95: the standard fallback cos - m * sin(m)
    assert out[1, 2].item() == pytest.approx(64 * (-0.95 - 0.5 * math.sin(0.5)), rel=1e-5)
    assert (out[changed] < 64 * c[changed]).all()


def test_cosface_margin_on_target_column_only():
    m = model("iresnet100_cosface")
    assert m.margin == 0.35
    c = torch.tensor([[0.6, -0.2, 0.1], [0.3, 0.9, -0.95]])
    out = m.margin_logits(64 * c, torch.tensor([1, 1]))
    expected = 64 * c
    expected[:, 1] = 64 * (c[:, 1] - 0.35)
    assert torch.allclose(out, expected, atol=1e-4)


def test_margin_logits_have_finite_gradients_at_cos_one():
    m = model("iresnet100_arcface")
    logits = torch.tensor([[64.0, -64.0]], requires_grad=True)
    loss = torch.nn.functional.cross_entropy(
        m.margin_logits(logits, torch.tensor([0])), torch.tensor([0])
    )
    loss.backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", ["bilstm", "mobilenet"])
def test_pytorch_grad_cam_runs_on_the_target_layer(name):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(1)
    m = create_model(name, 3).eval()
    cam = GradCAM(model=m, target_layers=[get_arch(name).target_layer(m)])
    try:
        heat = cam(input_tensor=torch.randn(1, 3, 224, 224), targets=[ClassifierOutputTarget(1)])[0]
    finally:
        cam.activations_and_grads.release()
    assert heat.shape == (224, 224) and np.isfinite(heat).all() and heat.max() > heat.min()

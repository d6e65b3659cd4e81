"""The PyTorch side of bundles: format 2 written from a model, format 1 upgraded, and the PyTorch
reference runtime giving what the ONNX graphs give."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save

from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
from dysmorph_desk.bundles.format import load_bundle, read_header
from dysmorph_desk.errors import BundleError, UsageError
from dysmorph_desk.faces.align import template_description
from dysmorph_desk.nets import create_model, get_arch
from dysmorph_desk.training.bundle_io import (
    _v1_digest,
    load_torch_bundle,
    save_bundle,
    upgrade_bundle,
)

pytestmark = pytest.mark.slow  # one graph export (~30 s) per module


def make_card(name="t-mnv2", arch="mobilenetv2", status="research", **kw) -> ModelCard:
    spec = get_arch(arch)
    return ModelCard(
        name=name,
        architecture=arch,
        classes=[ClassInfo("syndromic", "Syndromic", True), ClassInfo("control", "Control", False)],
        input_size=spec.input_size,
        mean=spec.mean,
        std=spec.std,
        alignment_template=template_description(),
        threshold=0.4,
        status=status,
        intended_use="tests",
        training_data={"summary": "none"},
        **kw,
    )


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = create_model("mobilenetv2", 2).eval()
    with torch.no_grad():  # logits away from 0 so probabilities are not all 0.5
        m.classifier[1].weight.mul_(50.0)
    return m


@pytest.fixture(scope="module")
def saved(tmp_path_factory, model):
    card = make_card(
        validation_metrics={"recall": 0.9, "specificity": 0.8}, age_range_months=(6, 144)
    )
    path = tmp_path_factory.mktemp("b") / "a.ddbundle"
    return save_bundle(path, model, card), card


def test_round_trip_card_weights_and_parity_with_the_reference(saved):
    info, card = saved
    loaded = load_bundle(info.path)
    assert loaded.card == card and loaded.sha256 == info.sha256 and len(info.sha256) == 64
    assert loaded.weights["classifier.1.weight"].dtype == np.float16
    reference = load_torch_bundle(info.path)
    x = np.random.default_rng(0).normal(size=(3, 3, 224, 224)).astype(np.float32)
    a, b = loaded.model.forward(x), reference.model.forward(x)
    np.testing.assert_allclose(a.logits, b.logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.embedding, b.embedding, rtol=1e-4, atol=1e-5)
    ga, gb = loaded.model.gradient(x[:1], 1, 2), reference.model.gradient(x[:1], 1, 2)
    scale = float(np.abs(gb.gradients).max())
    assert np.abs(ga.gradients - gb.gradients).max() <= 1e-4 * scale + 1e-9


def test_save_refuses_to_overwrite_without_force_and_wrong_suffix(saved, model):
    info, card = saved
    with pytest.raises(UsageError):
        save_bundle(info.path, model, card)
    with pytest.raises(UsageError):
        save_bundle(info.path.with_suffix(".pth"), model, card)


def test_a_format_1_bundle_upgrades_to_format_2(tmp_path, model):
    card = make_card(name="old-model")
    tensors = {
        k: (v.half() if v.is_floating_point() else v).contiguous().clone()
        for k, v in model.state_dict().items()
    }
    manifest = card.to_dict()
    meta = {
        "format": "dysmorph-desk-bundle",
        "format_version": "1",
        "manifest": json.dumps(manifest),
        "sha256": _v1_digest(manifest, tensors),
    }
    old = tmp_path / "old.ddbundle"
    old.write_bytes(save(tensors, metadata=meta))
    with pytest.raises(BundleError, match="models --upgrade"):
        load_bundle(old)
    new = upgrade_bundle(old, tmp_path / "new.ddbundle")
    assert read_header(new.path).format_version == "2"
    upgraded = load_bundle(new.path)
    assert upgraded.card.name == "old-model"
    np.testing.assert_array_equal(
        upgraded.weights["classifier.1.weight"], tensors["classifier.1.weight"].numpy()
    )
    with pytest.raises(UsageError, match="already format 2"):
        upgrade_bundle(new.path, tmp_path / "again.ddbundle")
    # a tampered format-1 file is not upgraded
    meta["sha256"] = "0" * 64
    old.write_bytes(save(tensors, metadata=meta))
    with pytest.raises(BundleError, match="mismatch"):
        upgrade_bundle(old, tmp_path / "x.ddbundle", force=True)


def test_torch_reference_refuses_weights_of_another_architecture(tmp_path, saved):
    from dysmorph_desk.bundles.container import read_bundle, write_bundle

    info, _card = saved
    contents = read_bundle(info.path)
    contents.manifest["architecture"] = "resnet18"
    path = tmp_path / "wrong.ddbundle"
    write_bundle(path, contents)
    with pytest.raises(BundleError, match="do not match architecture resnet18"):
        load_torch_bundle(path)

"""Bundles: hash over manifest + weights, shape checks, discovery, and refusal of tampering."""

from __future__ import annotations

import json
import struct

import pytest

from dysmorph_desk.bundles import format as bundles
from dysmorph_desk.bundles.cards import ClassInfo, ModelCard
from dysmorph_desk.bundles.format import (
    find_bundles,
    install_bundle,
    load_bundle,
    read_header,
    resolve_bundle,
    save_bundle,
)
from dysmorph_desk.errors import BundleError, UsageError
from dysmorph_desk.faces.align import template_description
from dysmorph_desk.nets import create_model, get_arch


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
    return create_model("mobilenetv2", 2)


def test_round_trip_keeps_card_and_weights(tmp_path, model):
    card = make_card(
        validation_metrics={"recall": 0.9, "specificity": 0.8}, age_range_months=(6, 144)
    )
    info = save_bundle(tmp_path / "a.ddbundle", model, card)
    loaded = load_bundle(info.path)
    assert loaded.card == card and loaded.sha256 == info.sha256 and len(info.sha256) == 64
    w_saved = model.state_dict()["classifier.1.weight"].half().float()
    assert (loaded.model.state_dict()["classifier.1.weight"] == w_saved).all()
    assert not loaded.model.training


def _rewrite_header(path, mutate):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    mutate(header)
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])


def test_tampered_manifest_is_refused(tmp_path, model):
    info = save_bundle(tmp_path / "a.ddbundle", model, make_card())

    def raise_threshold(header):
        manifest = json.loads(header["__metadata__"]["manifest"])
        manifest["status"] = "validated"
        header["__metadata__"]["manifest"] = json.dumps(manifest)

    _rewrite_header(info.path, raise_threshold)
    with pytest.raises(BundleError, match="SHA-256 mismatch"):
        load_bundle(info.path)


def test_tampered_weights_are_refused(tmp_path, model):
    info = save_bundle(tmp_path / "a.ddbundle", model, make_card())
    raw = bytearray(info.path.read_bytes())
    raw[-3] ^= 0xFF
    info.path.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match="SHA-256 mismatch"):
        load_bundle(info.path)


def test_architecture_mismatch_is_refused(tmp_path, model):
    # a consistent hash, but the weights are a MobileNetV2's while the card says ResNet-18
    card = make_card(arch="resnet18")
    save_bundle(tmp_path / "a.ddbundle", model, card)
    with pytest.raises(BundleError, match="do not match architecture resnet18"):
        load_bundle(tmp_path / "a.ddbundle")


def test_class_count_mismatch_is_refused(tmp_path):
    three = create_model("mobilenetv2", 3)
    save_bundle(tmp_path / "a.ddbundle", three, make_card())
    with pytest.raises(BundleError, match="has shape"):
        load_bundle(tmp_path / "a.ddbundle")


@pytest.mark.parametrize(
    "content", [b"", b"hello", b"\x10\x00\x00\x00\x00\x00\x00\x00{}", b"\xff" * 64]
)
def test_garbage_files_are_refused(tmp_path, content):
    p = tmp_path / "bad.ddbundle"
    p.write_bytes(content)
    with pytest.raises(BundleError, match="not a DysmorphDesk bundle"):
        read_header(p)


def test_save_refuses_to_overwrite_without_force(tmp_path, model):
    save_bundle(tmp_path / "a.ddbundle", model, make_card())
    with pytest.raises(UsageError):
        save_bundle(tmp_path / "a.ddbundle", model, make_card())
    save_bundle(tmp_path / "a.ddbundle", model, make_card(), force=True)


def test_user_folder_discovery_and_install(tmp_path, model):
    src = save_bundle(tmp_path / "mine.ddbundle", model, make_card(name="my-model")).path
    installed = install_bundle(src)
    assert installed.source == "user"
    names = {i.name: i for i in find_bundles()}
    assert "my-model" in names and names["my-model"].source == "user"
    assert resolve_bundle("my-model").path == installed.path
    assert resolve_bundle(str(src)).name == "my-model"
    with pytest.raises(BundleError, match="no bundle named"):
        resolve_bundle("nope")


def test_install_refuses_tampered_bundle_and_copies_nothing(tmp_path, model):
    src = save_bundle(tmp_path / "mine.ddbundle", model, make_card(name="evil")).path
    raw = bytearray(src.read_bytes())
    raw[-5] ^= 0x01
    src.write_bytes(bytes(raw))
    with pytest.raises(BundleError):
        install_bundle(src)
    assert "evil" not in {i.name for i in find_bundles()}


def test_card_rejects_unknown_status():
    with pytest.raises(ValueError):
        make_card(status="approved")


def test_bundle_suffix_enforced(tmp_path, model):
    with pytest.raises(UsageError):
        save_bundle(tmp_path / "a.pth", model, make_card())
    assert bundles.BUNDLE_SUFFIX == ".ddbundle"

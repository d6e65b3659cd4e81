"""Bundle format 2: one digest over every member, graphs checked against the card, no torch.

The bundles here are derived from the shipped ``demo-mobilenetv2`` by editing members with the
torch-free container API, so each test changes exactly one thing and the rest stays valid.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from dysmorph_desk.bundles.container import BundleContents, read_bundle, write_bundle
from dysmorph_desk.bundles.format import load_bundle, read_header, resolve_bundle
from dysmorph_desk.bundles.sessions import WEIGHTS_LOCATION
from dysmorph_desk.errors import BundleError


@pytest.fixture(scope="module")
def demo() -> BundleContents:
    return read_bundle(resolve_bundle("demo-mobilenetv2").path)


def _write(tmp_path, contents: BundleContents, name="b.ddbundle"):
    path = tmp_path / name
    write_bundle(path, contents, force=True)
    return path


def _copy(c: BundleContents, **changes) -> BundleContents:
    fields = {
        "manifest": json.loads(json.dumps(c.manifest)),
        "runtime": dict(c.runtime),
        "weights": dict(c.weights),
        "graphs": dict(c.graphs),
        "signature": "",  # a changed copy is no longer what the demo key signed
        "atypicality": dict(c.atypicality),
        "extra_metadata": dict(c.extra_metadata),
    }
    fields.update(changes)
    return BundleContents(**fields)


def _onnx():
    """onnx edits the graphs here; the runtime install (no onnx) skips these tests."""
    return pytest.importorskip("onnx")


def _edit_graph(c: BundleContents, name: str, edit) -> BundleContents:
    model = _onnx().load_from_string(c.graphs[name])
    edit(model)
    return _copy(c, graphs={**c.graphs, name: model.SerializeToString()})


def test_round_trip_loads_and_runs_without_torch(tmp_path, demo):
    path = _write(tmp_path, _copy(demo))
    code = (
        "import sys, numpy as np\n"
        "from dysmorph_desk.bundles.format import load_bundle\n"
        f"b = load_bundle({str(path)!r})\n"
        "out = b.model.forward(np.zeros((2, 3, 224, 224), np.float32))\n"
        "assert out.logits.shape == (2, 2) and np.isfinite(out.logits).all()\n"
        "assert abs(float(np.linalg.norm(out.embedding[0])) - 1) < 1e-4\n"
        "g = b.model.gradient(np.zeros((1, 3, 224, 224), np.float32), 0, 2)\n"
        "assert g.gradients.shape == g.activations.shape\n"
        "assert 'torch' not in sys.modules, 'the runtime imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_digest_covers_card_weights_and_graphs_but_not_the_signature(tmp_path, demo):
    base = _copy(demo)
    path = _write(tmp_path, base)
    digest = read_header(path).sha256
    from dysmorph_desk.bundles.signing import load_private, sign_digest

    key = load_private(Path(__file__).parents[2] / "models" / "keys" / "demo-signing-key.pem")
    slot = sign_digest(key, digest)
    signed = _write(tmp_path, _copy(demo, signature=slot), "s.ddbundle")
    assert read_header(signed).sha256 == digest  # the slot is outside the digest
    assert read_header(signed).trust.signed
    load_bundle(signed)
    malformed = _write(tmp_path, _copy(demo, signature="ed25519:abc"), "m.ddbundle")
    with pytest.raises(BundleError, match="signature"):
        read_header(malformed)

    raw = path.read_bytes()
    for label, start in (("weights", len(raw) // 3), ("graph", len(raw) - 100)):
        bad = bytearray(raw)
        bad[start] ^= 0x01
        (tmp_path / f"{label}.ddbundle").write_bytes(bytes(bad))
        with pytest.raises(BundleError, match=r"digest mismatch|unreadable"):
            load_bundle(tmp_path / f"{label}.ddbundle")
    # an edited card under the old digest
    from dysmorph_desk.bundles import container

    contents = read_bundle(path)
    contents.manifest["status"] = "validated"
    meta = contents.metadata()
    meta["digest"], meta["signature"] = digest, ""
    (tmp_path / "card.ddbundle").write_bytes(save(contents.tensors(), metadata=meta))
    with pytest.raises(BundleError, match="digest mismatch"):
        load_bundle(tmp_path / "card.ddbundle")
    assert container.digest(meta, contents.tensors()) != digest


def test_format_1_is_listed_but_refused_with_the_upgrade_command(tmp_path, demo):
    meta = {
        "format": "dysmorph-desk-bundle",
        "format_version": "1",
        "manifest": json.dumps(demo.manifest),
        "sha256": "0" * 64,
    }
    path = tmp_path / "old.ddbundle"
    path.write_bytes(save({"w": np.zeros(2, np.float32)}, metadata=meta))
    assert read_header(path).format_version == "1"
    with pytest.raises(BundleError, match=r"dysmorph-desk models --upgrade .*old\.ddbundle"):
        load_bundle(path)


def test_a_missing_or_damaged_graph_is_refused(tmp_path, demo):
    graphs = dict(demo.graphs)
    del graphs["gradient"]
    with pytest.raises(BundleError, match="gradient graph is missing"):
        load_bundle(_write(tmp_path, _copy(demo, graphs=graphs)))
    broken = {**demo.graphs, "forward": b"\x08\x07not a protobuf" * 10}
    with pytest.raises(BundleError, match=r"forward graph is damaged|forward graph"):
        load_bundle(_write(tmp_path, _copy(demo, graphs=broken)))


def test_graphs_must_match_the_card(tmp_path, demo):
    three = _copy(demo)
    three.manifest["classes"].append({"id": "other", "display_name": "Other", "syndromic": True})
    with pytest.raises(BundleError, match=r"(logits|onehot) has shape .*the card implies"):
        load_bundle(_write(tmp_path, three))
    size = _copy(demo)
    size.manifest["input_size"] = 112
    with pytest.raises(BundleError, match="image has shape"):
        load_bundle(_write(tmp_path, size))
    emb = _copy(demo, runtime={**demo.runtime, "embedding_size": 7})
    with pytest.raises(BundleError, match="embedding has shape"):
        load_bundle(_write(tmp_path, emb))


def test_custom_operator_domains_are_refused(tmp_path, demo):
    onnx = _onnx()

    def add_custom(model):
        node = model.graph.node[0]
        node.domain = "com.evil"
        model.opset_import.append(onnx.helper.make_opsetid("com.evil", 1))

    with pytest.raises(BundleError, match="non-standard operator domain"):
        load_bundle(_write(tmp_path, _edit_graph(demo, "forward", add_custom)))


def test_external_data_outside_the_bundle_is_refused(tmp_path, demo):
    onnx = _onnx()

    def point_elsewhere(model):
        init = next(
            i for i in model.graph.initializer if i.data_location == onnx.TensorProto.EXTERNAL
        )
        for entry in init.external_data:
            if entry.key == "location":
                entry.value = "../../etc/passwd"

    with pytest.raises(BundleError, match="external data other than its weights"):
        load_bundle(_write(tmp_path, _edit_graph(demo, "gradient", point_elsewhere)))
    # a weight the bundle does not carry
    first = next(
        i.name
        for i in onnx.load_from_string(demo.graphs["forward"]).graph.initializer
        if any(e.value == WEIGHTS_LOCATION for e in i.external_data)
    )
    weights = {k: v for k, v in demo.weights.items() if k != first}
    with pytest.raises(BundleError, match="external data other than its weights"):
        load_bundle(_write(tmp_path, _copy(demo, weights=weights)))


def test_absurd_dimensions_are_refused(tmp_path, demo):
    def huge(model):
        model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 10**9

    with pytest.raises(BundleError, match="absurd"):
        load_bundle(_write(tmp_path, _edit_graph(demo, "forward", huge)))


def test_the_cli_says_exit_4_in_one_line(tmp_path, demo):
    from dysmorph_desk.cli import main

    graphs = dict(demo.graphs)
    del graphs["forward"]
    path = _write(tmp_path, _copy(demo, graphs=graphs))
    assert main(["models", "--install", str(path)]) == 4

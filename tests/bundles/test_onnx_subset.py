"""``bundles.onnx_proto``: the subset of ONNX's schema that ``check_graph`` reads, without ``onnx``.

The subset must read exactly what ``onnx.load_from_string`` reads (same field numbers, types and
oneofs) for the shipped bundles, for graphs built with ``onnx.helper`` and for hand-encoded edge
cases, and ``check_graph`` must refuse exactly what it refused when it parsed with ``onnx``. Those
comparisons need ``onnx`` (the training side) and skip in a runtime-only install; the test that the
runtime path never imports ``onnx`` runs everywhere.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.message import DecodeError

from dysmorph_desk.bundles import onnx_proto
from dysmorph_desk.bundles.container import BundleContents, read_bundle
from dysmorph_desk.bundles.format import read_header
from dysmorph_desk.bundles.sessions import WEIGHTS_LOCATION, _dims, check_graph
from dysmorph_desk.errors import BundleError

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(MODELS.glob("*.ddbundle"))


@pytest.fixture(scope="module")
def onnx() -> Any:
    return pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def demo() -> tuple[BundleContents, Any]:
    path = MODELS / "demo-mobilenetv2.ddbundle"
    return read_bundle(path), read_header(path).card


def _summary(model: Any) -> dict[str, Any]:
    """Everything check_graph reads, from an ``onnx.ModelProto`` or the subset's ``ModelProto``."""
    graph = model.graph

    def values(items: Any) -> list[tuple[Any, ...]]:
        return [
            (v.name, _dims(v), v.type.WhichOneof("value"), v.type.tensor_type.elem_type)
            for v in items
        ]

    return {
        "has_graph": model.HasField("graph"),
        "opset_domains": [o.domain for o in model.opset_import],
        "node_domains": [n.domain for n in graph.node],
        "functions": len(model.functions),
        "initializers": [
            (
                i.name,
                list(i.dims),
                int(i.data_location),
                [(e.key, e.value) for e in i.external_data],
            )
            for i in graph.initializer
        ],
        "inputs": values(graph.input),
        "outputs": values(graph.output),
        "value_info": values(graph.value_info),
    }


def _both(onnx: Any, data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    return _summary(onnx_proto.parse_model(data)), _summary(onnx.load_from_string(data))


def _outcome(*args: Any) -> tuple[str, Any]:
    try:
        return "ok", check_graph(*args)
    except BundleError as exc:
        return "refused", str(exc)


def _before_and_now(monkeypatch, onnx: Any, *args: Any) -> tuple[tuple[str, Any], ...]:
    """check_graph's outcome with the subset, and with ``onnx.load_from_string`` as its parser (the
    implementation before the subset: the same code reading an ``onnx.ModelProto``)."""
    now = _outcome(*args)
    with monkeypatch.context() as m:
        m.setattr(onnx_proto, "parse_model", onnx.load_from_string)
        before = _outcome(*args)
    return now, before


# --- raw protobuf encoding, for cases onnx's Python API will not build ------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _len(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


# --- the schema ---------------------------------------------------------------------------------


def _shape(field: Any) -> tuple[Any, ...]:
    return (field.number, field.type, field.is_repeated, field.has_presence, field.is_packed)


def test_every_field_is_declared_as_in_onnx(onnx):
    """Numbers, types, labels, oneofs and message types match the installed onnx's descriptors."""
    subset = onnx_proto.ModelProto.DESCRIPTOR.file
    seen = 0
    for full_name in onnx_proto._MESSAGES:
        mine = subset.pool.FindMessageTypeByName(f"{onnx_proto.PACKAGE}.{full_name}")
        if full_name == "TypeProto.Other":  # stands in for the oneof members not read
            assert not mine.fields
            continue
        theirs = onnx.ModelProto.DESCRIPTOR.file.pool.FindMessageTypeByName(f"onnx.{full_name}")
        for field in mine.fields:
            ref = theirs.fields_by_name[field.name]
            assert _shape(field) == _shape(ref), field.full_name
            oneof = field.containing_oneof
            assert (oneof and oneof.name) == (ref.containing_oneof and ref.containing_oneof.name)
            if field.message_type and field.message_type.name != "Other":
                assert field.message_type.full_name == "dysmorph_desk.onnx_subset." + (
                    ref.message_type.full_name.removeprefix("onnx.")
                )
            if field.enum_type:
                values = {v.name: v.number for v in field.enum_type.values}
                assert values == {v.name: v.number for v in ref.enum_type.values}
            seen += 1
        for oneof in mine.oneofs:  # every member of a oneof it reads, so the last one wins
            ref_members = {f.number for f in theirs.oneofs_by_name[oneof.name].fields}
            assert {f.number for f in oneof.fields} == ref_members
    assert seen == 41  # every declared field, each checked against onnx
    assert onnx.TensorProto.EXTERNAL == onnx_proto.EXTERNAL


def test_the_subset_never_clashes_with_onnx(onnx):
    """Its own package in its own pool: onnx's descriptors are untouched, both work side by side."""
    assert onnx_proto.ModelProto.DESCRIPTOR.full_name == "dysmorph_desk.onnx_subset.ModelProto"
    with pytest.raises(KeyError):
        descriptor_pool.Default().FindMessageTypeByName("dysmorph_desk.onnx_subset.ModelProto")
    assert onnx.ModelProto.DESCRIPTOR.full_name == "onnx.ModelProto"
    model = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
    assert onnx.load_from_string(model.SerializeToString()) == model


# --- reads what onnx reads ----------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_graphs_read_as_onnx_reads_them(onnx, path):
    contents = read_bundle(path)
    assert set(contents.graphs) == {"forward", "gradient"}
    for data in contents.graphs.values():
        mine, theirs = _both(onnx, data)
        assert mine == theirs
        assert mine["initializers"] and mine["outputs"]  # something was read


def _built(onnx: Any) -> Any:
    """A small graph with everything the subset reads: domains, a local function, initializers
    (one inline, one external), symbolic and fixed dims, value infos, a sequence-typed value."""
    h, tp = onnx.helper, onnx.TensorProto
    weight = h.make_tensor("w", tp.FLOAT, [3, 4], np.zeros(12, np.float32).tolist())
    external = tp(name="e", data_type=tp.FLOAT, dims=[4, 2])
    external.data_location = tp.EXTERNAL
    for key, value in (("location", "other.bin"), ("offset", "0"), ("length", "32")):
        external.external_data.add(key=key, value=value)
    fn = h.make_function(
        "local", "Twice", ["x"], ["y"], [h.make_node("Add", ["x", "x"], ["y"])], []
    )
    nodes = [
        h.make_node("MatMul", ["image", "w"], ["h"]),
        h.make_node("Twice", ["h"], ["t"], domain="local"),
        h.make_node("MatMul", ["t", "e"], ["logits"], domain="ai.onnx"),
        h.make_node("SequenceConstruct", ["logits"], ["seq"]),
    ]
    graph = h.make_graph(
        nodes,
        "g",
        [h.make_tensor_value_info("image", tp.FLOAT, ["batch", 3])],
        [
            h.make_tensor_value_info("logits", tp.FLOAT, [None, 2]),
            h.make_tensor_sequence_value_info("seq", tp.FLOAT, None),
        ],
        [weight, external],
        value_info=[h.make_tensor_value_info("h", tp.FLOAT, ["batch", 4])],
    )
    opsets = [h.make_opsetid("", 18), h.make_opsetid("local", 1), h.make_opsetid("ai.onnx.ml", 3)]
    return h.make_model(graph, opset_imports=opsets, functions=[fn])


def test_built_graphs_read_as_onnx_reads_them(onnx):
    model = _built(onnx)
    mine, theirs = _both(onnx, model.SerializeToString())
    assert mine == theirs
    assert mine["functions"] == 1 and "local" in mine["node_domains"]
    assert mine["initializers"][1] == (
        "e",
        [4, 2],
        1,
        [("location", "other.bin"), ("offset", "0"), ("length", "32")],
    )
    assert mine["inputs"] == [("image", ["batch", 3], "tensor_type", 1)]
    assert mine["outputs"][0][1] == ["?", 2] and mine["outputs"][1][2] == "sequence_type"
    empty = onnx.ModelProto().SerializeToString()
    assert _both(onnx, empty)[0] == _both(onnx, empty)[1]


@pytest.mark.parametrize(
    "extra",
    [
        # an output typed as a tensor, then as a sequence: the oneof's last member wins
        _len(7, _len(12, _len(1, b"out") + _len(2, _len(1, b"") + _len(4, b"")))),
        # ... and a sequence then a tensor
        _len(7, _len(12, _len(2, _len(4, b"") + _len(1, _len(2, _len(1, _int(1, 5))))))),
        # a dimension given as a value, then as a parameter (and the reverse)
        _len(7, _len(11, _len(2, _len(1, _len(2, _len(1, _int(1, 7) + _len(2, b"n"))))))),
        _len(7, _len(11, _len(2, _len(1, _len(2, _len(1, _len(2, b"n") + _int(1, 7))))))),
        # an initializer whose data_location is not a known DataLocation (a closed enum)
        _len(7, _len(5, _len(8, b"odd") + _int(14, 7) + _int(1, 3))),
        # a second graph field: merged into the first, as protobuf does
        _len(7, _len(1, _len(7, b"com.other"))),
        # known fields with the wrong wire type: kept as unknown fields by both
        _int(7, 1) + _len(8, _int(1, 3)) + _len(7, _int(1, 4)),
        # fields neither reads, at every level
        _int(1, 9) + _len(14, _len(1, b"k")) + _len(7, _len(1, _len(5, b"\x0a\x00"))),
    ],
)
def test_hand_encoded_edge_cases_read_as_onnx_reads_them(onnx, extra):
    data = _built(onnx).SerializeToString() + extra
    mine, theirs = _both(onnx, data)
    assert mine == theirs


def test_mutated_graphs_read_as_onnx_reads_them(onnx):
    """Random byte edits: when onnx parses the bytes, the subset reads the same; when the subset
    refuses them, so does onnx (the subset skips what it does not read, so it may accept bytes onnx
    refuses there: ONNX Runtime then refuses them when the session is created)."""
    base = _built(onnx).SerializeToString()
    rng = np.random.default_rng(0)
    parsed = 0
    for _ in range(600):
        data = bytearray(base)
        for _ in range(int(rng.integers(1, 3))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        data = bytes(data)
        try:
            theirs = _summary(onnx.load_from_string(data))
        except DecodeError:
            theirs = None
        try:
            mine = _summary(onnx_proto.parse_model(data))
        except DecodeError:
            assert theirs is None
            continue
        if theirs is not None:
            assert mine == theirs
            parsed += 1
    assert parsed > 100


# --- check_graph refuses what it refused --------------------------------------------------------


def _edited(onnx: Any, data: bytes, edit: Any) -> bytes:
    model = onnx.load_from_string(data)
    edit(model)
    return model.SerializeToString()


def _custom_domain(onnx: Any) -> Any:
    def edit(model: Any) -> None:
        model.graph.node[0].domain = "com.evil"

    return edit


def _custom_opset(onnx: Any) -> Any:
    def edit(model: Any) -> None:
        model.opset_import.append(onnx.helper.make_opsetid("com.evil", 1))

    return edit


def _local_function(onnx: Any) -> Any:
    def edit(model: Any) -> None:
        h = onnx.helper
        body = [h.make_node("Identity", ["x"], ["y"])]
        model.functions.append(h.make_function("", "Same", ["x"], ["y"], body, []))

    return edit


def _external(location: str) -> Any:
    def edit(model: Any) -> None:
        init = next(i for i in model.graph.initializer if i.data_location == 1)
        for entry in init.external_data:
            if entry.key == "location":
                entry.value = location

    return edit


def _huge_dim(onnx: Any) -> Any:
    def edit(model: Any) -> None:
        model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 10**9

    return edit


def _external_tensor(onnx: Any, location: str = "/etc/passwd") -> Any:
    t = onnx.helper.make_tensor("evil", onnx.TensorProto.FLOAT, [1], [0.0])
    t.ClearField("float_data")
    t.data_location = onnx.TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    return t


def _constant_from_a_file(onnx: Any) -> Any:
    """A Constant node whose value tensor is read from another file."""

    def edit(model: Any) -> None:
        node = onnx.helper.make_node("Constant", [], ["evil_out"], value=_external_tensor(onnx))
        model.graph.node.append(node)

    return edit


def _subgraph(onnx: Any, *, domain: str = "", initializer: Any = None) -> Any:
    """An If node whose branches hold a node of ``domain`` (and ``initializer``)."""

    def edit(model: Any) -> None:
        h = onnx.helper
        out = h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
        body = h.make_node("Identity", ["x"], ["y"], domain=domain)
        inits = [initializer] if initializer is not None else []
        branch = h.make_graph([body], "branch", [], [out], initializer=inits)
        model.graph.node.append(
            h.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=branch)
        )

    return edit


def _sparse_from_a_file(onnx: Any) -> Any:
    def edit(model: Any) -> None:
        sparse = model.graph.sparse_initializer.add()
        sparse.values.CopyFrom(_external_tensor(onnx))

    return edit


def _training_info(onnx: Any) -> Any:
    def edit(model: Any) -> None:
        model.training_info.add()

    return edit


CASES = {
    "constant from a file": (_constant_from_a_file, "external data other than its weights"),
    "subgraph custom domain": (
        lambda onnx: _subgraph(onnx, domain="com.evil"),
        "non-standard operator domain \\(com.evil\\)",
    ),
    "subgraph initializer from a file": (
        lambda onnx: _subgraph(onnx, initializer=_external_tensor(onnx)),
        "external data other than its weights",
    ),
    "sparse initializer from a file": (_sparse_from_a_file, "external data other than its weights"),
    "training info": (_training_info, "carries training information"),
    "custom domain": (_custom_domain, "non-standard operator domain \\(com.evil\\)"),
    "custom opset": (_custom_opset, "non-standard operator domain \\(com.evil\\)"),
    "local function": (_local_function, "non-standard operator domain \\(local functions\\)"),
    "external file": (lambda onnx: _external("other.bin"), "external data other than its weights"),
    "no location": (lambda onnx: _external(""), "external data other than its weights"),
    "huge dimension": (_huge_dim, "absurd dimension \\(1000000000\\)"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", ["forward", "gradient"])
def test_hostile_graphs_are_refused_as_before(monkeypatch, onnx, demo, case, name):
    contents, card = demo
    make, message = CASES[case]
    data = _edited(onnx, contents.graphs[name], make(onnx))
    args = (name, data, card, contents.runtime, contents.weights, "x.ddbundle")
    now, before = _before_and_now(monkeypatch, onnx, *args)
    assert now == before
    assert now[0] == "refused"
    with pytest.raises(BundleError, match=f"^x.ddbundle: the {name} graph .*{message}"):
        check_graph(*args)


@pytest.mark.parametrize("name", ["forward", "gradient"])
def test_truncated_graphs_are_refused_as_before(monkeypatch, onnx, demo, name):
    """Cut anywhere (or given a stray byte): refused, with the message refused before. A cut
    between two fields leaves a valid, shorter message, refused for what it lacks."""
    contents, card = demo
    whole = contents.graphs[name]
    cuts = [*range(1, 40), *range(40, len(whole), max(1, len(whole) // 97))]
    damaged = 0
    for data in [whole[:cut] for cut in cuts] + [whole[:-1], whole[:-7], whole + b"\xff"]:
        args = (name, data, card, contents.runtime, contents.weights, "x.ddbundle")
        now, before = _before_and_now(monkeypatch, onnx, *args)
        assert now == before and now[0] == "refused"
        damaged += now[1] == f"x.ddbundle: the {name} graph is damaged (DecodeError)"
    assert damaged > len(cuts) // 2


@pytest.mark.parametrize("data", [b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f", bytearray(b"\x00")])
def test_garbage_is_refused_as_before(monkeypatch, onnx, demo, data):
    contents, card = demo
    args = ("forward", data, card, contents.runtime, contents.weights, "x.ddbundle")
    now, before = _before_and_now(monkeypatch, onnx, *args)
    assert now == before and now[0] == "refused" and "graph is damaged" in now[1]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_graphs_pass_as_before(monkeypatch, onnx, path):
    contents, card = read_bundle(path), read_header(path).card
    for name, data in contents.graphs.items():
        args = (name, data, card, contents.runtime, contents.weights, path.name)
        now, before = _before_and_now(monkeypatch, onnx, *args)
        assert now == before
        assert now[0] == "ok" and now[1] and set(now[1]) <= set(contents.weights)


def test_a_damaged_graph_is_refused_without_onnx(demo):
    """Runs in the runtime-only install too: truncation and a foreign location, read by the subset."""
    contents, card = demo
    data = contents.graphs["forward"]
    with pytest.raises(BundleError, match=r"^x\.ddbundle: the forward graph is damaged \("):
        check_graph("forward", data[:-3], card, contents.runtime, contents.weights, "x.ddbundle")
    model = onnx_proto.parse_model(data)
    init = next(i for i in model.graph.initializer if i.data_location == onnx_proto.EXTERNAL)
    entry = next(e for e in init.external_data if e.key == "location")
    assert entry.value == WEIGHTS_LOCATION
    entry.value = "/etc/passwd"
    with pytest.raises(BundleError, match="external data other than its weights"):
        check_graph(
            "forward",
            model.SerializeToString(),
            card,
            contents.runtime,
            contents.weights,
            "x.ddbundle",
        )


# --- the runtime never imports onnx -------------------------------------------------------------


def test_loading_a_bundle_never_imports_onnx():
    code = (
        "import sys\n"
        "from dysmorph_desk.bundles.format import load_bundle, resolve_bundle\n"
        "b = load_bundle(resolve_bundle('demo-hybrid').path)\n"
        "assert 'dysmorph_desk.bundles.onnx_proto' in sys.modules, 'the graphs were not checked'\n"
        "assert 'onnxruntime' in sys.modules\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'onnx', 'onnxscript', 'onnx_ir'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


# --- ONNX Runtime's own (flatbuffer) format never gets past the checks --------------------------

ORT_PREFIX = b"\x0a\x06\x00\x00ORTM"  # an unknown protobuf field whose bytes 4-8 read "ORTM"


def test_bytes_marked_as_ort_format_are_refused(demo):
    """ORT loads bytes with "ORTM" at offset 4 as its flatbuffer format, which check_graph never
    reads: refused, although the rest parses as the demo graph."""
    contents, card = demo
    data = ORT_PREFIX + contents.graphs["forward"]
    assert onnx_proto.parse_model(data).graph.node  # the subset alone would have accepted it
    with pytest.raises(BundleError, match="forward graph is not an ONNX graph \\(ORT format\\)"):
        check_graph("forward", data, card, contents.runtime, contents.weights, "x.ddbundle")


def test_sessions_load_bytes_as_onnx_only(onnx):
    """And the sessions never take the ORT format path, should bytes get past the check."""
    import onnxruntime as ort

    from dysmorph_desk.bundles.sessions import session_options

    h = onnx.helper
    x = h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = h.make_graph([h.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    data = ORT_PREFIX + model.SerializeToString()
    opts = session_options(1)
    assert opts.get_session_config_entry("session.load_model_format") == "ONNX"
    session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    assert session.run(None, {"x": np.ones(1, np.float32)})[0].tolist() == [1.0]
    with pytest.raises(Exception, match="ORT model verification failed"):  # read as ORT format
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])

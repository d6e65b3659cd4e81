"""The part of ONNX's protobuf schema that ``check_graph`` reads, without the ``onnx`` package.

The runtime (what a clinic installs) only needs to look at a bundle's graph before ONNX Runtime
loads it: operator domains, local functions, initializers (shape, external data) and the inputs,
outputs and value infos with their shapes. Those messages are declared here with
``descriptor_pb2`` and turned into classes by the ``protobuf`` runtime, which ONNX Runtime depends
on anyway; ``onnx`` itself (~30 MB installed, ~7 MB in the frozen app) is needed only by the
exporter, on the training side.

Every field keeps the number, type and label it has in ``onnx/onnx-ml.proto`` (proto2, ONNX 1.23;
``onnx.proto`` is the same schema), so the bytes parse exactly as ``onnx.load_from_string`` parses
them; fields not declared here are skipped as unknown fields. Members of a ``oneof`` are all
declared (as empty messages where their content is not read), so that a later member clears an
earlier one as it does in ONNX. The file has its own package, ``dysmorph_desk.onnx_subset``, so its
names never clash with ``onnx``'s own descriptors when both are imported in one process (training,
tests). ``tests/bundles/test_onnx_subset.py`` checks the subset reads what ``onnx`` reads.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

PACKAGE = "dysmorph_desk.onnx_subset"
EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_STRING, _INT64, _INT32 = _F.TYPE_STRING, _F.TYPE_INT64, _F.TYPE_INT32
_MESSAGE, _ENUM = _F.TYPE_MESSAGE, _F.TYPE_ENUM

# message -> [(field name, number, label, type, message or enum type name, oneof name)], as in
# onnx-ml.proto. Only what check_graph reads (including every place a tensor or a subgraph can
# hide: node attributes, sparse initializers, training info), plus the other members of the oneofs
# it reads.
_MESSAGES: dict[str, list[tuple[str, int, int, int, str, str]]] = {
    "ModelProto": [
        ("opset_import", 8, _REPEATED, _MESSAGE, "OperatorSetIdProto", ""),
        ("graph", 7, _OPTIONAL, _MESSAGE, "GraphProto", ""),
        ("functions", 25, _REPEATED, _MESSAGE, "FunctionProto", ""),
        ("training_info", 20, _REPEATED, _MESSAGE, "TrainingInfoProto", ""),
    ],
    "OperatorSetIdProto": [("domain", 1, _OPTIONAL, _STRING, "", "")],
    "FunctionProto": [],  # only counted: a bundle's graph may carry none
    "TrainingInfoProto": [],  # only counted: a screening graph carries none
    "GraphProto": [
        ("node", 1, _REPEATED, _MESSAGE, "NodeProto", ""),
        ("initializer", 5, _REPEATED, _MESSAGE, "TensorProto", ""),
        ("input", 11, _REPEATED, _MESSAGE, "ValueInfoProto", ""),
        ("output", 12, _REPEATED, _MESSAGE, "ValueInfoProto", ""),
        ("value_info", 13, _REPEATED, _MESSAGE, "ValueInfoProto", ""),
        ("sparse_initializer", 15, _REPEATED, _MESSAGE, "SparseTensorProto", ""),
    ],
    "NodeProto": [
        ("domain", 7, _OPTIONAL, _STRING, "", ""),
        ("attribute", 5, _REPEATED, _MESSAGE, "AttributeProto", ""),
    ],
    # where else a graph can hold tensors (which could point at external files) and subgraphs
    "AttributeProto": [
        ("name", 1, _OPTIONAL, _STRING, "", ""),
        ("t", 5, _OPTIONAL, _MESSAGE, "TensorProto", ""),
        ("g", 6, _OPTIONAL, _MESSAGE, "GraphProto", ""),
        ("tensors", 10, _REPEATED, _MESSAGE, "TensorProto", ""),
        ("graphs", 11, _REPEATED, _MESSAGE, "GraphProto", ""),
        ("sparse_tensor", 22, _OPTIONAL, _MESSAGE, "SparseTensorProto", ""),
        ("sparse_tensors", 23, _REPEATED, _MESSAGE, "SparseTensorProto", ""),
    ],
    "SparseTensorProto": [
        ("values", 1, _OPTIONAL, _MESSAGE, "TensorProto", ""),
        ("indices", 2, _OPTIONAL, _MESSAGE, "TensorProto", ""),
    ],
    "TensorProto": [
        ("dims", 1, _REPEATED, _INT64, "", ""),
        ("name", 8, _OPTIONAL, _STRING, "", ""),
        ("external_data", 13, _REPEATED, _MESSAGE, "StringStringEntryProto", ""),
        ("data_location", 14, _OPTIONAL, _ENUM, "TensorProto.DataLocation", ""),
    ],
    "StringStringEntryProto": [
        ("key", 1, _OPTIONAL, _STRING, "", ""),
        ("value", 2, _OPTIONAL, _STRING, "", ""),
    ],
    "ValueInfoProto": [
        ("name", 1, _OPTIONAL, _STRING, "", ""),
        ("type", 2, _OPTIONAL, _MESSAGE, "TypeProto", ""),
    ],
    "TypeProto": [
        ("tensor_type", 1, _OPTIONAL, _MESSAGE, "TypeProto.Tensor", "value"),
        ("sequence_type", 4, _OPTIONAL, _MESSAGE, "TypeProto.Other", "value"),
        ("map_type", 5, _OPTIONAL, _MESSAGE, "TypeProto.Other", "value"),
        ("opaque_type", 7, _OPTIONAL, _MESSAGE, "TypeProto.Other", "value"),
        ("sparse_tensor_type", 8, _OPTIONAL, _MESSAGE, "TypeProto.Other", "value"),
        ("optional_type", 9, _OPTIONAL, _MESSAGE, "TypeProto.Other", "value"),
    ],
    "TypeProto.Tensor": [
        ("elem_type", 1, _OPTIONAL, _INT32, "", ""),
        ("shape", 2, _OPTIONAL, _MESSAGE, "TensorShapeProto", ""),
    ],
    "TypeProto.Other": [],  # sequence, map, opaque, sparse tensor, optional: not read
    "TensorShapeProto": [("dim", 1, _REPEATED, _MESSAGE, "TensorShapeProto.Dimension", "")],
    "TensorShapeProto.Dimension": [
        ("dim_value", 1, _OPTIONAL, _INT64, "", "value"),
        ("dim_param", 2, _OPTIONAL, _STRING, "", "value"),
    ],
}
# TensorProto.DataLocation: a closed proto2 enum, as in ONNX (an unknown value reads as DEFAULT)
_ENUMS = {"TensorProto.DataLocation": [("DEFAULT", 0), ("EXTERNAL", EXTERNAL)]}


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="dysmorph_desk/onnx_subset.proto", package=PACKAGE, syntax="proto2"
    )
    protos: dict[str, descriptor_pb2.DescriptorProto] = {}
    for path in _MESSAGES:  # parents come before their nested messages
        parent, _, leaf = path.rpartition(".")
        container = protos[parent].nested_type if parent else file.message_type
        protos[path] = container.add(name=leaf)
    for path, values in _ENUMS.items():
        parent, _, leaf = path.rpartition(".")
        enum = protos[parent].enum_type.add(name=leaf)
        for name, number in values:
            enum.value.add(name=name, number=number)
    for path, fields in _MESSAGES.items():
        message = protos[path]
        oneofs: list[str] = []
        for name, number, label, kind, type_name, oneof in fields:
            field = message.field.add(name=name, number=number, label=label, type=kind)
            if type_name:
                field.type_name = f".{PACKAGE}.{type_name}"
            if oneof:
                if oneof not in oneofs:
                    oneofs.append(oneof)
                    message.oneof_decl.add(name=oneof)
                field.oneof_index = oneofs.index(oneof)
    return file


_pool = descriptor_pool.DescriptorPool()  # a private pool: nothing else can register these names
_pool.Add(_file())
ModelProto: Any = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName(f"{PACKAGE}.ModelProto")
)


def parse_model(data: bytes) -> Any:
    """A ``ModelProto`` (the subset) parsed from a serialized ONNX model.

    Raises ``DecodeError`` where ``onnx.load_from_string`` does (bytes that are not a protobuf
    message, or not all consumed) and ``TypeError`` for anything but ``bytes``, as it does.
    """
    if not isinstance(data, bytes):
        raise TypeError(f"Parameter 'serialized' must be bytes, but got type: {type(data)}")
    model = ModelProto()
    decoded = model.ParseFromString(data)
    if decoded is not None and decoded != len(data):
        raise DecodeError(f"Protobuf decoding consumed too few bytes: {decoded} out of {len(data)}")
    return model

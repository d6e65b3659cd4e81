"""The exported ONNX graphs' post-processing: optimisation, checks, and stripping the weights."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

WEIGHTS_LOCATION = "dd-bundle:weights"  # the external-data location of every stripped weight
_STANDARD_DOMAINS = {"", "ai.onnx", "ai.onnx.ml"}


def finish(model: Any) -> onnx.ModelProto:
    """Optimise an exported ``onnx_ir`` model and check it needs nothing but standard ONNX.

    Not the exporter's own optimiser: its pattern rewriter's matching grows with the square of the
    graph (three minutes on the unrolled LSTM gradient graphs), and the one rule of it that matters
    on a CPU, folding BatchNorm into the convolution, ONNX Runtime applies when it loads the session.
    Constant folding cannot reach a weight: weights are graph inputs at this point. Metadata (the
    torch program, stack traces, module scopes) goes: it can double a graph's size.
    """
    import onnx_ir as ir
    from onnx import inliner
    from onnx_ir.passes import common
    from onnxscript import optimizer

    optimizer.inline(model)
    optimizer.fold_constants(model)
    ir.passes.Sequential(
        common.IdentityEliminationPass(),
        common.RemoveUnusedNodesPass(),
        common.CommonSubexpressionEliminationPass(),
        common.RemoveUnusedNodesPass(),
        common.RemoveUnusedOpsetsPass(),
        common.ClearMetadataAndDocStringPass(),
    )(model)
    proto = ir.serde.serialize_model(model)
    del proto.metadata_props[:]
    if proto.functions:  # torchlib helpers as local functions: the runtime takes none
        proto = inliner.inline_local_functions(proto)
    foreign = {n.domain for n in proto.graph.node} - _STANDARD_DOMAINS
    if foreign or proto.functions:
        raise RuntimeError(f"exported graph needs non-standard domains {sorted(foreign)}")
    _name_batch_axis(proto)
    return proto


def _name_batch_axis(proto: onnx.ModelProto) -> None:
    """The exporter names a dynamic axis after its symbol (``s21``): call the batch axis N."""
    first = proto.graph.input[0].type.tensor_type.shape.dim[0]
    if not first.dim_param:
        return  # the gradient graph: batch of one
    symbol = first.dim_param
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param == symbol:
                dim.dim_param = "N"


def strip_weights(proto: onnx.ModelProto, weights: dict[str, np.ndarray]) -> int:
    """Turn the weight inputs into external initializers; return the bytes left embedded.

    A weight input becomes an initializer with ``data_location = EXTERNAL`` at ``WEIGHTS_LOCATION``
    (offset 0, its length): ONNX Runtime resolves such a reference from the arrays given to
    ``add_external_initializers`` and refuses to load without them. Should the exporter have
    embedded a copy of a weight after all, the copy is dropped and its uses read the weight. A
    large constant of one repeated value (the zero-filled buffers of some backward ops) becomes a
    ``ConstantOfShape``. What is left embedded is counted, ``Constant`` nodes included.
    """
    import onnx
    from onnx import numpy_helper

    graph = proto.graph
    used = [i.name for i in graph.input if i.name in weights]
    inputs = [i for i in graph.input if i.name not in weights]
    del graph.input[:]
    graph.input.extend(inputs)
    renames: dict[str, str] = {}
    embedded, splats = [], []
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        twin = _find_twin(array, weights)
        if twin is not None:
            renames[init.name] = twin
            used.append(twin)
        elif array.size >= 64 and (array == array.flat[0]).all():
            shape = numpy_helper.from_array(np.array(array.shape, np.int64), f"{init.name}_shape")
            fill = numpy_helper.from_array(array.reshape(-1)[:1])
            splats.append(
                onnx.helper.make_node("ConstantOfShape", [shape.name], [init.name], value=fill)
            )
            embedded.append(shape)
        else:
            embedded.append(init)
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renames.get(name, name)
    nodes = [*splats, *graph.node]  # ConstantOfShape first: the graph stays in topological order
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(embedded)
    for name in dict.fromkeys(used):
        array = weights[name]
        tensor = onnx.TensorProto(name=name, data_type=onnx.TensorProto.FLOAT, dims=array.shape)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", WEIGHTS_LOCATION), ("offset", 0), ("length", array.nbytes)):
            tensor.external_data.add(key=key, value=str(value))
        graph.initializer.append(tensor)
    tensor_attr = onnx.AttributeProto.TENSOR
    constants = [a.t for n in graph.node for a in n.attribute if a.type == tensor_attr]
    return sum(numpy_helper.to_array(t).nbytes for t in [*embedded, *constants])


def _find_twin(array: np.ndarray, weights: dict[str, np.ndarray]) -> str | None:
    """The weight ``array`` is a copy of, if any (same shape and bytes; scalars never count)."""
    if array.size <= 1 or array.dtype != np.float32:
        return None
    digest = hashlib.sha1(np.ascontiguousarray(array).tobytes()).digest()
    for name, weight in weights.items():
        if weight.shape == array.shape:
            other = np.ascontiguousarray(weight, dtype=np.float32)
            if hashlib.sha1(other.tobytes()).digest() == digest:
                return name
    return None


def external_names(graph: bytes) -> list[str]:
    """The names of a serialised graph's external initializers: the weights it must be fed."""
    import onnx

    proto = onnx.load_from_string(graph)
    external = onnx.TensorProto.EXTERNAL
    return [t.name for t in proto.graph.initializer if t.data_location == external]

"""Export a registered architecture to two weight-free ONNX graphs for the ONNX Runtime screener.

The screening side runs without torch: a ``forward`` graph gives logits, the Grad-CAM layer's
activations and an L2-normalised embedding for a batch; a ``gradient`` graph gives, for one image
and a one-hot class, the gradient of that class score with respect to the same activations (what
Grad-CAM weights channels by). Neither graph holds a weight: every weight is an initializer named by
its ``state_dict`` key whose data lives "elsewhere" (``WEIGHTS_LOCATION``), so a bundle stores each
tensor once and the runtime feeds the same arrays to both sessions through
``SessionOptions.add_external_initializers``.

Two tracing routes, because one does not fit both graphs:

* forward: ``torch.onnx.export(dynamo=True)`` of the model with a dynamic batch axis. It keeps
  ``aten.lstm`` as one ONNX ``LSTM`` op, so the recurrent models stay compact and fast.
* gradient: ``torch.autograd.grad`` cannot be exported directly (``torch.export`` of a ``vjp``
  fails), so the backward pass is first traced into plain aten ops with ``make_fx`` and that graph
  is exported. ``nn.LSTM``'s backward has no ONNX translation (on the CPU it is MKLDNN's RNN
  kernel; decomposed, it gives a zero-filled scatter per step), so while tracing every LSTM runs an
  unrolled step-by-step version of the same maths (``_unrolled_lstm``). Two backward ops VGG needs
  have no translation either; ``_backward_decompositions`` writes them as forward ops.

Weights enter both traces as explicit graph inputs (``torch.func.functional_call``), never as
module parameters: the exporter's optimiser can then neither fold BatchNorm into a convolution nor
constant-fold a transposed or re-ordered copy of a weight, so each weight reaches the graph as the
original tensor under its own name. ``_strip_weights`` then turns those inputs into external
initializers.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest import mock

import numpy as np

if TYPE_CHECKING:
    import onnx
    import onnxruntime
    import torch
    from torch import nn

    from dysmorph_desk.nets import ArchSpec

WEIGHTS_LOCATION = "dd-bundle:weights"
OPSET = 18  # torchlib's own opset: no version conversion after export (the contract asks >= 17)
_STANDARD_DOMAINS = {"", "ai.onnx", "ai.onnx.ml"}
FORWARD_OUTPUTS = ("logits", "activations", "embedding")
GRADIENT_OUTPUTS = ("logits", "activations", "gradients")


@dataclass(frozen=True)
class ExportedGraphs:
    """The two graphs of one model and the shapes the runtime needs to allocate and check."""

    forward: bytes  # ONNX ModelProto: image [N,3,S,S] -> logits, activations, embedding
    gradient: (
        bytes  # ONNX ModelProto: image [1,3,S,S], onehot [1,C] -> logits, activations, gradients
    )
    input_size: int
    num_classes: int
    activation_shape: tuple[int, ...]  # the target layer's output for one image, no batch axis
    embedding_size: int
    extra_initializer_bytes: int  # constants left embedded in both graphs together (not weights)


def graph_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """The arrays the runtime feeds, by ``state_dict`` key: float parameters and buffers as float32.

    Integer buffers (BatchNorm's ``num_batches_tracked``) only matter in training and are left out.
    A tensor registered under two names (tied weights) appears once, under its first name, as
    ``named_parameters`` lists it; the graphs reference that name.
    """
    return {name: t.detach().cpu().float().numpy() for name, t in _weight_tensors(model).items()}


def _weight_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = dict(model.named_parameters())
    found.update((n, b) for n, b in model.named_buffers() if b.is_floating_point())
    order = {name: i for i, name in enumerate(model.state_dict())}
    return {n: found[n] for n in sorted(found, key=lambda n: order.get(n, len(order)))}


@contextlib.contextmanager
def _capture(model: nn.Module, spec: ArchSpec, grad: bool) -> Iterator[dict[str, Any]]:
    """Hooks that record the target layer's output and the final classifier's input.

    As ``explain.cam.grad_cam`` does: the layer's output is cut into a fresh leaf (``grad``) so
    the gradient stops there, and a clone of it flows on; the clone's values after the forward pass
    are the activations, so a downstream in-place op (DenseNet's ReLU after ``features``) is
    included, exactly as the torch path computes its heatmaps.
    """
    captured: dict[str, Any] = {}

    def on_target(module: nn.Module, inputs: Any, output: Any) -> Any:
        if "out" in captured or not hasattr(output, "detach"):
            return None  # the first call is the one explained
        source = output.detach().requires_grad_(True) if grad else output
        captured["leaf"] = source
        captured["out"] = source.clone()
        return captured["out"]

    def on_head(module: nn.Module, inputs: Any) -> None:
        captured.setdefault("embedding", inputs[0])

    if spec.head_layer is None:
        raise ValueError(f"architecture {spec.name!r} has no head_layer for the embedding")
    handles = [
        spec.target_layer(model).register_forward_hook(on_target),
        spec.head_layer(model).register_forward_pre_hook(on_head),
    ]
    try:
        yield captured
    finally:
        for h in handles:
            h.remove()


def _run(
    model: nn.Module,
    spec: ArchSpec,
    image: torch.Tensor,
    onehot: torch.Tensor | None,
    weights: dict[str, torch.Tensor] | None,
) -> dict[str, torch.Tensor]:
    """One pass with the hooks: what both graphs compute, in torch (traced or eager)."""
    import torch
    from torch.nn import functional as F

    with (
        _capture(model, spec, grad=onehot is not None) as cap,
        torch.set_grad_enabled(onehot is not None),
    ):
        if weights is None:
            logits = model(image)
        else:
            logits = torch.func.functional_call(model, weights, (image,), strict=False)
        if "out" not in cap or "embedding" not in cap:
            raise RuntimeError(f"{spec.name}: the target or head layer was not used")
        out = {"logits": logits.detach(), "activations": cap["out"].detach()}
        if onehot is None:
            out["embedding"] = F.normalize(cap["embedding"].flatten(1), dim=1)
        else:
            (grads,) = torch.autograd.grad((logits * onehot).sum(), cap["leaf"], allow_unused=True)
            out["gradients"] = torch.zeros_like(cap["leaf"]) if grads is None else grads
    return out


def run_reference(
    model: nn.Module, arch: str, image: np.ndarray, onehot: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Eager torch, eval mode: ``logits``, ``activations``, ``embedding`` and, with ``onehot``,
    ``gradients`` (of ``sum(logits * onehot)``) — what the graphs must reproduce.

    Runs in the model's own dtype and device: a float64 copy of the model gives a near-exact
    reference, which tells apart an export error from float32 rounding.
    """
    import torch

    from dysmorph_desk.nets import get_arch

    spec = get_arch(arch)
    first = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        x = torch.as_tensor(image).to(first.device, first.dtype)
        out = {k: v.cpu().numpy() for k, v in _run(model, spec, x, None, None).items()}
        if onehot is not None:
            oh = torch.as_tensor(onehot).to(first.device, first.dtype)
            out["gradients"] = _run(model, spec, x, oh, None)["gradients"].cpu().numpy()
    finally:
        model.train(was_training)
    return out


def export_graphs(model: nn.Module, arch: str, num_classes: int) -> ExportedGraphs:
    """Export ``model`` (an instance of registered ``arch``) to the forward and gradient graphs.

    The model is copied to the CPU in float32 and eval mode (BatchNorm running statistics, no
    dropout); the caller's model is not touched. Weights are stripped from both graphs (see the
    module docstring): feed them from ``graph_weights(model)``.

    Args:
        model: a model built by ``create_model(arch, num_classes)``, trained or not.
        arch: its registered architecture name (gives the input size, the Grad-CAM layer and the
            classifier whose input is the embedding).
        num_classes: the classifier's number of outputs (checked against the model).

    Returns:
        The two serialised graphs with the shapes of their outputs.

    Raises:
        ValueError: the model's logits are not ``num_classes`` wide, or a graph would embed more
            than ``max(64 KiB, 2 %)`` of the weights' size (a transformed copy of a weight).

    Example:
        >>> model = create_model("resnet18", 2)
        >>> graphs = export_graphs(model, "resnet18", 2)
        >>> weights = graph_weights(model)
        >>> session = ort_session(graphs.forward, weights)
        >>> logits, acts, emb = session.run(None, {"image": image})  # image: (N, 3, 224, 224)
    """
    import torch

    from dysmorph_desk.nets import get_arch

    spec = get_arch(arch)
    model = copy.deepcopy(model).cpu().float().eval()
    tensors = {n: t.detach() for n, t in _weight_tensors(model).items()}
    size = spec.input_size
    image = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        probe = _run(model, spec, torch.randn(2, 3, size, size), None, tensors)
    if probe["logits"].shape != (2, num_classes):
        raise ValueError(f"{arch}: logits {tuple(probe['logits'].shape)}, not (N, {num_classes})")
    onehot = torch.zeros(1, num_classes)
    onehot[0, 0] = 1.0
    # No stack traces on the traced nodes: collecting them takes a third of the export time, and
    # nothing here reads them.
    with (
        warnings.catch_warnings(),
        mock.patch.object(torch.fx.config, "do_not_emit_stack_traces", True),
    ):
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracing chatter
        forward = _export_forward(model, spec, tensors, torch.cat([image, image]))
        gradient = _export_gradient(model, spec, tensors, image, onehot)
    weights = {n: t.numpy() for n, t in tensors.items()}
    extra = _strip_weights(forward, weights) + _strip_weights(gradient, weights)
    limit = max(64 * 1024, sum(a.nbytes for a in weights.values()) // 50)
    if extra > limit:
        raise ValueError(f"{arch}: {extra} bytes of constants left in the graphs (limit {limit})")
    return ExportedGraphs(
        forward=forward.SerializeToString(),
        gradient=gradient.SerializeToString(),
        input_size=size,
        num_classes=num_classes,
        activation_shape=tuple(probe["activations"].shape[1:]),
        embedding_size=int(probe["embedding"].shape[1]),
        extra_initializer_bytes=extra,
    )


class _Traced:
    """Calls a traced callable without registering it (or the model) as a submodule: otherwise
    ``torch.export`` would lift the model's own parameters into embedded initializers."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn


def _export_forward(
    model: nn.Module, spec: ArchSpec, tensors: dict[str, torch.Tensor], image: torch.Tensor
) -> onnx.ModelProto:
    import torch

    names = list(tensors)

    def forward(image: torch.Tensor, weights: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        out = _run(model, spec, image, None, dict(zip(names, weights, strict=True)))
        return tuple(out[k] for k in FORWARD_OUTPUTS)

    proto = _onnx_export(
        forward,
        (image, list(tensors.values())),
        ["image", *names],
        FORWARD_OUTPUTS,
        dynamic_shapes={"inputs": ({0: torch.export.Dim("N")}, [None] * len(names))},
    )
    # the exporter names the batch axis after its symbol ("s21"): call it N where it shows
    symbol = proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param == symbol:
                dim.dim_param = "N"
    return proto


def _export_gradient(
    model: nn.Module,
    spec: ArchSpec,
    tensors: dict[str, torch.Tensor],
    image: torch.Tensor,
    onehot: torch.Tensor,
) -> onnx.ModelProto:
    from torch._decomp import core_aten_decompositions
    from torch.fx.experimental.proxy_tensor import make_fx

    names = list(tensors)

    def gradient(
        image: torch.Tensor, onehot: torch.Tensor, weights: list[torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        out = _run(model, spec, image, onehot, dict(zip(names, weights, strict=True)))
        return tuple(out[k] for k in GRADIENT_OUTPUTS)

    table = {**core_aten_decompositions(), **_backward_decompositions()}
    args = (image, onehot, list(tensors.values()))
    with _unrolled_lstms(model):
        traced = make_fx(gradient, decomposition_table=table)(*args)
    return _onnx_export(traced, args, ["image", "onehot", *names], GRADIENT_OUTPUTS)


def _onnx_export(
    fn: Any,
    args: tuple[Any, ...],
    input_names: list[str],
    output_names: tuple[str, ...],
    dynamic_shapes: Any = None,
) -> onnx.ModelProto:
    import onnx
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.traced = _Traced(fn)

        def forward(self, *inputs: Any) -> Any:
            return self.traced.fn(*inputs)

    program = torch.onnx.export(
        Wrapper(),
        args,
        dynamo=True,
        input_names=input_names,
        output_names=list(output_names),
        dynamic_shapes=dynamic_shapes,
        opset_version=OPSET,
        optimize=False,
        verbose=False,
    )
    assert program is not None
    _optimize(program.model)
    proto = program.model_proto
    if proto.functions:  # torchlib helpers exported as local functions: the runtime wants none
        proto = onnx.inliner.inline_local_functions(proto)
    foreign = {n.domain for n in proto.graph.node} - _STANDARD_DOMAINS
    if foreign or proto.functions:
        raise RuntimeError(f"exported graph uses non-standard domains {sorted(foreign)}")
    return proto


def _optimize(model: Any) -> None:
    """The exporter's optimiser without its pattern rewriter.

    The rewriter's matching grows with the square of the graph (three minutes on the unrolled
    LSTM gradient graphs) and its one rule that matters on a CPU, folding BatchNorm into the
    convolution, is what ONNX Runtime does anyway when it loads the session. Constant folding
    cannot touch a weight: weights are graph inputs here.
    """
    import onnx_ir as ir
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
    )(model)


def _strip_weights(proto: onnx.ModelProto, weights: dict[str, np.ndarray]) -> int:
    """Turn the weight inputs into external initializers; return the bytes left embedded.

    A weight input becomes an initializer with ``data_location = EXTERNAL`` at ``WEIGHTS_LOCATION``
    (offset 0, its length): ONNX Runtime resolves such a reference from the arrays given to
    ``add_external_initializers`` and refuses to load without them. An embedded initializer whose
    values equal a weight (a lifted copy) is dropped and its uses renamed to the weight.
    """
    import onnx
    from onnx import numpy_helper

    graph = proto.graph
    keep = [i for i in graph.input if i.name not in weights]
    used = [i.name for i in graph.input if i.name in weights]
    del graph.input[:]
    graph.input.extend(keep)
    by_value = {_fingerprint(a): n for n, a in weights.items()}
    renames: dict[str, str] = {}
    embedded, splats = [], []
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        twin = by_value.get(_fingerprint(array)) if array.size > 1 else None
        if twin is not None and np.array_equal(array, weights[twin]):
            renames[init.name] = twin
            used.append(twin)
        elif array.size >= 64 and (array == array.flat[0]).all():
            # zero-filled gradient buffers (the LSTM backward's): built at run time instead
            shape = numpy_helper.from_array(np.array(array.shape, np.int64), f"{init.name}_shape")
            embedded.append(shape)
            value = numpy_helper.from_array(array.flatten()[:1])
            splats.append(
                onnx.helper.make_node("ConstantOfShape", [shape.name], [init.name], value=value)
            )
        else:
            embedded.append(init)
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renames.get(name, name)
    del graph.initializer[:]
    graph.initializer.extend(embedded)
    if splats:
        nodes = [*splats, *graph.node]
        del graph.node[:]
        graph.node.extend(nodes)
    for name in dict.fromkeys(used):
        array = weights[name]
        tensor = onnx.TensorProto(name=name, data_type=onnx.TensorProto.FLOAT, dims=array.shape)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", WEIGHTS_LOCATION), ("offset", 0), ("length", array.nbytes)):
            tensor.external_data.add(key=key, value=str(value))
        graph.initializer.append(tensor)
    constants = sum(
        len(a.t.raw_data) for n in graph.node if n.op_type == "Constant" for a in n.attribute
    )
    return sum(numpy_helper.to_array(t).nbytes for t in embedded) + constants


def _fingerprint(array: np.ndarray) -> tuple[Any, ...]:
    array = np.ascontiguousarray(array, dtype=np.float32)
    return (array.shape, hashlib.sha1(array.tobytes()).hexdigest())


def ort_session(
    graph: bytes, weights: dict[str, np.ndarray], threads: int = 1
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session for ``graph``, its external weights fed from ``weights``.

    Only the names the graph references are fed. The arrays are kept alive with the session:
    ONNX Runtime reads them in place rather than copying.
    """
    import onnx
    import onnxruntime as ort

    proto = onnx.load_from_string(graph)
    names = [
        t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
    ]
    missing = [n for n in names if n not in weights]
    if missing:
        raise KeyError(f"weights missing for {missing[:5]}")
    arrays = [np.ascontiguousarray(weights[n], dtype=np.float32) for n in names]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_external_initializers(names, [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays])
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    session._dd_weights = arrays  # type: ignore[attr-defined]
    return session


def _backward_decompositions() -> dict[Any, Any]:
    """Backward ops without an ONNX translation, written as forward ops (VGG's two)."""
    import torch

    aten = torch.ops.aten

    def adaptive_avg_pool2d_backward(grad: torch.Tensor, x: torch.Tensor) -> Any:
        (ih, iw), (oh, ow) = x.shape[-2:], grad.shape[-2:]
        if (ih, iw) == (oh, ow):
            return grad.clone()  # VGG's 7x7 -> 7x7 pool is an identity
        if ih % oh or iw % ow:
            return NotImplemented  # overlapping windows: leave it to the default
        kh, kw = ih // oh, iw // ow  # equal windows: spread each gradient over its window
        spread = grad[..., :, None, :, None].expand(*grad.shape[:-2], oh, kh, ow, kw)
        return spread.reshape(x.shape) / (kh * kw)

    def convolution_backward(
        grad: torch.Tensor,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias_sizes: Any,
        stride: list[int],
        padding: list[int],
        dilation: list[int],
        transposed: bool,
        output_padding: list[int],
        groups: int,
        output_mask: list[bool],
    ) -> Any:
        if transposed or output_mask[1] or output_mask[2]:
            return NotImplemented  # only the input gradient is ever asked for here
        # the input gradient of a convolution is the transposed convolution of the gradient
        spatial = range(2, x.dim())
        extra = [
            x.shape[d]
            - ((grad.shape[d] - 1) * stride[d - 2] - 2 * padding[d - 2])
            - dilation[d - 2] * (weight.shape[d] - 1)
            - 1
            for d in spatial
        ]
        gx = aten.convolution(grad, weight, None, stride, padding, dilation, True, extra, groups)
        return gx, None, None

    return {
        aten._adaptive_avg_pool2d_backward.default: adaptive_avg_pool2d_backward,
        aten.convolution_backward.default: convolution_backward,
    }


@contextlib.contextmanager
def _unrolled_lstms(model: nn.Module) -> Iterator[None]:
    """Run every ``nn.LSTM`` of ``model`` as ``_unrolled_lstm`` while the gradient graph is traced."""
    from torch import nn

    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    for m in lstms:
        m.forward = types.MethodType(_unrolled_lstm, m)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for m in lstms:
            del m.forward


def _unrolled_lstm(self: nn.LSTM, x: torch.Tensor, hx: Any = None) -> Any:
    """``nn.LSTM.forward`` (eval, zero initial state) as per-step tensor ops.

    Autograd of this traces into matrix products and pointwise ops that all translate to ONNX.
    Kept small because the graph holds every step twice (forward and backward): the input
    projection of all steps is one product, both directions of a bidirectional layer run as one
    batched product per step, and steps are split with ``unbind`` and joined with ``stack``, whose
    gradients are each other (indexing would give a zero-filled scatter per step). Reads the
    weights by attribute, so ``functional_call`` substitutes them.
    """
    import torch

    if hx is not None or self.proj_size or x.dim() != 3:
        raise NotImplementedError("only batched input, zero initial state, no projection")
    seq = x.transpose(0, 1) if self.batch_first else x  # (T, B, C)
    directions = 2 if self.bidirectional else 1
    final_h, final_c = [], []
    for layer in range(self.num_layers):
        names = [f"_l{layer}", f"_l{layer}_reverse"][:directions]

        def stacked(kind: str, names: list[str] = names) -> torch.Tensor:
            """(D, 4H, ...) with the gates re-ordered i f g o -> i f o g: one sigmoid, one tanh."""
            i, f, g, o = torch.stack([getattr(self, kind + n) for n in names]).chunk(4, dim=1)
            return torch.cat([i, f, o, g], dim=1)

        w_ih, w_hh = stacked("weight_ih"), stacked("weight_hh")  # (D, 4H, C), (D, 4H, H)
        inputs = torch.stack([seq, seq.flip(0)][:directions])  # (D, T, B, C)
        steps = torch.matmul(inputs, w_ih.transpose(1, 2).unsqueeze(1))  # (D, T, B, 4H)
        if self.bias:
            steps = steps + (stacked("bias_ih") + stacked("bias_hh"))[:, None, None, :]
        h = c = seq.new_zeros(directions, seq.shape[1], self.hidden_size)
        hs = []
        for step in steps.unbind(1):
            gates = step + torch.bmm(h, w_hh.transpose(1, 2))  # (D, B, 4H)
            ifo, g = gates.split([3 * self.hidden_size, self.hidden_size], dim=2)
            i, f, o = torch.sigmoid(ifo).chunk(3, dim=2)
            c = f * c + i * torch.tanh(g)
            h = o * torch.tanh(c)
            hs.append(h)
        out = torch.stack(hs, dim=1).unbind(0)  # D x (T, B, H)
        seq = torch.cat([out[0], out[1].flip(0)], dim=-1) if directions == 2 else out[0]
        final_h.extend(h.unbind(0))
        final_c.extend(c.unbind(0))
    out = seq.transpose(0, 1) if self.batch_first else seq
    return out, (torch.stack(final_h), torch.stack(final_c))

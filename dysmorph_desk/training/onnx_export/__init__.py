"""Export a registered architecture to two weight-free ONNX graphs for the ONNX Runtime screener.

The screening side runs without torch: a ``forward`` graph gives logits, the Grad-CAM layer's
activations and an L2-normalised embedding for a batch; a ``gradient`` graph gives, for one image
and a one-hot class, the gradient of that class score with respect to the same activations (what
Grad-CAM weights channels by). Neither graph holds a weight: every weight is an initializer named by
its ``state_dict`` key whose data lives "elsewhere" (``WEIGHTS_LOCATION``), so a bundle stores each
tensor once and the runtime feeds the same arrays to both sessions through
``SessionOptions.add_external_initializers``.

How (``_trace`` traces, ``_graph`` post-processes):

* forward: ``torch.onnx.export(dynamo=True)`` of the model with a dynamic batch axis. It keeps
  ``aten.lstm`` as one ONNX ``LSTM`` op, so the recurrent models stay compact and fast.
* gradient: ``torch.autograd.grad`` cannot be exported directly (``torch.export`` of a ``vjp``
  fails), so the backward pass is first traced into plain aten ops with ``make_fx`` and that graph
  is exported.
* weights enter both traces as explicit graph inputs (``torch.func.functional_call``), never as
  module parameters: the exporter can then neither fold BatchNorm into a convolution nor
  constant-fold a transposed or re-ordered copy of a weight, so each weight reaches the graph as
  the original tensor under its own name; those inputs then become external initializers.

``run_reference`` computes the same outputs in eager torch and ``ort_session`` opens a graph with
its weights: together they are the parity check (``tests/training/test_onnx_export.py``).
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from unittest import mock

import numpy as np

from dysmorph_desk.training.onnx_export._graph import (
    WEIGHTS_LOCATION,
    external_names,
    strip_weights,
)
from dysmorph_desk.training.onnx_export._trace import (
    export_forward,
    export_gradient,
    run_hooked,
    weight_tensors,
)

if TYPE_CHECKING:
    import onnxruntime
    from torch import nn

__all__ = [
    "WEIGHTS_LOCATION",
    "ExportedGraphs",
    "export_graphs",
    "graph_weights",
    "ort_session",
    "run_reference",
]


@dataclass(frozen=True)
class ExportedGraphs:
    """The two graphs of one model, and the shapes the runtime allocates and checks.

    ``forward``: ONNX ModelProto bytes, input ``image`` [N,3,S,S] -> ``logits`` [N,C],
    ``activations`` [N,*activation_shape], ``embedding`` [N,embedding_size].
    ``gradient``: inputs ``image`` [1,3,S,S] and ``onehot`` [1,C] -> ``logits``, ``activations``
    and ``gradients`` [1,*activation_shape] = d(sum(logits * onehot)) / d(activations).
    ``extra_initializer_bytes``: constants left embedded in the two graphs together (index
    shapes and the like, never a weight).
    """

    forward: bytes
    gradient: bytes
    input_size: int
    num_classes: int
    activation_shape: tuple[int, ...]  # the target layer's output for one image, no batch axis
    embedding_size: int
    extra_initializer_bytes: int


def graph_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """The arrays the runtime feeds, by ``state_dict`` key: float parameters and buffers as float32.

    Integer buffers (BatchNorm's ``num_batches_tracked``) only matter in training and are left out.
    A tensor registered under two names (tied weights) appears once, under its first name, as
    ``named_parameters`` lists it; the graphs reference that name. Arrays of a float32 CPU model
    share its memory (no copy of a 500 MB VGG): copy them if the model trains on.
    """
    return {name: t.detach().cpu().float().numpy() for name, t in weight_tensors(model).items()}


def run_reference(
    model: nn.Module, arch: str, image: np.ndarray, onehot: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Eager torch, eval mode: ``logits``, ``activations``, ``embedding`` and, with ``onehot``,
    ``gradients`` (of ``sum(logits * onehot)``): what the graphs must reproduce.

    Runs in the model's own dtype and device: a float64 copy of the model gives a near-exact
    reference, which tells an export error from float32 rounding.
    """
    import torch

    from dysmorph_desk.nets import get_arch

    spec = get_arch(arch)
    first = next(model.parameters())
    with _eval(model):
        x = torch.as_tensor(image).to(first.device, first.dtype)
        out = {k: v.cpu().numpy() for k, v in run_hooked(model, spec, x).items()}
        if onehot is not None:
            oh = torch.as_tensor(onehot).to(first.device, first.dtype)
            out["gradients"] = run_hooked(model, spec, x, oh)["gradients"].cpu().numpy()
    return out


def export_graphs(model: nn.Module, arch: str, num_classes: int) -> ExportedGraphs:
    """Export ``model`` (an instance of registered ``arch``) to the forward and gradient graphs.

    The graphs compute in float32 on the model in eval mode (BatchNorm running statistics, no
    dropout), whatever its mode, dtype, device or memory format (a channels_last copy from training
    is exported from a contiguous float32 copy); the model is left as it was. Weights are stripped
    from both graphs (see the module docstring): feed them from ``graph_weights(model)``. Takes
    5-60 s on two CPU cores (the recurrent models and DenseNet-201 the longest).

    Args:
        model: a model built by ``create_model(arch, num_classes)``, trained or not.
        arch: its registered architecture name: gives the input size, the Grad-CAM layer and the
            classifier whose input is the embedding.
        num_classes: the classifier's number of outputs (checked against the model).

    Returns:
        The two serialised graphs with the shapes of their outputs.

    Raises:
        ValueError: the model's logits are not ``num_classes`` wide, or the graphs would embed
            more than ``max(64 KiB, 2 %)`` of the weights' size: a transformed copy of a weight
            the stripping missed.

    Example:
        >>> model = create_model("resnet18", 2)  # then train it
        >>> graphs = export_graphs(model, "resnet18", 2)
        >>> weights = graph_weights(model)  # stored once, next to both graphs
        >>> forward = ort_session(graphs.forward, weights)
        >>> logits, activations, embedding = forward.run(None, {"image": batch})
        >>> gradient = ort_session(graphs.gradient, weights)
        >>> _, activations, gradients = gradient.run(None, {"image": one, "onehot": onehot})
    """
    import torch

    from dysmorph_desk.nets import get_arch

    spec = get_arch(arch)
    tensors_in = [*model.parameters(), *model.buffers()]
    if any(
        t.device.type != "cpu"
        or (t.is_floating_point() and t.dtype != torch.float32)
        or not t.is_contiguous()  # channels_last (training's memory format) breaks the gradient graph
        for t in tensors_in
    ):
        model = copy.deepcopy(model).cpu().float().to(memory_format=torch.contiguous_format)
    size = spec.input_size
    image = torch.zeros(1, 3, size, size)
    onehot = torch.zeros(1, num_classes)
    onehot[0, 0] = 1.0
    # No stack traces on the traced nodes: collecting them takes a third of the export time, and
    # nothing here reads them. The exporter's deprecation and tracing chatter is not the caller's.
    with (
        _eval(model),
        warnings.catch_warnings(),
        mock.patch.object(torch.fx.config, "do_not_emit_stack_traces", True),
    ):
        warnings.simplefilter("ignore")
        tensors = {n: t.detach() for n, t in weight_tensors(model).items()}
        with torch.no_grad():
            probe = run_hooked(model, spec, image, weights=tensors)
        if probe["logits"].shape != (1, num_classes):
            raise ValueError(
                f"{arch}: logits {tuple(probe['logits'].shape)}, not (N, {num_classes})"
            )
        forward = export_forward(model, spec, tensors, torch.cat([image, image]))
        gradient = export_gradient(model, spec, tensors, image, onehot)
    weights = {n: t.numpy() for n, t in tensors.items()}
    extra = strip_weights(forward, weights) + strip_weights(gradient, weights)
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


def ort_session(
    graph: bytes, weights: dict[str, np.ndarray], threads: int = 1
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session for ``graph``, its external weights fed from ``weights``.

    Exactly the names the graph references are fed (a session refuses to load without them). The
    arrays stay referenced by the session: ONNX Runtime reads them in place rather than copying.
    """
    import onnxruntime as ort

    names = external_names(graph)
    missing = [n for n in names if n not in weights]
    if missing:
        raise KeyError(f"no weights for {len(missing)} initializers, e.g. {missing[:3]}")
    arrays = [np.ascontiguousarray(weights[n], dtype=np.float32) for n in names]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_external_initializers(names, [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays])
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    session._dd_weights = arrays
    return session


@contextlib.contextmanager
def _eval(model: nn.Module) -> Iterator[None]:
    """Eval mode for the duration, then each module's own mode back (a training loop may keep
    some frozen BatchNorm layers in eval mode)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training

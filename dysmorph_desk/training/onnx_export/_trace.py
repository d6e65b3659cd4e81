"""Tracing a model into the forward and gradient ONNX graphs (weights as graph inputs).

Both graphs compute what ``run_hooked`` computes in eager torch: the hooks that cut out the
Grad-CAM layer's activations and the classifier's input are the same in eager, traced and exported
code, so the graphs, the parity reference and the torch Grad-CAM (``explain.cam.grad_cam``) agree
by construction.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dysmorph_desk.training.onnx_export._graph import finish

if TYPE_CHECKING:
    import onnx
    import torch
    from torch import nn

    from dysmorph_desk.nets import ArchSpec

OPSET = 18  # torchlib's own opset: no version conversion after export (the runtime needs >= 17)
FORWARD_OUTPUTS = ("logits", "activations", "embedding")
GRADIENT_OUTPUTS = ("logits", "activations", "gradients")


def weight_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Float parameters and buffers by name, in ``state_dict`` order, each tensor once."""
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


def run_hooked(
    model: nn.Module,
    spec: ArchSpec,
    image: torch.Tensor,
    onehot: torch.Tensor | None = None,
    weights: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """One pass with the hooks: the graphs' outputs, in torch (eager or being traced).

    Without ``onehot``: logits, activations, embedding. With it: logits, activations, gradients.
    ``weights`` replace the model's own tensors (``functional_call``): how they become graph inputs.
    """
    import torch
    from torch.nn import functional as F

    grad = onehot is not None
    with _capture(model, spec, grad) as cap, torch.set_grad_enabled(grad):
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


def export_forward(
    model: nn.Module, spec: ArchSpec, tensors: dict[str, torch.Tensor], image: torch.Tensor
) -> onnx.ModelProto:
    """The forward graph, batch axis ``N`` dynamic (``image`` is an example batch of 2)."""
    import torch

    names = list(tensors)

    def forward(image: torch.Tensor, weights: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        out = run_hooked(model, spec, image, weights=dict(zip(names, weights, strict=True)))
        return tuple(out[k] for k in FORWARD_OUTPUTS)

    return _onnx_export(
        forward,
        (image, list(tensors.values())),
        ["image", *names],
        FORWARD_OUTPUTS,
        dynamic_shapes={"inputs": ({0: torch.export.Dim("N")}, [None] * len(names))},
    )


def export_gradient(
    model: nn.Module,
    spec: ArchSpec,
    tensors: dict[str, torch.Tensor],
    image: torch.Tensor,
    onehot: torch.Tensor,
) -> onnx.ModelProto:
    """The gradient graph for one image: autograd traced by ``make_fx`` into core aten ops."""
    from torch._decomp import core_aten_decompositions
    from torch.fx.experimental.proxy_tensor import make_fx

    names = list(tensors)

    def gradient(
        image: torch.Tensor, onehot: torch.Tensor, weights: list[torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        weights_by_name = dict(zip(names, weights, strict=True))
        out = run_hooked(model, spec, image, onehot, weights_by_name)
        return tuple(out[k] for k in GRADIENT_OUTPUTS)

    table = {**core_aten_decompositions(), **_backward_decompositions()}
    args = (image, onehot, list(tensors.values()))
    with _unrolled_lstms(model):
        traced = make_fx(gradient, decomposition_table=table)(*args)
    return _onnx_export(traced, args, ["image", "onehot", *names], GRADIENT_OUTPUTS)


class _Unregistered:
    """Holds the traced callable out of ``nn.Module``'s sight: registered (directly or through the
    model it closes over), its parameters would be lifted into embedded initializers."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn


def _onnx_export(
    fn: Any,
    args: tuple[Any, ...],
    input_names: list[str],
    output_names: tuple[str, ...],
    dynamic_shapes: Any = None,
) -> onnx.ModelProto:
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.held = _Unregistered(fn)

        def forward(self, *inputs: Any) -> Any:
            return self.held.fn(*inputs)

    program = torch.onnx.export(
        Wrapper(),
        args,
        dynamo=True,
        input_names=input_names,
        output_names=list(output_names),
        dynamic_shapes=dynamic_shapes,
        opset_version=OPSET,
        optimize=False,  # see _graph.finish
        verbose=False,
    )
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    return finish(program.model)


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
            return NotImplemented  # weights are plain inputs: only the input gradient is asked for
        # the input gradient of a convolution is the transposed convolution of the gradient, its
        # output padding the rows and columns the forward stride dropped
        dropped = [
            x.shape[d]
            - (grad.shape[d] - 1) * stride[d - 2]
            + 2 * padding[d - 2]
            - dilation[d - 2] * (weight.shape[d] - 1)
            - 1
            for d in range(2, x.dim())
        ]
        gx = aten.convolution(grad, weight, None, stride, padding, dilation, True, dropped, groups)
        return gx, None, None

    return {
        aten._adaptive_avg_pool2d_backward.default: adaptive_avg_pool2d_backward,
        aten.convolution_backward.default: convolution_backward,
    }


@contextlib.contextmanager
def _unrolled_lstms(model: nn.Module) -> Iterator[None]:
    """Run every ``nn.LSTM`` of ``model`` as ``_unrolled_lstm`` while the gradient is traced.

    ``nn.LSTM``'s backward has no ONNX translation: on the CPU it is MKLDNN's RNN kernel, and the
    stock decomposition's backward writes each step into a zero-filled copy of the whole sequence
    (a scatter per step: minutes to export, four times slower to run).
    """
    from torch import nn

    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    own = [m.__dict__.get("forward") for m in lstms]
    for m in lstms:
        m.forward = types.MethodType(_unrolled_lstm, m)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for m, forward in zip(lstms, own, strict=True):
            del m.forward
            if forward is not None:
                m.forward = forward  # type: ignore[method-assign]


def _unrolled_lstm(self: nn.LSTM, x: torch.Tensor, hx: Any = None) -> Any:
    """``nn.LSTM.forward`` (eval, zero initial state) as per-step tensor ops.

    Autograd of this traces into matrix products and pointwise ops that all translate to ONNX.
    Kept small because the graph holds every step twice (forward and backward): the input
    projection of all steps is one product, both directions of a bidirectional layer run as one
    batched product per step, gates are re-ordered so one sigmoid and one tanh cover them, and
    steps are split with ``unbind`` and joined with ``stack``, whose gradients are each other.
    Reads the weights by attribute, so ``functional_call`` substitutes them.
    """
    import torch

    if hx is not None or self.proj_size or x.dim() != 3:
        raise NotImplementedError("only batched input, zero initial state, no projection")
    seq = x.transpose(0, 1) if self.batch_first else x  # (T, B, C)
    directions = 2 if self.bidirectional else 1
    final_h: list[torch.Tensor] = []
    final_c: list[torch.Tensor] = []
    for layer in range(self.num_layers):
        names = [f"_l{layer}", f"_l{layer}_reverse"][:directions]

        def stacked(kind: str, names: list[str] = names) -> torch.Tensor:
            """(D, 4H, ...), gates i f g o re-ordered to i f o g."""
            i, f, g, o = torch.stack([getattr(self, kind + n) for n in names]).chunk(4, dim=1)
            return torch.cat([i, f, o, g], dim=1)

        w_ih, w_hh_t = stacked("weight_ih"), stacked("weight_hh").transpose(1, 2)  # (D, H, 4H)
        inputs = torch.stack([seq, seq.flip(0)][:directions])  # (D, T, B, C)
        # one (T*B, C) product per direction: a broadcast matmul would copy the weight T times
        d, t, b, width = inputs.shape
        steps = torch.bmm(inputs.reshape(d, t * b, width), w_ih.transpose(1, 2)).view(d, t, b, -1)
        if self.bias:
            steps = steps + (stacked("bias_ih") + stacked("bias_hh"))[:, None, None, :]
        h = c = seq.new_zeros(directions, seq.shape[1], self.hidden_size)
        hs = []
        for step in steps.unbind(1):
            gates = step + torch.bmm(h, w_hh_t)  # (D, B, 4H)
            ifo, g = gates.split([3 * self.hidden_size, self.hidden_size], dim=2)
            i, f, o = torch.sigmoid(ifo).chunk(3, dim=2)
            c = f * c + i * torch.tanh(g)
            h = o * torch.tanh(c)
            hs.append(h)
        outs = torch.stack(hs, dim=1).unbind(0)  # D x (T, B, H)
        seq = torch.cat([outs[0], outs[1].flip(0)], dim=-1) if directions == 2 else outs[0]
        final_h.extend(h.unbind(0))
        final_c.extend(c.unbind(0))
    out = seq.transpose(0, 1) if self.batch_first else seq
    return out, (torch.stack(final_h), torch.stack(final_c))

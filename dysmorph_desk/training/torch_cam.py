"""Class-activation heatmaps, with the guards peers lacked.

- Grad-CAM (the default) is our own small implementation: importing pytorch-grad-cam pulls in
  scikit-learn and matplotlib (~2.2 s), which delayed the desktop app's first result. It gives the
  same map as pytorch-grad-cam's ``GradCAM`` (a test compares them). The other methods still go
  through pytorch-grad-cam, imported only when one is chosen.
- One forward pass gives both the heatmap and the class probabilities (no second inference).
- cuDNN implements LSTM backward only in training mode: recurrent modules are switched to train()
  for the CAM pass on CUDA (they have no dropout, so outputs are unchanged) and restored after.
- All-zero or non-finite heatmaps are reported as ``empty`` instead of being drawn as noise.
- Score-CAM (~1 min a photo on a CPU) reports progress through a callback and can be cancelled;
  no library progress bar reaches the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from dysmorph_desk.errors import Interrupted
from dysmorph_desk.explain.methods import CAM_METHODS, DEFAULT_CAM_METHOD

Progress = Callable[[int, int], None]


@dataclass
class CamOutput:
    heat: np.ndarray  # float32 (S, S) in [0, 1], aligned-face space
    logits: np.ndarray  # float32 (C,) from the same forward pass
    target_index: int
    empty: bool  # True when the map carried no signal (all zero or non-finite)


def _cam_class(method: str):
    """pytorch-grad-cam's class for ``method`` (imported here, only when needed)."""
    # pytorch-grad-cam imports matplotlib, which writes a font cache: keep it in our cache folder.
    import os

    from dysmorph_desk.utils import paths

    os.environ.setdefault("MPLCONFIGDIR", str(paths.cache_dir() / "matplotlib"))
    import pytorch_grad_cam as pgc

    classes = {
        "gradcam": pgc.GradCAM,
        "gradcam++": pgc.GradCAMPlusPlus,
        "hirescam": pgc.HiResCAM,
        "xgradcam": pgc.XGradCAM,
        "layercam": pgc.LayerCAM,
        "eigencam": pgc.EigenCAM,
    }
    if method == "scorecam":
        return _progress_score_cam()
    if method not in classes:
        raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(CAM_METHODS)}")
    return classes[method]


def _progress_score_cam():
    """ScoreCAM with our progress/cancel callbacks instead of its tqdm bar."""
    import torch
    from pytorch_grad_cam import ScoreCAM

    class ProgressScoreCAM(ScoreCAM):
        progress: Progress | None = None
        should_cancel: Callable[[], bool] | None = None
        batch_size = 32

        def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
            with torch.no_grad():
                acts = torch.from_numpy(activations).to(self.device)
                up = torch.nn.functional.interpolate(
                    acts, size=input_tensor.shape[-2:], mode="bilinear", align_corners=True
                )
                flat = up.flatten(2)
                mins, maxs = flat.min(-1)[0][..., None, None], flat.max(-1)[0][..., None, None]
                up = (up - mins) / (maxs - mins + 1e-8)
                scores: list[float] = []
                for target, image, masks in zip(targets, input_tensor, up, strict=False):
                    n = masks.shape[0]
                    for i in range(0, n, self.batch_size):
                        if self.should_cancel and self.should_cancel():
                            raise Interrupted("Score-CAM cancelled")
                        batch = image[None] * masks[i : i + self.batch_size, None]
                        scores.extend(float(target(o).cpu()) for o in self.model(batch))
                        if self.progress:
                            self.progress(min(i + self.batch_size, n), n)
                weights = torch.tensor(scores).view(activations.shape[0], activations.shape[1])
                return torch.softmax(weights, dim=-1).numpy()

    return ProgressScoreCAM


@contextmanager
def _recurrent_train_mode(model, device_type: str) -> Iterator[None]:
    """cuDNN RNN backward needs training mode; switch only the recurrent modules, only on CUDA."""
    from torch import nn

    switched = []
    if device_type == "cuda":
        for m in model.modules():
            if isinstance(m, nn.RNNBase) and not m.training:
                if m.dropout:
                    raise RuntimeError(
                        "recurrent layer with dropout cannot be explained in train mode"
                    )
                m.train()
                switched.append(m)
    try:
        yield
    finally:
        for m in switched:
            m.eval()


def _normalise(cam: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Shift to 0, scale to 1 and resize (W, H), bilinear: as pytorch-grad-cam's ``scale_cam_image``."""
    import cv2

    cam = cam - np.min(cam)
    cam = cam / (1e-7 + np.max(cam))
    cam = np.asarray(cam, dtype=np.float32)
    if size is not None:
        cam = cv2.resize(cam, size)
    return np.asarray(cam, dtype=np.float32)


def grad_cam(model, target_layer, input_tensor, target_index: int | None = None):
    """Grad-CAM (Selvaraju et al. 2017) for a batch of one image: ``(heat, logits, target_index)``.

    One forward pass; the target layer's output is cut from the graph (a fresh leaf) so the backward
    pass only runs from the class score down to that layer, and no parameter gradient is touched.
    Weights are the spatial mean of the score's gradient per channel; the map is ReLU(sum(w * A)),
    normalised to [0, 1], resized to the input, normalised again — pytorch-grad-cam's steps.
    The caller puts the model in eval mode (``compute_cam`` does, then switches recurrent layers
    to train mode on CUDA).
    """
    import torch

    captured: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        if "a" in captured or not isinstance(output, torch.Tensor):
            return None  # the first call is the one explained (as pytorch-grad-cam does)
        leaf = output.detach().requires_grad_(True)
        captured["a"] = leaf
        # A non-leaf copy flows on, so in-place operations downstream stay legal. Its values after
        # the forward pass are the activations used, as pytorch-grad-cam reads them on a CPU: a
        # downstream in-place op (DenseNet's ReLU after ``features``) is included.
        captured["out"] = leaf.clone()
        return captured["out"]

    handle = target_layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            out = model(input_tensor.detach())
        logits = out[0].detach().float().cpu()
        if target_index is None:
            target_index = int(logits.argmax())
        acts = captured.get("a")
        if acts is None:
            raise RuntimeError("the target layer was not used in the forward pass")
        if acts.dim() != 4:
            raise ValueError(
                f"Grad-CAM needs a (B, C, H, W) target layer output, got {tuple(acts.shape)}"
            )
        (grads,) = torch.autograd.grad(out[0, target_index], acts, allow_unused=True)
        if grads is None:  # the score does not depend on the layer: nothing to show
            grads = torch.zeros_like(acts)
    finally:
        handle.remove()
    a = captured["out"].detach()[0].float()
    weights = grads[0].float().mean(dim=(1, 2))
    cam = (weights[:, None, None] * a).sum(dim=0).clamp_min(0).cpu().numpy()
    height, width = input_tensor.shape[-2:]
    heat = _normalise(np.maximum(_normalise(cam, (int(width), int(height))), 0))
    return heat, logits, int(target_index)


def compute_cam(
    model,
    target_layer,
    input_tensor,
    method: str = DEFAULT_CAM_METHOD,
    target_index: int | None = None,
    *,
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> CamOutput:
    """Heatmap for one image tensor (1, 3, S, S), for ``target_index`` or the predicted class."""
    import torch

    device_type = next(model.parameters()).device.type
    if method == "gradcam":
        model.eval()  # as pytorch-grad-cam's constructor does, before the recurrent switch
        with _recurrent_train_mode(model, device_type):
            heat, logits, target_index = grad_cam(model, target_layer, input_tensor, target_index)
        return _cam_output(heat, logits, target_index)

    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = _cam_class(method)
    cam = cls(model=model, target_layers=[target_layer])  # its __init__ calls model.eval()
    if method == "scorecam":
        cam.progress, cam.should_cancel = progress, should_cancel
    try:
        with torch.enable_grad(), _recurrent_train_mode(model, device_type):
            # Weights are frozen (requires_grad False); gradients reach the target layer through
            # the input instead, so no parameter gradients are accumulated.
            x = input_tensor.detach().requires_grad_(method != "eigencam" and method != "scorecam")
            targets = None if target_index is None else [ClassifierOutputTarget(target_index)]
            heat = cam(input_tensor=x, targets=targets)[0]
            logits = cam.outputs[0].detach().float().cpu()
            if target_index is None:
                target_index = int(logits.argmax())
    finally:
        cam.activations_and_grads.release()
    return _cam_output(heat, logits, target_index)


def _cam_output(heat, logits, target_index: int) -> CamOutput:
    heat = np.asarray(heat, dtype=np.float32)
    finite = np.isfinite(heat)
    empty = not finite.all() or float(np.nanmax(np.where(finite, heat, 0))) <= 1e-6
    heat = np.clip(np.nan_to_num(heat, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    return CamOutput(
        heat=heat, logits=logits.numpy(), target_index=int(target_index), empty=bool(empty)
    )

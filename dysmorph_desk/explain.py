"""Class-activation heatmaps through pytorch-grad-cam, with the guards peers lacked.

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

CAM_METHODS = ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam", "scorecam")
DEFAULT_CAM = "gradcam"
Progress = Callable[[int, int], None]


@dataclass
class CamOutput:
    heat: np.ndarray  # float32 (S, S) in [0, 1], aligned-face space
    logits: np.ndarray  # float32 (C,) from the same forward pass
    target_index: int
    empty: bool  # True when the map carried no signal (all zero or non-finite)


def _cam_class(method: str):
    # pytorch-grad-cam imports matplotlib, which writes a font cache: keep it in our cache folder.
    import os

    from dysmorph_desk import paths

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
                up = torch.nn.functional.interpolate(acts, size=input_tensor.shape[-2:], mode="bilinear", align_corners=True)
                flat = up.flatten(2)
                mins, maxs = flat.min(-1)[0][..., None, None], flat.max(-1)[0][..., None, None]
                up = (up - mins) / (maxs - mins + 1e-8)
                scores = []
                for target, image, masks in zip(targets, input_tensor, up):
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
                    raise RuntimeError("recurrent layer with dropout cannot be explained in train mode")
                m.train()
                switched.append(m)
    try:
        yield
    finally:
        for m in switched:
            m.eval()


def compute_cam(
    model,
    target_layer,
    input_tensor,
    method: str = DEFAULT_CAM,
    target_index: int | None = None,
    *,
    progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> CamOutput:
    """Heatmap for one image tensor (1, 3, S, S), for ``target_index`` or the predicted class."""
    import torch
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = _cam_class(method)
    cam = cls(model=model, target_layers=[target_layer])  # its __init__ calls model.eval()
    if method == "scorecam":
        cam.progress, cam.should_cancel = progress, should_cancel
    device_type = next(model.parameters()).device.type
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
    heat = np.asarray(heat, dtype=np.float32)
    finite = np.isfinite(heat)
    empty = not finite.all() or float(np.nanmax(np.where(finite, heat, 0))) <= 1e-6
    heat = np.clip(np.nan_to_num(heat, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    return CamOutput(heat=heat, logits=logits.numpy(), target_index=int(target_index), empty=bool(empty))

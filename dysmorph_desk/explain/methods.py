"""The heatmap methods users can pick, by name: the one list the CLI, the settings, the app and the
engine share (no torch here, so the GUI process can import it).

``NO_CAM`` is what a user picks for probabilities only; the engine receives ``None`` for it.
"""

from __future__ import annotations

CAM_METHODS = ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam", "scorecam")
DEFAULT_CAM_METHOD = "gradcam"
NO_CAM = "none"
CAM_CHOICES = (*CAM_METHODS, NO_CAM)  # what a user may type or choose
CAM_LABELS = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "hirescam": "HiResCAM",
    "xgradcam": "XGrad-CAM",
    "layercam": "LayerCAM",
    "eigencam": "EigenCAM",
    "scorecam": "Score-CAM (slow)",
    NO_CAM: "None",
}


def cam_or_none(choice: str | None) -> str | None:
    """A user's choice as the engine takes it: ``None`` for no heatmap."""
    return None if choice in (None, NO_CAM) else choice

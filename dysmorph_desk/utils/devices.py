"""Pick the compute device: CUDA, then Apple MPS, then CPU (or what the user asked for)."""

from __future__ import annotations

from dysmorph_desk.errors import UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
DEFAULT_DEVICE = "auto"  # CUDA, then Apple MPS, then the CPU


def pick_device(preference: str = DEFAULT_DEVICE) -> str:
    import torch

    if preference not in DEVICE_CHOICES:
        raise UsageError(f"device must be one of {', '.join(DEVICE_CHOICES)}")
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if preference == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if preference == "cuda" and not cuda:
        raise UsageError("CUDA was asked for but no CUDA device is available")
    if preference == "mps" and not mps:
        raise UsageError("MPS was asked for but is not available on this machine")
    return preference

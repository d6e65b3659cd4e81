"""Pick the compute device for screening: CUDA when available, else the CPU (or what was asked)."""

from __future__ import annotations

import os

from dysmorph_desk.errors import UsageError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
DEFAULT_DEVICE = "auto"  # CUDA, then Apple MPS, then the CPU


def pick_device(preference: str = DEFAULT_DEVICE) -> str:
    """The device screening runs on, from ONNX Runtime's execution providers (no torch).

    ``auto`` takes CUDA when the installed onnxruntime has its CUDA provider, else the CPU; Apple
    GPUs go through the CoreML provider. Training picks its PyTorch device itself
    (``training.runtime``).
    """
    import onnxruntime as ort

    if preference not in DEVICE_CHOICES:
        raise UsageError(f"device must be one of {', '.join(DEVICE_CHOICES)}")
    available = set(ort.get_available_providers())
    cuda = "CUDAExecutionProvider" in available
    mps = "CoreMLExecutionProvider" in available
    if preference == "auto":
        return "cuda" if cuda else "cpu"
    if preference == "cuda" and not cuda:
        raise UsageError("CUDA was asked for but this onnxruntime has no CUDA provider")
    if preference == "mps" and not mps:
        raise UsageError("MPS was asked for but this onnxruntime has no CoreML provider")
    return preference


def default_threads() -> int:
    """Compute threads for the models: one core stays free for the UI (and whatever else runs).

    ``DYSMORPH_DESK_THREADS`` overrides. Oversubscribed threads that spin-wait made one screening
    50x slower on a busy two-core machine (11 s instead of 0.2 s).
    """
    env = os.environ.get("DYSMORPH_DESK_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 2
    return max(1, min(4, cores - 1))

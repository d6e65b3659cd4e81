"""Where training runs: device, mixed precision and the DistributedDataParallel process group.

Training, prediction and cross-validation all take a ``Runtime`` rather than a device string, so
that the device, the autocast dtype and the process's rank travel together. CPU, CUDA or MPS is
picked by ``pick_torch_device``; mixed precision is fp16 autocast (with a gradient scaler) on
CUDA and bf16 autocast on CPUs with native bf16 (AVX512-BF16/AMX); elsewhere fp32. Under
``torchrun`` the process group is set up here, with the two collective steps the epoch loop needs
to keep every process's decisions identical. Torch is imported lazily.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Runtime:
    """Where and how tensors are computed; ``rank``/``world`` > 1 under torchrun."""

    device: str
    amp_dtype: Any = None  # torch.float16 / torch.bfloat16 / None (fp32)
    rank: int = 0
    world: int = 1

    @property
    def device_type(self) -> str:
        return self.device.split(":")[0]

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def precision(self) -> str:
        return {None: "fp32"}.get(self.amp_dtype, str(self.amp_dtype).replace("torch.", ""))

    def autocast(self):
        import torch

        return torch.autocast(
            self.device_type,
            dtype=self.amp_dtype or torch.float32,
            enabled=self.amp_dtype is not None,
        )


def cpu_has_native_bf16() -> bool:
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def pick_torch_device(preference: str = "auto") -> str:
    """PyTorch's device for training and the reference runtime: CUDA, then Apple MPS, then CPU."""
    import torch

    from dysmorph_desk.errors import UsageError
    from dysmorph_desk.utils.devices import DEVICE_CHOICES

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


def make_runtime(device_pref: str = "auto", precision: str = "auto") -> Runtime:
    """Device and precision, and the DDP process group when launched by torchrun."""
    import torch

    from dysmorph_desk.errors import UsageError

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_torch_device(device_pref)
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
    kind = device.split(":")[0]
    if precision == "auto":
        amp = (
            torch.float16
            if kind == "cuda"
            else torch.bfloat16
            if kind == "cpu" and cpu_has_native_bf16()
            else None
        )
    elif precision == "fp32":
        amp = None
    elif precision == "bf16":
        if kind == "mps":
            raise UsageError("bf16 autocast is not supported on MPS; use --precision fp32")
        amp = torch.bfloat16
    elif precision == "fp16":
        if kind != "cuda":
            raise UsageError(
                "fp16 mixed precision needs CUDA; use --precision fp32 (or bf16 on a CPU with AVX512-BF16)"
            )
        amp = torch.float16
    else:
        raise UsageError(f"unknown precision {precision!r}")
    return Runtime(device=device, amp_dtype=amp, rank=rank, world=world)


def sync_after_epoch(model) -> None:
    """DDP keeps parameters equal but BatchNorm statistics per process: take the first one's."""
    import torch.distributed as dist

    for buf in model.buffers():
        dist.broadcast(buf, src=0)


def from_first_process(values: list[float], rt: Runtime) -> list[float]:
    """The first process's values on every process (same early-stopping decisions)."""
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=rt.device)
    dist.broadcast(t, src=0)
    return [float(v) for v in t.cpu()]

"""The ``.ddbundle`` container, format 2: one safetensors file, read and written without torch.

Members (all covered by one SHA-256 digest, except the signature slot):

- header metadata (``__metadata__``, strings): ``format`` = ``dysmorph-desk-bundle``,
  ``format_version`` = ``2``, ``manifest`` (the model card as JSON), ``runtime`` (JSON: the graphs'
  inputs and outputs, the Grad-CAM activation shape, the embedding size, the weights' storage dtype),
  ``digest`` (hex SHA-256 over every other member) and ``signature`` (the slot an Ed25519 signature
  over the digest goes in; empty when unsigned);
- the weights, once, as tensors named by the PyTorch ``state_dict`` keys (stored as float16 where
  they are floating point, to keep bundles small);
- the ONNX graphs as uint8 tensors named ``__graph__/forward`` and ``__graph__/gradient``. The graphs
  hold no weights: every initializer is an external-data reference (location ``dd-bundle:weights``)
  that the runtime feeds from the weights above when it creates a session;
- optionally, the distribution of the model's embeddings of its training photos, as float32 tensors
  ``__atypicality__/mean`` (D) and ``__atypicality__/precision`` (D x D, the inverse of a shrunk
  covariance), with the reference percentiles of validation photos' distances in the ``runtime``
  JSON (``atypicality``): see ``screening/atypicality.py``. They are never weights: ``read_bundle``
  routes them apart, so no graph can take them as an initializer.

The digest is computed over the canonical bytes of each member in a fixed order (metadata keys
sorted, then tensors sorted by name with dtype and shape), so editing the card, a weight or a graph
is detected; recomputing it is possible for anyone, which is why format 2 also has the signature slot
(see docs/security.md once the hardening issue lands). Safetensors never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from dysmorph_desk.errors import BundleError

FORMAT = "dysmorph-desk-bundle"
FORMAT_VERSION = "2"
GRAPH_PREFIX = "__graph__/"
GRAPH_NAMES = ("forward", "gradient")
ATYPICALITY_PREFIX = "__atypicality__/"
ATYPICALITY_NAMES = ("mean", "precision")
MAX_HEADER_BYTES = 16 * 1024 * 1024
UNSIGNED_KEYS = ("digest", "signature")  # the only members the digest does not cover


@dataclass
class BundleContents:
    """Everything in a format-2 bundle, as plain Python and numpy values."""

    manifest: dict[str, Any]
    runtime: dict[str, Any]
    weights: dict[str, np.ndarray]  # state_dict key -> array (as stored, e.g. float16)
    graphs: dict[str, bytes]  # "forward", "gradient" -> ONNX ModelProto bytes
    signature: str = ""
    extra_metadata: dict[str, str] = field(default_factory=dict)
    # "mean", "precision" -> float32 arrays (screening/atypicality.py); empty when not calibrated
    atypicality: dict[str, np.ndarray] = field(default_factory=dict)

    def metadata(self) -> dict[str, str]:
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "manifest": json.dumps(self.manifest, sort_keys=True, ensure_ascii=False),
            "runtime": json.dumps(self.runtime, sort_keys=True),
            **self.extra_metadata,
        }
        return meta

    def tensors(self) -> dict[str, np.ndarray]:
        out = dict(self.weights)
        for name, data in self.graphs.items():
            out[GRAPH_PREFIX + name] = np.frombuffer(data, dtype=np.uint8)
        for name, arr in self.atypicality.items():
            out[ATYPICALITY_PREFIX + name] = arr
        return out

    def digest(self) -> str:
        return digest(self.metadata(), self.tensors())


def digest(metadata: dict[str, str], tensors: dict[str, np.ndarray]) -> str:
    """SHA-256 over every member except the digest and the signature slot."""
    h = hashlib.sha256(b"dysmorph-desk-bundle/2\n")
    for key in sorted(metadata):
        if key in UNSIGNED_KEYS:
            continue
        value = metadata[key].encode("utf-8")
        h.update(f"meta|{key}|{len(value)}\n".encode())
        h.update(value)
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        data = arr.tobytes()
        h.update(f"\ntensor|{name}|{arr.dtype.str}|{tuple(arr.shape)}|{len(data)}\n".encode())
        h.update(data)
    return h.hexdigest()


def write_bundle(path: str | Path, contents: BundleContents, *, force: bool = False) -> str:
    """Write a format-2 bundle atomically; returns its digest. No torch needed."""
    from safetensors.numpy import save

    from dysmorph_desk.utils.atomic import write_bytes_atomic

    meta = contents.metadata()
    tensors = contents.tensors()
    meta["digest"] = digest(meta, tensors)
    meta["signature"] = contents.signature
    write_bytes_atomic(path, save(tensors, metadata=meta), force=force, sync_dir=True)
    return meta["digest"]


def _open_regular(path: Path) -> BinaryIO:
    """Open a bundle for reading only if it is a regular file (symlinks followed): a named pipe
    would block the read forever, and a device never ends. Opened non-blocking, so a pipe swapped
    in after the check cannot block either, and checked again on the open descriptor."""
    refused = BundleError(f"{path.name}: not a DysmorphDesk bundle (not a regular file)")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise refused
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refused
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_metadata(path: Path) -> dict[str, str]:
    """The header metadata only (cheap: no weights are read). Raises BundleError."""
    try:
        with _open_regular(path) as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise BundleError(f"{path.name}: not a DysmorphDesk bundle (file too short)")
            (n,) = struct.unpack("<Q", raw)
            if n > MAX_HEADER_BYTES:
                raise BundleError(f"{path.name}: not a DysmorphDesk bundle (header too large)")
            header = json.loads(fh.read(n))
    except FileNotFoundError:
        raise BundleError(f"bundle not found: {path}") from None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(
            f"{path.name}: not a DysmorphDesk bundle ({exc.__class__.__name__})"
        ) from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(f"{path.name}: not a DysmorphDesk bundle (no manifest)")
    return {str(k): str(v) for k, v in meta.items()}


def read_bundle(path: Path) -> BundleContents:
    """Read and verify a format-2 bundle: the digest must match every member."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    meta = read_metadata(path)
    if meta.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{path.name}: bundle format {meta.get('format_version')} is not format 2"
        )
    try:
        with _open_regular(path) as fh:  # a FIFO swapped in after the header check cannot block
            tensors = load(fh.read())
    except (SafetensorError, OSError, ValueError, MemoryError) as exc:
        raise BundleError(f"{path.name}: the bundle is unreadable ({exc})") from None
    if digest(meta, tensors) != meta.get("digest"):
        raise BundleError(
            f"{path.name}: SHA-256 digest mismatch — the bundle was modified or damaged; refusing to load it"
        )
    graphs, weights, atypicality = {}, {}, {}
    for name, arr in tensors.items():
        if name.startswith(GRAPH_PREFIX):
            graphs[name[len(GRAPH_PREFIX) :]] = arr.tobytes()
        elif name.startswith(ATYPICALITY_PREFIX):
            atypicality[name[len(ATYPICALITY_PREFIX) :]] = arr
        else:
            weights[name] = arr
    missing = [g for g in GRAPH_NAMES if g not in graphs]
    if missing:
        raise BundleError(f"{path.name}: the {missing[0]} graph is missing")
    try:
        manifest = json.loads(meta["manifest"])
        runtime = json.loads(meta["runtime"])
    except (KeyError, ValueError, RecursionError) as exc:
        raise BundleError(f"{path.name}: the manifest is unreadable ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(runtime, dict):
        raise BundleError(f"{path.name}: the manifest is not a JSON object")
    extra = {
        k: v
        for k, v in meta.items()
        if k not in {*UNSIGNED_KEYS, "format", "format_version", "manifest", "runtime"}
    }
    return BundleContents(
        manifest=manifest,
        runtime=runtime,
        weights=weights,
        graphs=graphs,
        signature=meta.get("signature", ""),
        extra_metadata=extra,
        atypicality=atypicality,
    )

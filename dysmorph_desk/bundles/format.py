"""Model bundles: one safetensors file whose header metadata holds the JSON manifest (model card).

Layout: a standard safetensors file (``.ddbundle``); ``__metadata__`` carries
``format = "dysmorph-desk-bundle"``, ``format_version``, ``manifest`` (the card as JSON) and
``sha256``. The SHA-256 covers the canonical manifest JSON and every tensor (name, dtype, shape,
bytes), so editing either is detected on load. Safetensors never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dysmorph_desk.bundles.cards import ModelCard
from dysmorph_desk.errors import BundleError, UsageError
from dysmorph_desk.utils import paths, resources

if TYPE_CHECKING:
    import torch
    from torch import nn

log = logging.getLogger(__name__)

BUNDLE_SUFFIX = ".ddbundle"
FORMAT = "dysmorph-desk-bundle"
FORMAT_VERSION = "1"
DEFAULT_BUNDLE = "demo-hybrid"
_MAX_HEADER = 16 * 1024 * 1024


@dataclass
class BundleInfo:
    """A bundle as listed: card and claimed hash from the header only (cheap, no torch)."""

    name: str
    path: Path
    card: ModelCard
    sha256: str
    source: str  # "shipped" or "user" or "file"


@dataclass
class LoadedBundle:
    """A verified bundle with its model ready for inference (eval mode, on ``device``)."""

    info: BundleInfo
    model: nn.Module
    device: str

    @property
    def card(self) -> ModelCard:
        return self.info.card

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def sha256(self) -> str:
        return self.info.sha256


def _canonical(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def bundle_digest(manifest: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    import torch

    h = hashlib.sha256()
    h.update(_canonical(manifest))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"\n{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_bundle(
    path: str | Path, model: nn.Module, card: ModelCard, *, half: bool = True, force: bool = False
) -> BundleInfo:
    """Write a bundle atomically. Floating weights are stored as fp16 when ``half`` (small repo)."""
    import torch
    from safetensors.torch import save

    from dysmorph_desk.utils.atomic import write_bytes_atomic

    path = Path(path)
    if path.suffix != BUNDLE_SUFFIX:
        raise UsageError(f"a bundle file must end in {BUNDLE_SUFFIX}")
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        if half and v.is_floating_point():
            v = v.to(torch.float16)
        tensors[k] = v.clone()
    manifest = card.to_dict()
    digest = bundle_digest(manifest, tensors)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "manifest": json.dumps(manifest),
        "sha256": digest,
    }
    write_bytes_atomic(path, save(tensors, metadata=meta), force=force)
    return BundleInfo(name=card.name, path=path, card=card, sha256=digest, source="file")


def read_header(path: str | Path, source: str = "file") -> BundleInfo:
    """Read the card and the claimed hash without loading weights (nor torch)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise BundleError(f"{path.name}: not a DysmorphDesk bundle (file too short)")
            (n,) = struct.unpack("<Q", raw)
            if n > _MAX_HEADER:
                raise BundleError(f"{path.name}: not a DysmorphDesk bundle (bad header)")
            header = json.loads(fh.read(n))
    except FileNotFoundError:
        raise BundleError(f"bundle not found: {path}") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BundleError(
            f"{path.name}: not a DysmorphDesk bundle ({exc.__class__.__name__})"
        ) from None
    meta = (header.get("__metadata__") or {}) if isinstance(header, dict) else {}
    if meta.get("format") != FORMAT:
        raise BundleError(f"{path.name}: not a DysmorphDesk bundle (no manifest)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{path.name}: bundle format {meta.get('format_version')} is not supported by this version"
        )
    try:
        card = ModelCard.from_dict(json.loads(meta["manifest"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path.name}: manifest is invalid ({exc})") from None
    return BundleInfo(
        name=card.name, path=path, card=card, sha256=str(meta.get("sha256", "")), source=source
    )


def load_bundle(path: str | Path, device: str = "cpu", source: str = "file") -> LoadedBundle:
    """Verify the hash and the tensor shapes against the architecture, then build the model.

    A bundle is refused (``BundleError``, exit 4) unless its SHA-256 over the manifest and every
    tensor matches and every tensor has the shape the registered architecture expects: a modified
    or mismatched file never reaches a patient's photo. Nothing is unpickled.

    Args:
        path: a ``.ddbundle`` file.
        device: ``"cpu"``, ``"cuda"`` or ``"mps"`` (see ``utils.devices.pick_device``).
        source: where it was found (``"package"``, ``"user"``, ``"file"``), shown in model lists.

    Example:
        >>> info = resolve_bundle("demo-hybrid")  # doctest: +SKIP
        >>> bundle = load_bundle(info.path, device="cpu", source=info.source)  # doctest: +SKIP
        >>> bundle.card.status  # doctest: +SKIP
        'demonstration'
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    from dysmorph_desk.nets import create_model, get_arch

    info = read_header(path, source)
    path = info.path
    try:
        tensors = load(path.read_bytes())
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{path.name}: weights are unreadable ({exc})") from None
    actual = bundle_digest(info.card.to_dict(), tensors)
    if actual != info.sha256:
        raise BundleError(
            f"{path.name}: SHA-256 mismatch — the bundle was modified or damaged; refusing to load it"
        )
    try:
        spec = get_arch(info.card.architecture)
    except KeyError as exc:
        raise BundleError(f"{path.name}: {exc.args[0]}") from None
    if info.card.input_size != spec.input_size:
        raise BundleError(
            f"{path.name}: input size {info.card.input_size} does not match {spec.name} ({spec.input_size})"
        )
    model = create_model(spec.name, len(info.card.classes))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise BundleError(
            f"{path.name}: weights do not match architecture {spec.name} "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors, e.g. {(missing or unexpected)[0]})"
        )
    for k, v in expected.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise BundleError(
                f"{path.name}: tensor {k} has shape {tuple(tensors[k].shape)}, {spec.name} expects {tuple(v.shape)}"
            )
    model.load_state_dict({k: t.to(expected[k].dtype) for k, t in tensors.items()})
    model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedBundle(info=info, model=model, device=device)


def bundle_dirs() -> list[tuple[str, Path | None]]:
    with resources.as_path(resources.bundled_models()) as shipped:
        shipped_dir = Path(shipped)
    return [("shipped", shipped_dir), ("user", paths.user_models_dir())]


def find_bundles() -> list[BundleInfo]:
    """Bundles shipped with the package, then the per-user folder. Unreadable files are skipped."""
    found: list[BundleInfo] = []
    seen: set[str] = set()
    for source, folder in bundle_dirs():
        if folder is None or not folder.is_dir():
            continue
        for p in sorted(folder.glob(f"*{BUNDLE_SUFFIX}")):
            try:
                info = read_header(p, source)
            except BundleError as exc:
                log.warning("skipping %s", exc)
                continue
            if info.name in seen:
                log.warning("bundle name %s appears twice; using the first (%s)", info.name, source)
                continue
            seen.add(info.name)
            found.append(info)
    return found


def resolve_bundle(name_or_path: str) -> BundleInfo:
    """A bundle by listed name, or by path to a ``.ddbundle`` file."""
    for info in find_bundles():
        if info.name == name_or_path:
            return info
    p = Path(name_or_path)
    if p.suffix == BUNDLE_SUFFIX or p.exists():
        if not p.is_file():
            raise BundleError(f"bundle not found: {name_or_path}")
        return read_header(p, "file")
    names = ", ".join(i.name for i in find_bundles()) or "none installed"
    raise BundleError(f"no bundle named {name_or_path!r} (available: {names})")


def install_bundle(path: str | Path, *, force: bool = False) -> BundleInfo:
    """Copy a verified bundle into the per-user models folder (the GUI's and CLI's import)."""
    from dysmorph_desk.utils.atomic import write_bytes_atomic

    src = Path(path)
    loaded = load_bundle(src)  # verifies hash and shapes before anything is copied
    dest = paths.user_models_dir() / f"{loaded.name}{BUNDLE_SUFFIX}"
    write_bytes_atomic(dest, src.read_bytes(), force=force)
    return BundleInfo(
        name=loaded.name, path=dest, card=loaded.card, sha256=loaded.sha256, source="user"
    )

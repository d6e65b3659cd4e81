"""Model bundles: find, list, verify and load ``.ddbundle`` files — without torch.

Format 2 (``bundles/container.py``) holds the card, the weights once, and two ONNX graphs; loading
checks the digest over every member, checks the graphs against the card (``bundles/sessions.py``)
and creates ONNX Runtime sessions. Format 1 (round 1: weights only, for PyTorch) is still listed,
so a clinic sees what it has, but refused for screening with the command that converts it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dysmorph_desk.bundles.cards import ModelCard
from dysmorph_desk.bundles.container import (
    ATYPICALITY_NAMES,
    FORMAT_VERSION,
    BundleContents,
    read_bundle,
    read_metadata,
)
from dysmorph_desk.bundles.schema import validate_manifest
from dysmorph_desk.bundles.sessions import ForwardOut, GradientOut, OnnxModel, check_graph
from dysmorph_desk.bundles.trust import TrustVerdict, assess
from dysmorph_desk.errors import BundleError, UsageError
from dysmorph_desk.utils import paths, resources

log = logging.getLogger(__name__)

BUNDLE_SUFFIX = ".ddbundle"
DEFAULT_BUNDLE = "demo-hybrid"
UPGRADE_HINT = "convert it with `dysmorph-desk models --upgrade {path}` (needs the [train] extra)"


class BundleModel(Protocol):
    """What screening needs of a model: the ONNX sessions, or the PyTorch reference (training)."""

    def forward(self, images: np.ndarray) -> ForwardOut: ...

    def gradient(self, image: np.ndarray, target_index: int, num_classes: int) -> GradientOut: ...


@dataclass
class BundleInfo:
    """A bundle as listed: card and claimed digest from the header only (cheap).

    ``card.status`` is the effective status (``bundles/trust.py``): the lower of what the card
    claims and what its signing key may vouch for; ``trust`` keeps the claim and the reason.
    Format 1 has no signature slot: ``trust`` is None and the card is as written.
    """

    name: str
    path: Path
    card: ModelCard
    sha256: str
    source: str  # "shipped" or "user" or "file"
    format_version: str = FORMAT_VERSION
    trust: TrustVerdict | None = None


@dataclass
class LoadedBundle:
    """A verified bundle with its model ready for inference."""

    info: BundleInfo
    model: BundleModel
    device: str
    runtime: dict[str, Any]
    weights: dict[str, np.ndarray]
    # "mean", "precision": the embedding statistics (screening/atypicality.py); empty if none
    atypicality: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def card(self) -> ModelCard:
        return self.info.card

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def sha256(self) -> str:
        return self.info.sha256


def _card(manifest: Any, where: str) -> ModelCard:
    """The card, checked field by field (``bundles/schema.py``): a bad one is refused here, at read
    time, with the field named, instead of being listed or installed and failing on a photo."""
    return validate_manifest(manifest, where)


def read_header(path: str | Path, source: str = "file") -> BundleInfo:
    """Read the card and the claimed digest without loading weights.

    For format 2 the signature is checked against the claimed digest (cheap) and the card's status
    replaced by the effective one; ``load_bundle`` then checks the digest against the content, so
    together they cover every member. Raises BundleError for a malformed signature slot or a
    trusted key's signature that does not match.
    """
    path = Path(path)
    meta = read_metadata(path)
    version = meta.get("format_version", "")
    if version not in ("1", FORMAT_VERSION):
        raise BundleError(
            f"{path.name}: bundle format {version or '?'} is not supported by this version"
        )
    try:
        manifest = json.loads(meta["manifest"])
    except (KeyError, ValueError, RecursionError) as exc:
        raise BundleError(f"{path.name}: manifest is invalid ({exc})") from None
    card = _card(manifest, path.name)
    digest = meta.get("digest" if version == FORMAT_VERSION else "sha256", "")
    trust = None
    if version == FORMAT_VERSION:
        trust = assess(meta.get("signature", ""), digest, card.status, where=path.name)
        if trust.effective_status != card.status:
            card = replace(card, status=trust.effective_status)
    return BundleInfo(card.name, path, card, digest, source, version, trust)


def load_bundle(
    path: str | Path,
    device: str = "cpu",
    source: str = "file",
    *,
    threads: int | None = None,
    allow_failed: bool = False,
) -> LoadedBundle:
    """Verify a format-2 bundle and open its graphs in ONNX Runtime.

    A bundle is refused (``BundleError``, exit 4) unless its digest over every member matches and
    its graphs are exactly what its card implies (inputs, outputs, sizes, standard operators, no
    foreign external data): a modified or mismatched file never reaches a patient's photo. Nothing
    is unpickled and torch is not imported.

    Args:
        path: a ``.ddbundle`` file.
        device: ``"cpu"``, ``"cuda"`` or ``"mps"`` (see ``utils.devices.pick_device``).
        source: where it was found (``"shipped"``, ``"user"``, ``"file"``), shown in model lists.
        threads: ONNX Runtime threads per graph (default: the machine's cores less one, or
            ``DYSMORPH_DESK_THREADS``; the ``screening.threads`` setting).
        allow_failed: load a bundle whose card says ``failed-validation`` (``models --verify``,
            evaluation); screening refuses it.

    Example:
        >>> info = resolve_bundle("demo-hybrid")  # doctest: +SKIP
        >>> bundle = load_bundle(info.path, device="cpu", source=info.source)  # doctest: +SKIP
        >>> bundle.card.status  # doctest: +SKIP
        'demonstration'
    """
    info = read_header(path, source)
    if info.format_version != FORMAT_VERSION:
        raise BundleError(
            f"{info.path.name}: bundle format {info.format_version} is from DysmorphDesk 0.1; "
            + UPGRADE_HINT.format(path=info.path)
        )
    if info.card.status == "failed-validation" and not allow_failed:
        raise BundleError(
            f"{info.path.name}: the model card says it failed validation; refusing it for screening"
        )
    contents = read_bundle(info.path)
    card = _card(contents.manifest, info.path.name)
    externals = {
        name: check_graph(name, data, card, contents.runtime, contents.weights, info.path.name)
        for name, data in contents.graphs.items()
    }
    check_atypicality(contents, info.path.name)
    model = OnnxModel(contents.graphs, contents.weights, externals, device=device, threads=threads)
    try:
        model.open()  # fail now, not on the first photo
    except BundleError as exc:
        raise BundleError(f"{info.path.name}: {exc}") from None
    return LoadedBundle(
        info, model, device, contents.runtime, contents.weights, contents.atypicality
    )


def check_atypicality(contents: BundleContents, where: str) -> None:
    """Refuse embedding statistics that screening could not use: both tensors or neither, float32
    of the runtime's embedding size, finite; 101 non-decreasing, finite reference percentiles."""
    stats, entry = contents.atypicality, contents.runtime.get("atypicality")
    if not stats and entry is None:
        return
    bad = f"{where}: the atypicality statistics are malformed"
    if set(stats) != set(ATYPICALITY_NAMES) or not isinstance(entry, dict):
        raise BundleError(f"{bad} (they need the tensors mean, precision and the percentiles)")
    d = int(contents.runtime.get("embedding_size", 0))
    mean, precision = stats["mean"], stats["precision"]
    for name, arr, shape in (("mean", mean, (d,)), ("precision", precision, (d, d))):
        if arr.dtype != np.float32 or arr.shape != shape or not np.all(np.isfinite(arr)):
            raise BundleError(f"{bad} ({name}: need finite float32 of shape {shape})")
    q = entry.get("percentiles")
    ok = isinstance(q, list) and len(q) == 101
    if ok:
        try:
            arr = np.asarray(q, dtype=np.float64)
        except (TypeError, ValueError):
            ok = False
        else:
            ok = bool(
                arr.ndim == 1
                and np.all(np.isfinite(arr))
                and np.all(arr >= 0)
                and np.all(np.diff(arr) >= 0)
            )
    if not ok:
        raise BundleError(f"{bad} (percentiles: need 101 non-decreasing distances)")


def bundle_dirs() -> list[tuple[str, Path | None]]:
    """The shipped models folder (None when an install lost it) and the per-user one."""
    shipped_dir: Path | None
    try:
        with resources.as_path(resources.bundled_models()) as shipped:
            shipped_dir = Path(shipped)
    except ModuleNotFoundError:  # the package's models folder was deleted from the install
        log.warning("the shipped models folder is missing from this install")
        shipped_dir = None
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
    try:
        is_path = p.suffix == BUNDLE_SUFFIX or p.exists()
        is_file = is_path and p.is_file()
    except (OSError, ValueError):  # a name too long for the file system, an embedded NUL
        raise BundleError(f"bundle not found: {name_or_path}") from None
    if is_path:
        if not is_file:
            raise BundleError(f"bundle not found: {name_or_path}")
        return read_header(p, "file")
    names = ", ".join(i.name for i in find_bundles()) or "none installed"
    raise BundleError(f"no bundle named {name_or_path!r} (available: {names})")


def select_bundles(names: Sequence[str]) -> list[BundleInfo]:
    """The bundles a screening run uses: every one found for ``all``, else each name (or path)
    once, in the given order. Headers only: nothing loads, so a wrong name fails in milliseconds.

    Raises:
        UsageError: ``all`` with no bundle installed (exit 2).
        BundleError: an unknown name or an unreadable file (exit 4).
    """
    if "all" in names:
        infos = find_bundles()
        if not infos:
            raise UsageError("no model bundles are installed")
        return infos
    return [resolve_bundle(n) for n in dict.fromkeys(names)]


def safe_file_name(name: str) -> str:
    """The file name a bundle is installed under, derived from its card's name.

    NFKC first (so full-width or other compatibility look-alikes fold to what they look like and
    meet the same checks), then only ``[A-Za-z0-9._-]`` (anything else becomes ``-``), no leading
    dot or dash, at most 64 characters. Never a path: no separator survives.
    """
    folded = unicodedata.normalize("NFKC", name)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", folded).lstrip(".-")[:64].rstrip(".-")
    if not safe or safe in {".", ".."}:
        raise BundleError(f"bundle name {name[:40]!r} gives no usable file name")
    return safe


def install_bundle(
    path: str | Path, *, force: bool = False, allow_failed: bool = False
) -> BundleInfo:
    """Copy a verified bundle into the per-user models folder (the GUI's and CLI's import).

    The destination is ``<models folder>/<safe_file_name(card name)>.ddbundle`` and is checked to
    lie inside the models folder; a symlink there is never followed. A bundle whose name is shipped
    with the app, or whose file name would replace a bundle with another name, is refused even with
    ``force`` (which only replaces an earlier version of the same bundle).

    Args:
        path: the ``.ddbundle`` to install.
        force: replace an installed bundle of the same name.
        allow_failed: accept a bundle whose card says ``failed-validation`` (refused otherwise).

    Raises:
        BundleError: the bundle does not verify, or its name is unusable or taken (exit 4).
        UsageError: it is installed already and ``force`` is not set (exit 2).
    """
    from dysmorph_desk.errors import UsageError
    from dysmorph_desk.utils.atomic import write_bytes_atomic

    src = Path(path)
    # verifies digest, card and graphs before anything is copied; a card that failed validation
    # only with ``allow_failed`` (``models --install --allow-unvalidated``)
    loaded = load_bundle(src, allow_failed=allow_failed)
    folder = paths.user_models_dir()
    stem = safe_file_name(loaded.name)
    dest = folder / f"{stem}{BUNDLE_SUFFIX}"
    if dest.parent != folder or os.path.commonpath([folder, dest]) != str(folder):
        raise BundleError(f"bundle name {loaded.name[:40]!r} would leave the models folder")
    for info in find_bundles():
        if info.source == "shipped" and safe_file_name(info.name) == stem:
            raise BundleError(
                f"a bundle named {info.name!r} ships with DysmorphDesk; give yours another name"
            )
    if dest.is_symlink():
        raise BundleError(f"{dest.name} in the models folder is a link; remove it first")
    if dest.exists():
        try:
            existing = read_header(dest, "user").name
        except BundleError:
            existing = None
        if existing is not None and existing != loaded.name:
            raise BundleError(
                f"{dest.name} holds the bundle {existing!r}; refusing to replace it with "
                f"{loaded.name!r}"
            )
        if not force:
            raise UsageError(f"{loaded.name} is installed already; use --force to replace it")
    write_bytes_atomic(dest, src.read_bytes(), force=force)
    return replace(loaded.info, path=dest, source="user")

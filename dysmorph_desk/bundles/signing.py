"""Ed25519 signatures over a bundle's digest: key files, signing and verifying.

The digest (``bundles/container.py``) says whether a bundle is intact; anyone can recompute it. The
signature says who vouched for it: it signs the UTF-8 bytes of
``dysmorph-desk-bundle/2 digest <hex digest>`` and goes in the ``signature`` metadata slot (outside
the digest) as ``ed25519:<key id>:<base64 signature>``; the key id is the first 16 hex characters
of the SHA-256 of the raw 32-byte public key. Which keys are trusted, and for which status, is
``bundles/trust.py``'s business; see docs/security.md.

Key files:

- private: PKCS#8 PEM, unencrypted, written owner-only (0600 where the platform has modes);
- public: one line ``ed25519 <base64 of the raw 32 bytes> <name>`` (OpenSSH-like, easy to email).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dysmorph_desk.errors import BundleError, UsageError

ALGORITHM = "ed25519"
SIGNED_PREFIX = b"dysmorph-desk-bundle/2 digest "
KEY_ID_CHARS = 16
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
_SLOT_RE = re.compile(r"ed25519:([0-9a-f]{16}):([A-Za-z0-9+/]{86}==)")
MAX_KEY_FILE_BYTES = 64 * 1024


def key_id(raw_public: bytes) -> str:
    """First 16 hex characters of the SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(raw_public).hexdigest()[:KEY_ID_CHARS]


@dataclass(frozen=True)
class NamedPublicKey:
    """A public key as its one-line file holds it: the raw 32 bytes and a name."""

    raw: bytes
    name: str = ""

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    def key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.raw)

    def line(self) -> str:
        return f"{ALGORITHM} {self.b64} {self.name}".rstrip() + "\n"

    @classmethod
    def from_key(cls, key: Ed25519PublicKey, name: str = "") -> NamedPublicKey:
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(raw, clean_name(name))


def clean_name(name: str) -> str:
    """A key name fits on the public key's one line: printable, no newlines, bounded."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in name).split())
    return text[:100]


def public_from_b64(value: str, name: str = "", where: str = "public key") -> NamedPublicKey:
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise UsageError(f"{where}: the key is not valid base64") from None
    if len(raw) != 32:
        raise UsageError(f"{where}: an Ed25519 public key is 32 bytes, not {len(raw)}")
    return NamedPublicKey(raw, clean_name(name))


def parse_public_line(text: str, where: str = "public key") -> NamedPublicKey:
    """``ed25519 <base64> [name]`` (surrounding blank lines and ``#`` comments ignored)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1:
        raise UsageError(f"{where}: not a DysmorphDesk public key (expected one line)")
    fields = lines[0].split(maxsplit=2)
    if len(fields) < 2 or fields[0] != ALGORITHM:
        raise UsageError(
            f"{where}: not a DysmorphDesk public key (expected 'ed25519 <key> <name>')"
        )
    return public_from_b64(fields[1], fields[2] if len(fields) > 2 else "", where)


def _read_key_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_FILE_BYTES:
            raise UsageError(f"{path.name}: too large to be a key file")
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"key file not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not a key file") from None
    except OSError as exc:
        raise UsageError(f"{path.name}: cannot read the key file ({exc.strerror or exc})") from None


def load_public(path: str | Path) -> NamedPublicKey:
    """A public key file (``ed25519 <base64> <name>``). Raises UsageError."""
    path = Path(path)
    data = _read_key_file(path)
    if b"PRIVATE KEY" in data:
        raise UsageError(f"{path.name}: this is a private key; give the .pub file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path.name}: not a DysmorphDesk public key (not text)") from None
    return parse_public_line(text, path.name)


def load_private(path: str | Path) -> Ed25519PrivateKey:
    """An unencrypted PKCS#8 PEM Ed25519 private key. Raises UsageError."""
    path = Path(path)
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise UsageError(
            f"{path.name}: the private key is encrypted; give an unencrypted one"
        ) from None
    except (ValueError, binascii.Error):
        raise UsageError(f"{path.name}: not a PEM private key") from None
    except UnsupportedAlgorithm:
        raise UsageError(f"{path.name}: not an Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path.name}: not an Ed25519 private key")
    return key


def public_path_for(private_path: str | Path) -> Path:
    """``clinic.pem`` -> ``clinic.pub``; ``clinic`` -> ``clinic.pub``; ``a.key`` -> ``a.key.pub``."""
    p = Path(private_path)
    return p.with_suffix(".pub") if p.suffix in (".pem", "") else p.with_name(p.name + ".pub")


def new_keypair(path: str | Path, name: str = "", *, force: bool = False) -> tuple[Path, Path]:
    """Create a key pair: ``path`` (private, PEM, 0600) and its ``.pub`` (one line).

    Both are written atomically; neither is written when either exists and ``force`` is not set.

    Returns:
        (private key path, public key path).
    """
    from dysmorph_desk.utils.atomic import check_writable, open_atomic, write_text_atomic

    priv_path = Path(path)
    pub_path = public_path_for(priv_path)
    if priv_path == pub_path:
        raise UsageError(f"{priv_path.name}: name the private key file differently from .pub")
    check_writable(priv_path, force)
    check_writable(pub_path, force)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open_atomic(priv_path, force=force) as fh:
        if hasattr(os, "fchmod"):  # owner-only before a byte of the key is written
            os.fchmod(fh.fileno(), 0o600)
        fh.write(pem)
    public = NamedPublicKey.from_key(key.public_key(), name or priv_path.stem)
    write_text_atomic(pub_path, public.line(), force=force)
    return priv_path, pub_path


def signed_message(digest: str) -> bytes:
    return SIGNED_PREFIX + digest.encode("utf-8")


def sign_digest(private: Ed25519PrivateKey, digest: str) -> str:
    """The ``signature`` slot's value for a bundle whose digest is ``digest``."""
    if not _DIGEST_RE.fullmatch(digest):
        raise BundleError("cannot sign: the digest is not 64 lowercase hex characters")
    public = NamedPublicKey.from_key(private.public_key())
    sig = base64.b64encode(private.sign(signed_message(digest))).decode("ascii")
    return f"{ALGORITHM}:{public.key_id}:{sig}"


@dataclass(frozen=True)
class Verdict:
    """What the signature slot says, before any status decision (``bundles/trust.py``)."""

    signed: bool
    key_id: str | None = None
    verified: bool = False  # True: verified against the trusted key it names


def parse_slot(signature_slot: str, where: str = "") -> tuple[str, bytes]:
    """(key id, 64-byte signature) of a non-empty slot. Raises BundleError when malformed."""
    prefix = f"{where}: " if where else ""
    m = _SLOT_RE.fullmatch(signature_slot.strip())
    if m is None:
        raise BundleError(f"{prefix}the signature slot is malformed; refusing the bundle")
    sig = base64.b64decode(m.group(2))
    if len(sig) != 64:
        raise BundleError(f"{prefix}the signature slot is malformed; refusing the bundle")
    return m.group(1), sig


def verify(
    signature_slot: str,
    digest: str,
    trusted_keys: dict[str, Ed25519PublicKey],
    *,
    where: str = "",
) -> Verdict:
    """Check a signature slot against the digest and the trusted keys (key id -> public key).

    Empty slot: unsigned. A key id that is not trusted: signed but unverifiable (untrusted). A
    trusted key whose signature does not verify, or a malformed slot: ``BundleError`` (exit 4).
    """
    if not signature_slot.strip():
        return Verdict(signed=False)
    kid, sig = parse_slot(signature_slot, where)
    key = trusted_keys.get(kid)
    if key is None:
        return Verdict(signed=True, key_id=kid, verified=False)
    try:
        key.verify(sig, signed_message(digest))
    except InvalidSignature:
        prefix = f"{where}: " if where else ""
        raise BundleError(
            f"{prefix}signature does not match: the bundle was modified after signing; refusing it"
        ) from None
    return Verdict(signed=True, key_id=kid, verified=True)


def sign_bundle(
    path: str | Path,
    key: Ed25519PrivateKey | str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
) -> Path:
    """Sign a format-2 bundle: verify its digest, set the signature slot, rewrite atomically.

    Args:
        path: the bundle.
        key: a private key, or the path of its PEM file.
        out: write the signed bundle here instead of replacing ``path``.
        force: with ``out``: overwrite an existing file.

    Returns:
        The path written.
    """
    from dysmorph_desk.bundles.container import read_bundle, write_bundle

    private = key if isinstance(key, Ed25519PrivateKey) else load_private(key)
    src = Path(path)
    dest = Path(out) if out is not None else src
    try:
        exists = dest.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, an embedded NUL
        if out is None:
            raise BundleError(f"bundle not found: {src}") from None
        from dysmorph_desk.utils.atomic import output_error

        raise output_error(dest, exc) from None
    in_place = dest.resolve() == src.resolve() if exists else False
    if not in_place and dest.exists() and not force:
        raise UsageError(f"{dest.name} exists; use --force to overwrite")
    contents = read_bundle(src)  # refuses a damaged or modified bundle before it is signed
    digest = contents.digest()
    contents.signature = sign_digest(private, digest)
    written = write_bundle(dest, contents, force=True)
    if written != digest:  # cannot happen: the slot is outside the digest
        raise BundleError(f"{dest.name}: the digest changed while signing; refusing it")
    return dest

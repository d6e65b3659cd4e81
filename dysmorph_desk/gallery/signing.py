"""Galleries are signed like bundles: the same Ed25519 keys, slot format and trust store.

The signature covers the gallery's content SHA-256 (``store.content_digest``), so it covers every
entry, embedding, calibration and photo. What is signed is ``dysmorph-desk-gallery/1 digest <hex>``
rather than the bundles' ``dysmorph-desk-bundle/2 digest <hex>``: a signature made for a gallery
can never be passed off as one made for a bundle, or the other way round. Keys are made with
``dysmorph-desk keys new`` and trusted with ``keys trust`` (``bundles/trust.py``); a gallery has no
status to cap, so trust only says whose signature it carries:

* unsigned, or signed by a key not in the trust store: used, and said so;
* signed by a trusted key (the demonstration key included): used, with the key's name;
* signed by a trusted key but the signature does not match: refused (``GalleryError``, exit 4).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dysmorph_desk.bundles.signing import ALGORITHM, NamedPublicKey, load_private, parse_slot
from dysmorph_desk.errors import BundleError
from dysmorph_desk.gallery.errors import GalleryError

SIGNED_PREFIX = b"dysmorph-desk-gallery/1 digest "


@dataclass(frozen=True)
class GalleryTrust:
    """What a gallery's signature slot says."""

    signed: bool
    key_id: str | None = None
    key_name: str | None = None
    verified: bool = False  # signed by a trusted key, and the signature matches

    @property
    def reason(self) -> str:
        if not self.signed:
            return "unsigned"
        if not self.verified:
            return f"signed by untrusted key {self.key_id}"
        if self.key_name:
            return f"signed by {self.key_name} ({self.key_id})"
        return f"signed by trusted key {self.key_id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "signed": self.signed,
            "key_id": self.key_id,
            "key_name": self.key_name,
            "verified": self.verified,
            "reason": self.reason,
        }


def signed_message(digest: str) -> bytes:
    return SIGNED_PREFIX + digest.encode("ascii")


def sign(key: Ed25519PrivateKey | str | Path, digest: str) -> str:
    """The signature slot's value for a gallery whose content digest is ``digest``."""
    private = key if isinstance(key, Ed25519PrivateKey) else load_private(key)
    public = NamedPublicKey.from_key(private.public_key())
    sig = base64.b64encode(private.sign(signed_message(digest))).decode("ascii")
    return f"{ALGORITHM}:{public.key_id}:{sig}"


def assess(signature_slot: str, digest: str, where: str) -> GalleryTrust:
    """Check the slot against the digest and the trusted keys; raises GalleryError on a mismatch
    by a trusted key or a malformed slot."""
    from dysmorph_desk.bundles.trust import trusted_keys

    if not signature_slot.strip():
        return GalleryTrust(signed=False)
    try:
        kid, sig = parse_slot(signature_slot)
    except BundleError:
        raise GalleryError(
            f"{where}: the signature slot is malformed; refusing the gallery"
        ) from None
    key = trusted_keys().get(kid)
    if key is None:
        return GalleryTrust(signed=True, key_id=kid)
    try:
        key.public.key().verify(sig, signed_message(digest))
    except InvalidSignature:
        raise GalleryError(
            f"{where}: signature does not match: the gallery was modified after signing; "
            "refusing it"
        ) from None
    return GalleryTrust(True, kid, key.name or None, verified=True)

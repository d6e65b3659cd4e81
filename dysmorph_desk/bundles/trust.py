"""The trust store: whose signature vouches for which status, and a bundle's effective status.

The store is a JSON file in the user's config folder (``utils.paths.trust_store_file``) listing
public keys, each with the highest status it may vouch for. The demonstration key shipped with the
package (``resources/keys/demo.pub``) is always trusted, for ``demonstration`` at most: its
private half is in the repository, so anyone can sign with it.

Effective status = the lower of the card's status and the signing key's maximum; an unsigned
bundle, or one signed by a key not in the store, is shown as ``research`` at most. See
docs/security.md.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from dysmorph_desk.bundles.cards import STATUS_RANK
from dysmorph_desk.bundles.signing import NamedPublicKey, parse_public_line, public_from_b64, verify
from dysmorph_desk.errors import UsageError
from dysmorph_desk.utils import paths, resources

log = logging.getLogger(__name__)

MAX_STATUSES = ("demonstration", "research", "validated")  # what a key may be trusted up to
UNTRUSTED_CAP = "research"  # unsigned, or signed by a key not in the store
DEMO_CAP = "demonstration"
STORE_VERSION = 1


def lower_status(a: str, b: str) -> str:
    """The lower of two statuses (``failed-validation`` < demonstration < research < validated)."""
    return a if STATUS_RANK[a] <= STATUS_RANK[b] else b


@dataclass(frozen=True)
class TrustedKey:
    """A public key in the trust store (or the built-in demonstration key)."""

    public: NamedPublicKey
    max_status: str
    added: str = ""
    builtin: bool = False

    @property
    def key_id(self) -> str:
        return self.public.key_id

    @property
    def name(self) -> str:
        return self.public.name

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "public_key": self.public.b64,
            "max_status": self.max_status,
            "added": self.added,
            "builtin": self.builtin,
        }


@dataclass(frozen=True)
class TrustVerdict:
    """What a bundle's signature makes of its card's status."""

    signed: bool
    key_id: str | None
    key_name: str | None
    key_max_status: str | None
    claimed_status: str
    effective_status: str
    reason: str  # one line, shown next to the status in model lists

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def demo_key() -> TrustedKey:
    """The shipped demonstration public key, trusted for ``demonstration`` at most."""
    node = resources.resource("keys", "demo.pub")
    public = parse_public_line(node.read_text(encoding="utf-8"), "demo.pub")
    return TrustedKey(public, DEMO_CAP, builtin=True)


def _entry(item: Any, where: str) -> TrustedKey:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: an entry is not a JSON object")
    public = public_from_b64(str(item.get("public_key", "")), str(item.get("name", "")), where)
    max_status = item.get("max_status")
    if max_status not in MAX_STATUSES:
        raise UsageError(f"{where}: key {public.key_id} has an unknown max_status {max_status!r}")
    if item.get("key_id") not in (None, public.key_id):
        raise UsageError(f"{where}: key_id {item.get('key_id')!r} does not match its public key")
    return TrustedKey(public, max_status, str(item.get("added", "")))


def load_store(*, strict: bool = True) -> list[TrustedKey]:
    """The user's trusted keys (not the built-in demonstration key).

    Args:
        strict: raise UsageError on an unreadable store (the ``keys`` commands, which rewrite
            it); otherwise log a warning and trust none of it (listing and loading bundles: the
            safe direction, every signature then counts as untrusted).
    """
    path = paths.trust_store_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise UsageError(f"{path.name}: no 'keys' list")
        return [_entry(item, path.name) for item in items]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, UsageError) as exc:
        message = (
            f"the trust store {path} is unreadable ({exc}); fix or delete it"
            if not isinstance(exc, UsageError)
            else f"the trust store {path} is invalid ({exc}); fix or delete it"
        )
        if strict:
            raise UsageError(message) from None
        log.warning("%s; no signing key but the demonstration key is trusted", message)
        return []


def _save_store(keys: list[TrustedKey]) -> None:
    from dysmorph_desk.utils.atomic import write_text_atomic

    entries = [{f: v for f, v in k.to_json().items() if f != "builtin"} for k in keys]
    body = {"version": STORE_VERSION, "keys": entries}
    write_text_atomic(
        paths.trust_store_file(), json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    )


def trusted_keys(*, strict: bool = False) -> dict[str, TrustedKey]:
    """Every trusted key by key id: the demonstration key first, then the store's."""
    demo = demo_key()
    out = {demo.key_id: demo}
    for k in load_store(strict=strict):
        out.setdefault(k.key_id, k)  # the demonstration key cannot be promoted through the store
    return out


def trust_key(public: NamedPublicKey, max_status: str, name: str | None = None) -> TrustedKey:
    """Add a key to the store (or change its name and maximum status). Raises UsageError."""
    if max_status not in MAX_STATUSES:
        raise UsageError(f"--max-status must be one of {', '.join(MAX_STATUSES)}")
    if public.key_id == demo_key().key_id:
        raise UsageError(
            "this is the demonstration key: its private half is public, so it is built in and "
            "vouches for demonstration at most"
        )
    if name is not None:
        public = NamedPublicKey(public.raw, name.strip())
    keys = [k for k in load_store(strict=True) if k.key_id != public.key_id]
    entry = TrustedKey(public, max_status, datetime.now(UTC).isoformat(timespec="seconds"))
    _save_store([*keys, entry])
    return entry


def find_key(key_id: str) -> TrustedKey:
    """A trusted key by id, or by a unique prefix of at least 4 characters. Raises UsageError."""
    wanted = key_id.strip().lower()
    if len(wanted) < 4:
        raise UsageError("give at least 4 characters of the key id (see `dysmorph-desk keys list`)")
    matches = [k for k in trusted_keys(strict=True).values() if k.key_id.startswith(wanted)]
    if not matches:
        raise UsageError(f"no trusted key {key_id!r} (see `dysmorph-desk keys list`)")
    if len(matches) > 1:
        raise UsageError(f"key id {key_id!r} is ambiguous; give more characters")
    return matches[0]


def untrust_key(key_id: str) -> TrustedKey:
    """Remove a key from the store; the demonstration key cannot be removed. Raises UsageError."""
    key = find_key(key_id)
    if key.builtin:
        raise UsageError(
            "the demonstration key is built in and cannot be removed; it vouches for "
            "demonstration at most"
        )
    _save_store([k for k in load_store(strict=True) if k.key_id != key.key_id])
    return key


def assess(
    signature_slot: str, digest: str, claimed_status: str, *, where: str = ""
) -> TrustVerdict:
    """A bundle's effective status from its signature slot, its claimed digest and its card.

    Raises BundleError (exit 4) for a malformed slot, or a signature by a trusted key that does not
    match the digest (the bundle was modified after signing).
    """
    keys = trusted_keys()
    verdict = verify(
        signature_slot, digest, {k: v.public.key() for k, v in keys.items()}, where=where
    )
    if not verdict.signed:
        return TrustVerdict(
            False,
            None,
            None,
            None,
            claimed_status,
            lower_status(claimed_status, UNTRUSTED_CAP),
            f"unsigned: shown as {UNTRUSTED_CAP} at most",
        )
    if not verdict.verified or verdict.key_id is None:
        return TrustVerdict(
            True,
            verdict.key_id,
            None,
            None,
            claimed_status,
            lower_status(claimed_status, UNTRUSTED_CAP),
            f"signed by untrusted key {verdict.key_id}: shown as {UNTRUSTED_CAP} at most",
        )
    key = keys[verdict.key_id]
    reason = (
        f"signed by the demonstration key: {DEMO_CAP} at most"
        if key.builtin
        else f"signed by {key.name or key.key_id} (trusted up to {key.max_status})"
    )
    return TrustVerdict(
        True,
        key.key_id,
        key.name,
        key.max_status,
        claimed_status,
        lower_status(claimed_status, key.max_status),
        reason,
    )

"""``dysmorph-desk keys``: create signing keys and manage the trust store.

``keys new`` writes a key pair; ``keys trust`` adds a public key with the highest status it may
vouch for; ``keys list`` shows the trusted keys (the built-in demonstration key first);
``keys untrust`` removes one. See docs/security.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def add_keys_parser(sub) -> None:
    """Register ``keys`` and its subcommands on the top-level subparsers."""
    from dysmorph_desk.bundles.trust import MAX_STATUSES

    k = sub.add_parser("keys", help="create signing keys and choose which keys are trusted")
    ks = k.add_subparsers(dest="keys_command", required=True, metavar="SUBCOMMAND")

    n = ks.add_parser("new", help="create an Ed25519 key pair (PATH and PATH's .pub)")
    n.add_argument("--out", type=Path, required=True, metavar="PATH", help="private key file")
    n.add_argument("--name", default="", help="name in the public key (default: the file's stem)")
    n.add_argument("--force", action="store_true", help="overwrite existing key files")
    n.set_defaults(func=cmd_keys_new)

    t = ks.add_parser("trust", help="trust a public key up to a status")
    t.add_argument(
        "public", type=Path, metavar="PUB", help="public key file (ed25519 <key> <name>)"
    )
    t.add_argument(
        "--max-status",
        required=True,
        choices=MAX_STATUSES,
        help="the highest status this key's signature vouches for",
    )
    t.add_argument("--name", help="name to show (default: the name in the key file)")
    t.set_defaults(func=cmd_keys_trust)

    ls = ks.add_parser("list", help="list the trusted keys")
    ls.add_argument("--json", action="store_true", help="list them as JSON")
    ls.set_defaults(func=cmd_keys_list)

    u = ks.add_parser("untrust", help="remove a key from the trust store")
    u.add_argument("key_id", metavar="KEY_ID", help="key id (or a unique prefix, 4+ characters)")
    u.set_defaults(func=cmd_keys_untrust)


def cmd_keys_new(args: argparse.Namespace) -> int:
    from dysmorph_desk.bundles.signing import load_public, new_keypair

    priv, pub = new_keypair(args.out, args.name, force=args.force)
    public = load_public(pub)
    _err(
        f"key {public.key_id} ({public.name}): keep {priv.name} secret; give {pub.name} to whoever "
        f"should trust it (`dysmorph-desk keys trust {pub.name} --max-status ...`)"
    )
    print(pub)
    return 0


def cmd_keys_trust(args: argparse.Namespace) -> int:
    from dysmorph_desk.bundles.signing import load_public
    from dysmorph_desk.bundles.trust import trust_key

    key = trust_key(load_public(args.public), args.max_status, args.name)
    print(f"trusted {key.key_id} ({key.name or 'unnamed'}) up to {key.max_status}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from dysmorph_desk.bundles.trust import trusted_keys

    keys = list(trusted_keys(strict=True).values())
    if args.json:
        print(json.dumps([k.to_json() for k in keys], indent=2, ensure_ascii=False))
        return 0
    for k in keys:
        added = "built in" if k.builtin else (k.added or "-")
        print(f"{k.key_id}\tup to {k.max_status}\t{k.name or '-'}\t{added}")
    return 0


def cmd_keys_untrust(args: argparse.Namespace) -> int:
    from dysmorph_desk.bundles.trust import untrust_key

    key = untrust_key(args.key_id)
    print(
        f"removed {key.key_id} ({key.name or 'unnamed'}); bundles it signed now show as research at most"
    )
    return 0

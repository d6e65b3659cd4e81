"""``dysmorph-desk gallery``: build, extend, inspect, prune, calibrate and sign a clinic gallery.

A gallery (``.ddgallery``, ``dysmorph_desk/gallery/``) holds embeddings of photos of children with
a known disorder; ``screen --gallery`` ranks disorders by how close a new photo lies to them. Every
embedding comes from the normal, torch-free screening pipeline. Photos are kept only with
``--with-photos``; rankings never show another child's patient id. Results go to stdout, messages
to stderr; exit statuses: 2 usage (and an invalid disorder id on the command line), 3 a photo or
data refused, 4 a gallery or bundle refused (missing, damaged, tampered, built with another model,
empty). See docs/gallery.md. This module is the command line; the subcommands are in
``cli/gallery_commands.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dysmorph_desk.cli.gallery_commands import (
    cmd_add,
    cmd_build,
    cmd_calibrate,
    cmd_info,
    cmd_list,
    cmd_remove,
    cmd_share,
    cmd_sign,
)


def _target(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("the target is a rate such as 0.05") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError("the target must lie strictly between 0 and 1")
    return v


class _IntermixedParser(argparse.ArgumentParser):
    """Options and positionals in any order (``gallery add G --model B ... PHOTO...``): plain
    argparse takes the positionals in one run, so photos after the options would be refused."""

    _inner = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def register(subparsers: Any) -> None:
    """Register ``gallery`` and its subcommands on the top-level subparsers."""
    from dysmorph_desk.utils.devices import DEVICE_CHOICES

    models = argparse.ArgumentParser(add_help=False)
    models.add_argument(
        "--model",
        action="append",
        dest="models",
        required=True,
        metavar="BUNDLE",
        help="bundle name or path whose embeddings the gallery holds; repeat for several",
    )
    models.add_argument(
        "--device",
        default=None,
        choices=DEVICE_CHOICES,
        help="where the models run (auto: the best found)",
    )
    signing = argparse.ArgumentParser(add_help=False)
    signing.add_argument(
        "--sign", type=Path, metavar="KEY", help="sign the written gallery with this private key"
    )
    photos = argparse.ArgumentParser(add_help=False)
    photos.add_argument(
        "--with-photos",
        action="store_true",
        help="also keep each photo in the gallery (a metadata-free JPEG); off by default",
    )

    g = subparsers.add_parser(
        "gallery", help="build and manage a clinic gallery of disorders (ranking by face)"
    )
    gs = g.add_subparsers(dest="gallery_command", required=True, parser_class=_IntermixedParser)

    b = gs.add_parser(
        "build", parents=[models, signing, photos], help="build a gallery from a labelled folder"
    )
    b.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="D",
        help="labels.csv folder, CSV or class folders; the label is the disorder id",
    )
    b.add_argument("--out", type=Path, required=True, metavar="G", help="the .ddgallery to write")
    b.add_argument(
        "--names", type=Path, metavar="CSV", help="disorder names: columns disorder_id,name"
    )
    b.add_argument(
        "--local-ids",
        action="store_true",
        help="labels that are not OMIM:/ORPHA: ids become LOCAL:<label>",
    )
    b.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="LABEL",
        help="leave a label out (e.g. control); repeatable",
    )
    b.add_argument("--title", default="", help="a title shown with the gallery")
    b.add_argument(
        "--demonstration",
        action="store_true",
        help="mark the gallery as a demonstration (synthetic) gallery",
    )
    b.add_argument("--force", action="store_true", help="overwrite G")
    b.set_defaults(func=cmd_build)

    a = gs.add_parser(
        "add",
        parents=[models, signing, photos],
        help="add photos of one patient, or a case of the case store",
    )
    a.add_argument("gallery", type=Path, metavar="G", help="the .ddgallery file")
    a.add_argument("photos", nargs="*", type=Path, metavar="PHOTO", help="photos of the patient")
    a.add_argument(
        "--disorder", required=True, metavar="ID", help="OMIM:nnnnnn, ORPHA:n or LOCAL:name"
    )
    a.add_argument("--name", default="", help="the disorder's name (default: the id)")
    a.add_argument("--patient", metavar="PID", help="the patient's pseudonymous id (with PHOTO...)")
    a.add_argument("--age", type=float, default=None, metavar="MONTHS", help="age at the photos")
    a.add_argument(
        "--case", metavar="UID", help="add the kept photos of this case of the case store"
    )
    a.add_argument("--store-path", type=Path, metavar="DIR", help="the case store's folder")
    a.set_defaults(func=cmd_add)

    ls = gs.add_parser("list", help="list the entries (with patient ids: for the gallery's keeper)")
    ls.add_argument("gallery", type=Path, metavar="G", help="the .ddgallery file")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)

    rm = gs.add_parser("remove", parents=[signing], help="remove entries by number, or a case's")
    rm.add_argument("gallery", type=Path, metavar="G", help="the .ddgallery file")
    rm.add_argument(
        "entries", nargs="*", type=int, metavar="ENTRY", help="entry numbers (see gallery list)"
    )
    rm.add_argument("--case", metavar="UID", help="remove every entry of this case-store case")
    rm.set_defaults(func=cmd_remove)

    c = gs.add_parser(
        "calibrate",
        parents=[models, signing],
        help="set the no-close-match threshold from photos of unrelated children",
    )
    c.add_argument("gallery", type=Path, metavar="G", help="the .ddgallery file")
    c.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="UNRELATED",
        help="photos of children with none of the gallery's disorders: a folder, labels.csv folder or CSV",
    )
    c.add_argument(
        "--target", type=_target, default=0.05, help="the false-match rate aimed at (default 0.05)"
    )
    c.set_defaults(func=cmd_calibrate)

    i = gs.add_parser("info", help="what a gallery holds: size, models, threshold, signature")
    i.add_argument("gallery", type=Path, metavar="G", help="the .ddgallery file")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_info)

    sh = gs.add_parser(
        "share",
        parents=[signing],
        help="write a copy for another clinic: embeddings only, no photos, new patient ids",
    )
    sh.add_argument("gallery", type=Path, metavar="G", help="the .ddgallery file")
    sh.add_argument(
        "--out", type=Path, required=True, metavar="COPY", help="the shareable copy to write"
    )
    sh.add_argument("--force", action="store_true", help="overwrite COPY")
    sh.set_defaults(func=cmd_share)

    s = gs.add_parser("sign", help="sign a gallery (rewritten in place)")
    s.add_argument("gallery", type=Path, metavar="G", help="the .ddgallery file")
    s.add_argument("--key", type=Path, required=True, metavar="KEY", help="the private key (PEM)")
    s.set_defaults(func=cmd_sign)

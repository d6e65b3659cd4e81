"""``dysmorph-desk gallery``: build, extend, inspect, prune, calibrate and sign a clinic gallery.

A gallery (``.ddgallery``, ``dysmorph_desk/gallery/``) holds embeddings of photos of children with
a known disorder; ``screen --gallery`` ranks disorders by how close a new photo lies to them. Every
embedding comes from the normal, torch-free screening pipeline. Photos are kept only with
``--with-photos``; rankings never show another child's patient id. Results go to stdout, messages
to stderr; exit statuses: 2 usage (and an invalid disorder id on the command line), 3 a photo or
data refused, 4 a gallery or bundle refused (missing, damaged, tampered, built with another model,
empty). See docs/gallery.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dysmorph_desk.errors import DataError, UsageError

if TYPE_CHECKING:
    from dysmorph_desk.gallery.embed import AddReport, GalleryPhoto
    from dysmorph_desk.gallery.store import LoadedGallery
    from dysmorph_desk.screening.pipeline import Screener


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _safe(text: object, limit: int = 200) -> str:
    from dysmorph_desk.utils.inputs import terminal_safe

    return terminal_safe(str(text), limit)


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


# ---------------------------------------------------------------------------------- helpers


def _screener(args: argparse.Namespace) -> Screener:
    """The screening pipeline with the named bundles (ONNX Runtime, no torch)."""
    from dysmorph_desk.bundles.format import load_bundle, resolve_bundle
    from dysmorph_desk.cli.commands import check_validated
    from dysmorph_desk.faces.detect import FaceDetector
    from dysmorph_desk.screening.pipeline import Screener
    from dysmorph_desk.settings import Settings
    from dysmorph_desk.utils.devices import pick_device

    settings = Settings.load()
    device = pick_device(args.device or settings.screening.device)
    infos = [resolve_bundle(n) for n in dict.fromkeys(args.models)]
    check_validated(infos, False, "build a gallery with")
    threads = settings.screening.threads or None
    bundles = [load_bundle(i.path, device, i.source, threads=threads) for i in infos]
    return Screener(bundles, FaceDetector(device=device))


def _check_models(gallery: LoadedGallery, screener: Screener) -> None:
    """Entries added later must sit in the gallery's embedding space(s)."""
    from dysmorph_desk.gallery.errors import GalleryError

    if not gallery.sets:
        return
    for b in screener.bundles:
        if b.sha256 not in gallery.sets:
            built = ", ".join(s.bundle_name for s in gallery.sets.values())
            raise GalleryError(
                f"{gallery.path.name} was built with {_safe(built)}, not {_safe(b.name)} "
                f"({b.sha256[:12]}): the embeddings are not comparable; add with the model it was built with"
            )


def _write(gallery: Any, path: Path, args: argparse.Namespace, *, force: bool = False) -> str:
    """Write atomically and say what became of the signature."""
    from dysmorph_desk.gallery.store import write_gallery

    key = getattr(args, "sign", None)
    before = getattr(gallery, "read_digest", None)
    had_signature = bool(getattr(gallery, "signature", ""))
    digest = write_gallery(gallery, path, force=force, key=key)
    if key is not None:
        _err(f"{path.name}: signed")
    elif had_signature and before == digest:
        _err(f"{path.name}: content unchanged, signature kept")
    elif had_signature:
        _err(
            f"{path.name}: the content changed, so its signature no longer applies and was "
            "removed: sign it again with --sign KEY"
        )
    return digest


def _report_added(report: AddReport, total: int, where: str) -> None:
    for i, reason in report.refused:
        _err(f"photo {i}/{total}: left out: {_safe(reason, 300)}")
    for i, reason in report.partial:
        _err(f"photo {i}/{total}: added without {_safe(reason, 300)}")
    _err(f"{where}: {len(report.added)} of {total} photos added")


# ---------------------------------------------------------------------------------- commands


def _check_annotated(disorder_ids: list[str], error: type[Exception], where: str) -> None:
    """Refuse OMIM:/ORPHA: ids that no HPO annotation knows (a mistyped number would silently
    rank by the face alone); a clinic's own disorder is a LOCAL: id, marked face-only."""
    from dysmorph_desk.gallery.ids import is_local
    from dysmorph_desk.phenotype import has_disease, load_ontology

    onto = load_ontology()
    unknown = [d for d in disorder_ids if not is_local(d) and not has_disease(d, ontology=onto)]
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise error(
            f"{where}: {shown} {'is' if len(unknown) == 1 else 'are'} in no disease annotation of "
            f"HPO release {onto.version}: check the number, or use a LOCAL: id (ranked by the "
            "face alone)"
        )


def cmd_build(args: argparse.Namespace) -> int:
    """``gallery build``: every photo of a labelled folder becomes an entry."""
    from dysmorph_desk.gallery.embed import add_photos
    from dysmorph_desk.gallery.model import Gallery
    from dysmorph_desk.gallery.sources import csv_names, photos_from_samples, read_names
    from dysmorph_desk.training.datasets import read_dataset
    from dysmorph_desk.utils.atomic import check_writable
    from dysmorph_desk.utils.inputs import LABEL_MAX, clean_text

    check_writable(args.out, args.force)
    names = csv_names(args.data)
    if args.names is not None:
        names.update(read_names(args.names))
    items = photos_from_samples(
        read_dataset(args.data), names=names, local_ids=args.local_ids, exclude=args.exclude
    )
    _check_annotated(sorted({i.disorder_id for i in items}), DataError, "the data's labels")
    screener = _screener(args)
    gallery = Gallery(
        title=clean_text(args.title, LABEL_MAX, "--title"),
        status="demonstration" if args.demonstration else "clinic",
    )
    _err(f"embedding {len(items)} photos with {', '.join(b.name for b in screener.bundles)}")
    report = add_photos(gallery, screener, items, keep_photos=args.with_photos, say=_err)
    _report_added(report, len(items), args.out.name)
    if not report.added:
        raise DataError("no photo could be added: the gallery was not written")
    _write(gallery, args.out, args, force=args.force)
    print(args.out)
    return 0


def _case_photos(args: argparse.Namespace) -> list[GalleryPhoto]:
    """The kept photos of a case of the case store, as gallery photos (source "case")."""
    from dysmorph_desk.gallery.embed import GalleryPhoto
    from dysmorph_desk.records.store import DB_NAME, CaseStore
    from dysmorph_desk.utils.inputs import open_regular

    if args.store_path is not None:
        folder = Path(args.store_path)
    else:
        from dysmorph_desk.settings import Settings
        from dysmorph_desk.utils import paths

        configured = Settings.load().records.store_path
        folder = Path(configured).expanduser() if configured else paths.store_dir()
    if not (folder / DB_NAME).exists():
        raise UsageError("the case store is empty: no case has been filed yet")
    with CaseStore(folder) as store:
        uid = store.resolve_uid(args.case)
        record = store.get_case(uid)
        found = [(v, p, store.photo_path(p)) for v in record.visits for p in v.photos]
        kept = [(v, p, path) for v, p, path in found if path is not None and path.is_file()]
        if not kept:
            raise UsageError(
                f"case {uid[:8]} keeps no photo files (the store kept their hashes only); add the "
                "photos with `gallery add G PHOTO... --patient PID`"
            )
        pid = args.patient or record.patient_id or f"case-{uid[:12]}"
        return [
            GalleryPhoto(
                open_regular(path),
                args.disorder,
                args.name,
                pid,
                "case",
                uid,
                visit.age_months if args.age is None else args.age,
            )
            for visit, _, path in kept
        ]


def cmd_add(args: argparse.Namespace) -> int:
    """``gallery add``: one patient's photos, or a case's kept photos, as new entries."""
    from dysmorph_desk.gallery import links
    from dysmorph_desk.gallery.embed import GalleryPhoto, add_photos
    from dysmorph_desk.gallery.ids import check_disorder_id, clean_patient_id
    from dysmorph_desk.gallery.model import Gallery
    from dysmorph_desk.gallery.store import read_gallery

    check_disorder_id(args.disorder)
    _check_annotated([args.disorder], UsageError, "--disorder")
    if (args.case is None) == (not args.photos):
        raise UsageError("give either PHOTO... (with --patient) or --case UID")
    if args.case is not None:
        items = _case_photos(args)
    else:
        if not args.patient:
            raise UsageError("photos need the patient's pseudonymous id: --patient PID")
        pid = clean_patient_id(args.patient)
        items = [
            GalleryPhoto(p, args.disorder, args.name, pid, "photo", None, args.age)
            for p in args.photos
        ]
    exists = args.gallery.exists()
    gallery: Any = read_gallery(args.gallery) if exists else Gallery()
    screener = _screener(args)
    if exists:
        _check_models(gallery, screener)
    report = add_photos(gallery, screener, items, keep_photos=args.with_photos, say=_err)
    _report_added(report, len(items), args.gallery.name)
    if not report.added:
        raise DataError("no photo could be added: the gallery was not changed")
    if args.case is not None:
        links.remember(args.gallery)  # before the write: a deletion must find it from now on
    _write(gallery, args.gallery, args)
    numbers = ", ".join(str(e.number) for e in report.added)
    print(f"added entries {numbers} ({report.added[0].disorder_id})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from dysmorph_desk.gallery.links import resolve_gallery
    from dysmorph_desk.gallery.store import read_gallery

    gallery = read_gallery(resolve_gallery(args.gallery))  # a shipped one by name too
    entries = [gallery.entries[n] for n in sorted(gallery.entries)]
    if args.json:
        doc = {"gallery": gallery.info(), "entries": [e.to_json() for e in entries]}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    rows = [
        (
            str(e.number),
            e.disorder_id,
            _safe(e.patient_id, 64),
            e.source if e.case_uid is None else f"case {e.case_uid[:8]}",
            e.added,
            "yes" if e.photo else "no",
            _safe(e.disorder_name, 80),
        )
        for e in entries
    ]
    head = ("entry", "disorder", "patient", "source", "added", "photo", "name")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from dysmorph_desk.gallery import links
    from dysmorph_desk.gallery.store import read_gallery

    if not args.entries and args.case is None:
        raise UsageError("name the entries to remove (numbers), or --case UID")
    gallery = read_gallery(args.gallery)
    unknown = [n for n in args.entries if n not in gallery.entries]
    if unknown:
        raise UsageError(f"no entry {unknown[0]} in {args.gallery.name}; nothing was removed")
    gone = gallery.remove(args.entries)
    if args.case is not None:
        gone += gallery.remove_case(args.case.strip().lower())
    if not gone:
        raise UsageError(f"no entry of case {_safe(args.case, 40)} in {args.gallery.name}")
    _write(gallery, args.gallery, args)
    if not gallery.case_uids():
        links.forget(args.gallery)
    print(f"removed entries {', '.join(str(e.number) for e in gone)}; {len(gallery.entries)} left")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``gallery calibrate``: the no-close-match threshold from photos of unrelated children."""
    import numpy as np

    from dysmorph_desk.errors import InputRefused
    from dysmorph_desk.gallery.calibration import calibrate_threshold
    from dysmorph_desk.gallery.embed import embed_photo
    from dysmorph_desk.gallery.sources import unrelated_photos
    from dysmorph_desk.gallery.store import read_gallery
    from dysmorph_desk.training.datasets import read_dataset

    gallery = read_gallery(args.gallery)
    screener = _screener(args)
    if len(screener.bundles) != 1:
        raise UsageError("calibrate one model at a time (one --model)")
    bundle = screener.bundles[0]
    gallery.set_for(bundle.sha256, bundle.name, args.gallery.name)
    data = Path(args.data)
    labelled = data.suffix.lower() == ".csv" or (data / "labels.csv").is_file()
    photos = unrelated_photos(data, read_dataset(data) if labelled else None)
    _err(f"embedding {len(photos)} photos of unrelated children with {bundle.name}")
    found, left_out = [], 0
    for path, age in photos:
        try:
            found.append(embed_photo(screener, path, age_months=age).embeddings[bundle.sha256][1])
        except InputRefused:
            left_out += 1
    if left_out:
        _err(f"{left_out} photos without an assessable face left out")
    t = calibrate_threshold(
        np.stack(found) if found else np.zeros((0, 1)), gallery, args.target, bundle=bundle
    )
    _write(gallery, args.gallery, args)
    print(f"{args.gallery.name}: {t.describe()}; target {t.target_false_match:g}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from dysmorph_desk.gallery.links import resolve_gallery
    from dysmorph_desk.gallery.store import read_gallery

    gallery = read_gallery(resolve_gallery(args.gallery))  # a shipped one by name too
    info = gallery.info()
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    print(f"{info['file']}: {_safe(info['title']) or '(no title)'} [{info['status']}]")
    print(f"  content SHA-256 {info['content_sha256']}; {info['signature']['reason']}")
    print(
        f"  {info['entries']} entries of {info['patients']} patients, {info['disorders']} disorders "
        f"({info['local_disorders']} local ids); photos kept: {info['photos_kept']}; "
        f"from the case store: {info['case_store_entries']}"
    )
    for s in gallery.sets.values():
        print(f"  {_safe(s.bundle_name, 80)} ({s.bundle_sha256[:12]}, {s.dim}-d): {len(s)} entries")
        print(
            f"    {s.threshold.describe() if s.threshold else 'no-match threshold not calibrated'}"
        )
    return 0


def cmd_share(args: argparse.Namespace) -> int:
    """``gallery share``: a copy without photos, case references or the clinic's patient ids."""
    from dysmorph_desk.gallery.links import resolve_gallery
    from dysmorph_desk.gallery.store import read_gallery, write_gallery

    source = resolve_gallery(args.gallery)  # a shipped one by name too
    gallery = read_gallery(source)
    if args.out.exists() and args.out.resolve() == source.resolve():
        raise UsageError("write the shared copy to another file (--out)")
    copy = gallery.shareable()
    write_gallery(copy, args.out, force=args.force, key=args.sign)
    _err(
        f"{args.out.name}: {len(copy.entries)} entries; photos, case references and patient ids "
        "left out" + ("; signed" if args.sign else "; unsigned (sign it with --sign KEY)")
    )
    print(args.out)
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    from dysmorph_desk.gallery.store import read_gallery, write_gallery

    gallery = read_gallery(args.gallery)
    write_gallery(gallery, args.gallery, key=args.key)
    signed = read_gallery(args.gallery)
    print(f"{args.gallery.name}: {signed.trust.reason}")
    return 0

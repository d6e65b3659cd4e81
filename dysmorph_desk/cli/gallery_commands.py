"""What ``dysmorph-desk gallery``'s subcommands do: build, add, list, remove, calibrate, info,
share and sign.

Split from ``cli/gallery.py`` (the ``gallery`` command line and its help) so each module stays
small. Every gallery, screening and store module is imported inside the command that needs it, so
registering the command costs no start-up time; none imports torch or Qt.
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

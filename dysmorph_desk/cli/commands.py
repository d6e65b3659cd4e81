"""The CLI's bundle, cache and data commands: ``models``, ``cache``, ``make-synthetic``, ``archs``.

``models --calibrate`` lives in ``cli/calibrate.py`` (torch-free: it runs the bundle's ONNX graph).

Kept apart from screening (``cli/__init__.py``) so each module stays small; the training-side
commands (``models --upgrade``, ``make-synthetic``, ``archs``) import the training package lazily,
so a runtime-only install lists, verifies and installs bundles without torch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dysmorph_desk.errors import BundleError, UsageError

if TYPE_CHECKING:
    from dysmorph_desk.utils.intervals import Rate


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def check_validated(infos, allow_unvalidated: bool, action: str) -> None:
    """Refuse (exit 4, one line naming ``--allow-unvalidated``) a bundle whose card says it failed
    validation; with the flag, warn on stderr instead (its results carry the status)."""
    from dysmorph_desk.bundles.cards import FAILED_LABEL
    from dysmorph_desk.utils.inputs import terminal_safe

    for info in infos:
        card = info.card
        if card.status != "failed-validation":
            continue
        name = terminal_safe(info.name, 80)
        reason = terminal_safe(card.failed_reason, 200)
        if not allow_unvalidated:
            raise BundleError(
                f"{name}: the model failed validation ({reason}); refusing to {action} it "
                f"(--allow-unvalidated to {action} it anyway, for research only)"
            )
        _err(f"warning: {name}: {FAILED_LABEL} ({reason}); its results are marked so")


def _looks_like_path(name: str) -> bool:
    """A ``--model`` value meant as a file (resolved, and refused with exit 4 if missing)."""
    from dysmorph_desk.bundles.format import BUNDLE_SUFFIX

    if "/" in name or os.sep in name or (os.altsep and os.altsep in name):
        return True
    try:
        return Path(name).suffix == BUNDLE_SUFFIX or Path(name).exists()
    except (OSError, ValueError):
        return True


def check_model_names(names: list[str] | None) -> None:
    """Refuse a ``--model`` that is neither an installed bundle's name nor a path: exit 2, one line
    naming the nearest installed name ("did you mean 'demo-hybrid'?"). Cheap (bundle headers
    only): run before anything loads.

    Args:
        names: the ``--model`` values (None or empty: the settings' default, checked on load).

    Raises:
        UsageError: an unknown name.
    """
    from dysmorph_desk.bundles.format import find_bundles
    from dysmorph_desk.cli.parsing import nearest
    from dysmorph_desk.utils.inputs import terminal_safe

    wanted = [n for n in names or [] if n != "all" and not _looks_like_path(n)]
    if not wanted:
        return
    installed = [info.name for info in find_bundles()]
    for name in wanted:
        if name in installed:
            continue
        shown = terminal_safe(name, 80)
        guess = nearest(name, installed)
        if guess is not None:
            raise UsageError(
                f"--model '{shown}': no installed bundle has this name; did you mean {guess!r}? "
                "(`dysmorph-desk models` lists them)"
            )
        listed = ", ".join(installed) or "none is installed"
        raise UsageError(
            f"--model '{shown}': no installed bundle has this name (installed: {listed})"
        )


def cmd_archs(args) -> int:
    from dysmorph_desk.nets import get_arch, list_archs

    for name in list_archs():
        spec = get_arch(name)
        print(f"{name}\t{spec.input_size} px\t{spec.source or '-'}\t{spec.description or '-'}")
    return 0


def cmd_models(args) -> int:
    from dysmorph_desk.bundles.format import find_bundles, load_bundle

    if args.key is not None and args.sign is None and args.calibrate is None:
        raise UsageError("--key goes with --sign BUNDLE or --calibrate BUNDLE")
    if args.data is not None and args.calibrate is None:
        raise UsageError("--data goes with --calibrate BUNDLE")
    if args.calibrate is not None:
        if args.sign is not None:
            raise UsageError("--calibrate signs with --key itself; drop --sign")
        from dysmorph_desk.cli.calibrate import cmd_calibrate

        return cmd_calibrate(args)
    if args.sign is not None:
        return _sign(args)
    if args.upgrade is not None:
        return _upgrade(args)
    if args.install is not None:
        from dysmorph_desk.bundles.format import install_bundle, read_header

        check_validated([read_header(args.install)], args.allow_unvalidated, "install")
        info = install_bundle(args.install, force=args.force, allow_failed=args.allow_unvalidated)
        print(info.path)
        return 0
    infos = find_bundles()
    if args.verify:
        for info in infos:
            load_bundle(info.path, source=info.source, allow_failed=True)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": i.name,
                        "path": str(i.path),
                        "source": i.source,
                        "sha256": i.sha256,
                        "status": i.card.status,  # effective: capped by the signing key's trust
                        "trust": i.trust.to_json() if i.trust is not None else None,
                        "card": i.card.to_dict(),
                    }
                    for i in infos
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    if not infos:
        print("no model bundles installed")
    for i in infos:
        c = i.card
        metrics = _rates_text(c)
        trust = i.trust.reason if i.trust is not None else "format 1: unsigned"
        print(
            f"{i.name}\t{c.architecture}\t{c.status_label} ({trust})\t"
            f"classes: {', '.join(c.class_ids)}\t{metrics or 'no validation metrics'}\t{i.source}"
        )
    return 0


def _sign(args) -> int:
    from dysmorph_desk.bundles.format import read_header
    from dysmorph_desk.bundles.signing import load_private, sign_bundle

    if args.key is None:
        raise UsageError(
            "--sign needs --key PRIVATE_KEY (create one with `dysmorph-desk keys new`)"
        )
    if args.upgrade is not None or args.install is not None:
        raise UsageError("--sign goes alone (with --key and optionally --out)")
    key = load_private(args.key)
    written = sign_bundle(args.sign, key, args.out, force=args.force)
    trust = read_header(written).trust
    _err(f"{written.name}: signed ({trust.reason if trust else 'unsigned'})")
    print(written)
    return 0


def cmd_cache(args) -> int:
    from dysmorph_desk.training.facecache import purge_cache

    if not args.purge:
        raise UsageError("nothing to do: use --purge")
    n = purge_cache()
    print(f"deleted {n} cached face(s)")
    return 0


def cmd_make_synthetic(args) -> int:
    from dysmorph_desk.training.synthetic import make_synthetic

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            _err(f"  {done}/{total} images")

    if getattr(args, "syndromes", None) is not None:
        from dysmorph_desk.training.synthetic.world import WorldSpec, make_syndrome_world

        if args.per_class is not None:
            raise UsageError("--per-class makes the two-class set; leave it out with --syndromes")
        spec = WorldSpec.from_options(
            args.syndromes,
            frequent=args.frequent,
            frequent_identities=args.frequent_identities,
            rare_identities=args.rare_identities,
            unrelated=args.unrelated,
            photos_per_identity=args.photos_per_identity,
            term_drop=args.term_drop,
            term_imprecision=args.term_imprecision,
            term_noise=args.term_noise,
        )
        world = make_syndrome_world(
            args.out, spec, seed=args.seed, hpo_dir=args.hpo_dir, progress=progress
        )
        print(f"wrote {world.description} to {world.out_dir}")
        return 0
    if args.per_class is None or args.per_class < 1:
        raise UsageError("--per-class must be at least 1 (or give --syndromes N)")

    summary = make_synthetic(
        args.out,
        args.per_class,
        seed=args.seed,
        photos_per_identity=args.photos_per_identity,
        variation=args.variation,
        progress=progress,
    )
    print(
        f"wrote {summary.n_images} images of {summary.n_identities} synthetic identities to {summary.out_dir}"
    )
    return 0


def _upgrade(args) -> int:
    try:
        from dysmorph_desk.training.bundle_io import upgrade_bundle
    except ImportError:
        raise UsageError("models --upgrade needs the [train] extra (PyTorch)") from None
    src: Path = args.upgrade
    dest: Path = args.out or src
    info = upgrade_bundle(src, dest, force=args.force or dest == src)
    _err(f"{src.name}: upgraded to bundle format 2")
    print(info.path)
    return 0


def _rate_text(name: str, rate: Rate) -> str:
    from dysmorph_desk.report.formatting import format_rate

    return f"{name} {format_rate(rate)}"


def _rates_text(card) -> str:
    """Sensitivity and specificity with their intervals and n (never a bare "1.000")."""
    rates = card.rates()
    if rates is None:
        return ""
    unit = f" per {rates.unit}" if rates.unit else ""
    return (
        _rate_text("sensitivity", rates.sensitivity)
        + ", "
        + _rate_text("specificity", rates.specificity)
        + unit
    )

"""What ``screen`` and ``demo`` print: a photo's and a visit's summary, and how photos are named.

Photos are named by position (``photo 2/5``) and, once read, by the first hex digits of their
SHA-256; their file names only with ``--include-photo-name`` (names can identify patients).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dysmorph_desk.cli.photos import SHORT_HASH
from dysmorph_desk.utils.inputs import LABEL_MAX, clean_text, terminal_safe


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _one_line(text: str, limit: int = 400) -> str:
    return terminal_safe(text, limit)


def class_probabilities_text(probabilities: dict[str, float], names: dict[str, str]) -> str:
    """Every class of a small model in card order; of a many-class one (a gallery encoder's 20
    syndromes) the most probable few and how many classes there are (the JSON has them all)."""
    from dysmorph_desk.report.formatting import shown_classes

    shown = shown_classes(probabilities)
    text = ", ".join(f"{names[c]} {p:.2f}" for c, p in shown)
    if len(shown) < len(probabilities):
        text += f" (the top {len(shown)} of {len(probabilities)} classes; --json for all)"
    return text


def summary_text(index: int, total: int, result) -> str:
    """A screened photo's lines: the answer first (as the report's summary box), then quality,
    each model's result and the warnings; the photo named by position and hash."""
    from dysmorph_desk.report.formatting import format_percent
    from dysmorph_desk.screening.summary import summarise

    lines = [
        f"photo {index}/{total} (sha256 {result.photo_sha256[:SHORT_HASH]}): {result.faces_detected} face(s) detected"
    ]
    # the answer first (the report's summary box): agreement, then each model's line
    said = summarise(result).text_lines(format_percent)
    lines += [("  summary: " if i == 0 else "    ") + t for i, t in enumerate(said)]
    bad = [q.name for q in result.quality if not q.passed]
    lines.append("  quality: " + ("all checks passed" if not bad else "failed " + ", ".join(bad)))
    for r in result.results:
        head = f"  {r.model} [{r.card.status_label}]"
        if not r.assessable:
            lines.append(f"{head}: cannot assess — {r.cannot_assess_reason}")
            continue
        probs = class_probabilities_text(r.probabilities, r.class_names)
        verdict = "FLAGGED for clinical review" if r.flagged else "not flagged"
        lines.append(
            f"{head}: {probs}; syndromic {r.syndromic_probability:.2f} vs threshold "
            f"{r.threshold:.2f} -> {verdict}"
        )
    for w in result.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def visit_summary_text(visit) -> str:
    """A visit's fused result per model (``--visit``)."""
    lines = [f"visit of {len(visit.photo_sha256s)} photo(s) ({visit.fusion}):"]
    for m in visit.models:
        head = f"  {m.model} [{m.card.status_label}]"
        if not m.assessable:
            lines.append(f"{head}: cannot assess — {m.cannot_assess_reason}")
            continue
        verdict = "FLAGGED for clinical review" if m.flagged else "not flagged"
        lines.append(
            f"{head}: syndromic {m.syndromic_probability:.2f} vs threshold {m.threshold:.2f} "
            f"-> {verdict} ({m.photos_assessed} of {m.photos_total} photos)"
        )
    lines += [f"  warning: {w}" for w in visit.warnings]
    return "\n".join(lines)


def photo_name(path: Path) -> str:
    """A photo's file name for messages (only with --include-photo-name): one clean line; a
    non-UTF-8 name becomes U+FFFD, never surrogates."""
    return clean_text(os.fsencode(path.name), LABEL_MAX, "file name")


def photo_label(index: int, total: int, name: str | None) -> str:
    """How messages name a photo: its position, and its file name only when asked for."""
    return f"photo {index}/{total}" + (f" ({_one_line(name, 120)})" if name else "")


def say_folders(given: list[Path], inputs, include_names: bool, recursive: bool) -> None:
    """Which positions each folder given became, so a refusal can be traced back to its folder."""
    from dysmorph_desk.cli.photos import has_subfolders

    for argument, path in enumerate(given, start=1):
        spots = [i for i, item in enumerate(inputs, start=1) if item.argument == argument]
        if not spots or inputs[spots[0] - 1].path == path:  # a file, or a folder with no photos
            continue
        shown = f" ({_one_line(photo_name(path), 120)})" if include_names else ""
        first, last = spots[0], spots[-1]
        which = f"photo {first}" if first == last else f"photos {first}-{last}"
        hint = "" if recursive or not has_subfolders(path) else "; --recursive adds its subfolders"
        _err(f"path {argument} of {len(given)} is a folder{shown}: {which} of {len(inputs)}{hint}")

"""A batch's results as one CSV table: a row per photo per model, refused photos included.

Made for a spreadsheet: UTF-8 (no byte-order mark), a header row, RFC 4180 quoting and CRLF line
ends (the ``csv`` module's default dialect). A cell that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: "CSV injection", e.g. a
photo named ``=HYPERLINK(...).jpg``) is written with a leading ``'``, which spreadsheets show as
text. Numbers are never negative here, so no number is changed by it.

Columns (:data:`COLUMNS`): ``photo`` (1-based position in the batch), ``photo_sha256``,
``photo_name`` (only when the result carries one, i.e. the user asked for file names), ``model``,
``bundle_sha256``, ``model_status`` (demonstration/research/...), ``status`` (``screened``,
``not assessable`` or ``refused``), ``assessable``/``flagged`` (``yes``/``no``, empty when
unknown), ``syndromic_probability`` (the JSON's rounded value), ``threshold``, ``predicted`` (the
class's display name) and ``reason`` (why a photo was refused or a model could not assess it).

Core module: no Qt, no torch.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from dysmorph_desk.screening.results import ScreeningResult
from dysmorph_desk.utils.atomic import write_bytes_atomic

__all__ = [
    "COLUMNS",
    "csv_bytes",
    "guard_cell",
    "summary_csv_bytes",
    "summary_rows",
    "write_summary_csv",
]

COLUMNS = (
    "photo",
    "photo_sha256",
    "photo_name",
    "model",
    "bundle_sha256",
    "model_status",
    "status",
    "assessable",
    "syndromic_probability",
    "threshold",
    "flagged",
    "predicted",
    "reason",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(float(value)):
        return ""
    return repr(round(float(value), 6))


def summary_rows(
    items: list[tuple[int, ScreeningResult | None, str | None]],
) -> list[dict[str, str]]:
    """The table's rows: one per photo per model; a refused photo gives one row with its reason.

    Args:
        items: ``(photo index 1-based, result or None when the photo was refused, the refusal
            reason)`` per photo of the batch, in order.

    Returns:
        One ``dict`` per row with every column of :data:`COLUMNS` as text (not yet guarded
        against formulas: :func:`write_summary_csv` does that).

    Example:
        >>> rows = summary_rows([(1, result, None), (2, None, "no face found")])  # doctest: +SKIP
        >>> [r["status"] for r in rows]  # doctest: +SKIP
        ['screened', 'not assessable', 'refused']
    """
    rows: list[dict[str, str]] = []
    for index, result, reason in items:
        base = dict.fromkeys(COLUMNS, "")
        base["photo"] = str(int(index))
        if result is None:
            base["status"] = "refused"
            base["reason"] = reason or "refused"
            rows.append(base)
            continue
        base["photo_sha256"] = result.photo_sha256
        if result.photo_label is not None:
            base["photo_name"] = result.photo_label
        if not result.results:
            rows.append(base | {"status": "not assessable", "reason": "no model results"})
            continue
        for r in result.results:
            value = r.syndromic_probability if r.assessable else None
            usable = value is not None and math.isfinite(float(value))
            predicted = r.class_names.get(r.predicted, r.predicted) if r.predicted else ""
            rows.append(
                base
                | {
                    "model": r.model,
                    "bundle_sha256": r.bundle_sha256,
                    "model_status": r.card.status,
                    "status": "screened" if usable else "not assessable",
                    "assessable": _yes_no(usable),
                    "syndromic_probability": _num(value) if usable else "",
                    "threshold": _num(r.threshold),
                    "flagged": _yes_no(r.flagged) if usable else "",
                    "predicted": (predicted or "") if usable else "",
                    "reason": ""
                    if usable
                    else (r.cannot_assess_reason or "the model could not assess this photo"),
                }
            )
    return rows


def guard_cell(value: object) -> str:
    """The cell as text, with a leading ``'`` when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    """The table as UTF-8 CSV bytes: the header, then the rows with every cell guarded.

    Raises:
        ValueError: a row has a column that is not in :data:`COLUMNS`.
    """
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="raise", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: guard_cell(v) for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


def summary_csv_bytes(items: list[tuple[int, ScreeningResult | None, str | None]]) -> bytes:
    """The CSV of a batch in one step (:func:`summary_rows`, then :func:`csv_bytes`), for a caller
    that writes it together with the run's other outputs (``write_together``)."""
    return csv_bytes(summary_rows(items))


def write_summary_csv(path: str | Path, rows: list[dict[str, str]], force: bool = False) -> Path:
    """Write the table atomically (see :func:`csv_bytes`).

    Raises:
        UsageError: ``path`` exists and ``force`` is not given, or is a folder.
        OutputError: the file could not be written.
    """
    return write_bytes_atomic(path, csv_bytes(rows), force=force, sync_dir=True)

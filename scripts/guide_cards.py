"""The user guide's generated pages: one per shipped bundle, from its model card (build time only).

Used by ``scripts/build_guide.py`` (which re-exports these names). A page states what the card
states, formatted as the PDF report formats it (``report.formatting``): the status and why (the
signature, read as a fresh installation reads it), intended use, classes, threshold, validated
ages, training data, validation with its intervals and numbers of children (or that they are
unknown), the predictive values at the report's default prevalence, subgroups, and the checks made
on every photo. Card text is escaped: a card is data, never markup.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
BUNDLE_PREFIX = "model-"  # the generated pages: model-<bundle file stem>.html


@functools.cache
def left_out_bundles() -> dict[str, str]:
    """``installer/contents.py``'s bundles that the installers leave out, with the reason (read
    once: every bundle's page and the models list ask)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "dd_installer_contents", ROOT / "installer" / "contents.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.LEFT_OUT_BUNDLES)


Bundle = tuple[str, Any, dict[str, Any]]  # (page name, BundleInfo, runtime JSON)


@contextmanager
def _fresh_install() -> Iterator[None]:
    """Read bundles as a fresh installation does: an empty config folder, so only the built-in
    demonstration key is trusted (this machine's trust store must not change the pages)."""
    saved = os.environ.get("DYSMORPH_DESK_HOME")
    with tempfile.TemporaryDirectory(prefix="dd-guide-") as home:
        os.environ["DYSMORPH_DESK_HOME"] = home
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("DYSMORPH_DESK_HOME", None)
            else:
                os.environ["DYSMORPH_DESK_HOME"] = saved


def shipped_bundles(models_dir: Path = MODELS_DIR) -> list[Bundle]:
    """(page name, ``BundleInfo``, runtime JSON) per ``*.ddbundle`` in ``models_dir``, by file name."""
    from dysmorph_desk.bundles.container import read_metadata
    from dysmorph_desk.bundles.format import read_header

    out = []
    with _fresh_install():
        for path in sorted(models_dir.glob("*.ddbundle")):
            info = read_header(path, "shipped")
            runtime = json.loads(read_metadata(path).get("runtime", "{}") or "{}")
            out.append((page_name(path), info, runtime if isinstance(runtime, dict) else {}))
    return out


def _left_out_reason(info: Any) -> str | None:
    """Why the installers leave this bundle out, or None when they carry it."""
    path = getattr(info, "path", None)
    return None if path is None else left_out_bundles().get(Path(path).name)


def page_name(bundle_path: Path) -> str:
    """The generated page of a bundle file: ``model-<safe stem>`` (never a path)."""
    from dysmorph_desk.bundles.format import safe_file_name

    return BUNDLE_PREFIX + safe_file_name(bundle_path.stem).lower()


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>\n"


def _key_table(rows: list[tuple[str, str]]) -> str:
    """A two-column table of already-escaped cells, the first column as row headers."""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>\n<tbody>{body}</tbody>\n</table>\n"


def _subgroup_lines(card: Any) -> list[str]:
    """The card's validation per age band and sex, as the report words it, or why there is none."""
    from dysmorph_desk.bundles.cards import (
        MIN_CHILDREN_PER_SUBGROUP,
        SUBGROUP_ATTRIBUTES,
        SubgroupRates,
        card_rates,
    )
    from dysmorph_desk.report.formatting import subgroup_text

    metrics = card.validation_metrics or {}
    recorded = metrics.get("subgroups")
    if not isinstance(recorded, dict):
        return ["Subgroups (age bands, sex): not recorded on the model card."]
    minimum = metrics.get("min_children_per_subgroup")
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        minimum = MIN_CHILDREN_PER_SUBGROUP
    lines = []
    for attribute in SUBGROUP_ATTRIBUTES:
        groups = recorded.get(attribute)
        entries = sorted(groups.items()) if isinstance(groups, dict) else []
        for group, entry in entries:
            rates = card_rates({"counts": entry})
            if rates is None or rates.unit != "child":
                continue
            n = (rates.sensitivity.n or 0) + (rates.specificity.n or 0)  # as the report counts
            validated = n >= minimum
            sub = SubgroupRates(
                attribute,
                str(group),
                n,
                minimum,
                rates.sensitivity if validated else None,
                rates.specificity if validated else None,
            )
            lines.append(subgroup_text(sub))
    return lines or ["Subgroups (age bands, sex): none recorded with counts per child."]


def bundle_body(info: Any, runtime: dict[str, Any], prevalence: float) -> str:
    """One shipped bundle's page, from its card, its signature and its runtime section."""
    from dysmorph_desk.report.formatting import (
        age_range_text,
        date_text,
        num,
        predictive_value_text,
        validation_note,
        validation_rows,
    )
    from dysmorph_desk.screening.atypicality import ATYPICAL_PERCENTILE

    card, trust = info.card, info.trust
    m = card.validation_metrics or {}
    td = card.training_data if isinstance(card.training_data, dict) else {}
    parts = [f"<h1>{_e(card.name)}</h1>"]
    warn = ' class="warn"' if card.status != "validated" else ""
    parts.append(f"<p{warn}>Status: {_e(card.status_label)}.</p>")
    if card.description:
        parts.append(f"<p>{_e(card.description)}</p>")
    left_out = _left_out_reason(info)
    if left_out:
        text = re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(left_out))
        parts.append(f'<p class="warn">Not in the installers. {text}</p>')
    rows = [
        ("Intended use", _e(card.intended_use or "not stated")),
        ("Architecture", f"<code>{_e(card.architecture)}</code>, face at {card.input_size} px"),
        (
            "Classes",
            "<br>".join(
                f"{_e(c.display_name)} (<code>{_e(c.id)}</code>)"
                + (" — <b>syndromic</b>" if c.syndromic else "")
                for c in card.classes
            ),
        ),
        ("Threshold", f"{_e(num(float(card.threshold)))} on the syndromic probability"),
        ("Heatmap grid", _e(cam_grids([("", info, runtime)]) + " cells over the face")),
        ("Validated ages", _e(age_range_text(card.age_range_months, None)[0])),
        ("Created", _e(date_text(card.created) if card.created else "not stated")),
        ("Bundle SHA-256", f"<code>{_e(info.sha256)}</code>"),
    ]
    parts.append("<h2>The card</h2>\n" + _key_table(rows))

    parts.append("<h2>Training data</h2>")
    parts.append(f"<p>{_e(td.get('summary') or 'not stated')}</p>")
    counts = [
        (label, _e(td[key]))
        for key, label in (("n_patients", "Patients"), ("n_photos", "Photos"))
        if isinstance(td.get(key), int)
    ]
    per_class = td.get("per_class_patients")
    if isinstance(per_class, dict):
        names = {c.id: c.display_name for c in card.classes}
        counts += [
            (f"Patients: {_e(names.get(k, k))}", _e(v)) for k, v in sorted(per_class.items())
        ]
    if counts:
        parts.append(_key_table(counts))

    parts.append('<h2 id="validation">Validation</h2>')
    if isinstance(m.get("protocol"), str):
        parts.append(f"<p>How: {_e(m['protocol'])}.</p>")
    tested = [
        f"{_e(m[key])} {word}"
        for key, word in (("n_test_photos", "photos"), ("n_test_patients", "patients"))
        if isinstance(m.get(key), int)
    ]
    if tested:
        parts.append(f"<p>Tested on {' of '.join(tested)}.</p>")
    vrows = [tuple(_e(c) for c in row) for row in validation_rows(card)]
    if vrows:
        parts.append(_table(("Metric", "Value", "95% CI", "Children"), vrows))
    parts.append(f"<p>{_e(validation_note(card.rates()))}</p>")
    pv = predictive_value_text(card, prevalence, True) or ""
    where = " at the report's default prevalence" if pv.startswith("PPV") else ""
    parts.append(f"<p>Predictive values{where}: {_e(pv)}.</p>")
    parts.append("".join(f"<p>{_e(line)}</p>" for line in _subgroup_lines(card)))
    if card.status == "failed-validation":
        parts.append(f'<p class="warn">{_e(card.failed_reason)}</p>')

    parts.append("<h2>Checks on every photo</h2>")
    if card.test_time_variants is None:
        variants = (
            "the card predates test-time variants: its metrics were computed on the original "
            "face alone; screening still averages the default versions of the face and says so "
            "in a warning."
        )
    else:
        variants = "its metrics were computed on the mean over these versions of each face: " + (
            ", ".join(card.test_time_variants) or "original"
        )
    parts.append(f"<p>Stability: {_e(variants)}</p>")
    atyp = runtime.get("atypicality")
    if isinstance(atyp, dict):
        n_fit, n_ref = atyp.get("n_fit"), atyp.get("n_reference")
        text = (
            f"Atypical photos: statistics of {_e(n_fit)} photos; reference distances of "
            f"{_e(n_ref)} held-out photos ({_e(atyp.get('reference', 'not stated'))}); source: "
            f"{_e(atyp.get('source', 'not stated'))}."
        )
        effect = "cannot assess" if card.atypical_is_cannot_assess else "a warning"
        above = atyp.get("atypical_above_percentile", ATYPICAL_PERCENTILE)
        text += f" A photo beyond their {_e(num(float(above), 1))}th percentile gives {effect}."
    else:
        text = "Atypical photos: this bundle carries no embedding statistics, so none is detected."
    parts.append(f"<p>{text}</p>")

    parts.append('<h2 id="signature">Signature and status</h2>')
    if trust is None:
        sig = "Format 1 bundle: no signature slot; the card's status is shown as written."
    else:
        sig = (
            f"{trust.reason}. The card claims {trust.claimed_status}; a fresh installation shows "
            f"it as {trust.effective_status}."
        )
        if trust.key_id:
            sig += f" Key id {trust.key_id}" + (f" ({trust.key_name})." if trust.key_name else ".")
    parts.append(f"<p>{_e(sig[:1].upper() + sig[1:])}</p>")
    parts.append(
        '<p>See <a href="statuses.html">Model statuses</a> and '
        '<a href="models.html">Where the numbers come from</a>.</p>'
    )
    return "\n".join(parts) + "\n"


def bundle_list(bundles: list[Bundle]) -> str:
    """The Markdown list of the generated bundle pages (the models page's ``{{ bundle_list }}``)."""
    if not bundles:
        return "No bundle ships with this version."
    return "\n".join(
        f"* [{_md(info.name)}]({page}.html): {_md(info.card.status_label)}; "
        f"architecture `{_md(info.card.architecture)}`"
        + (" (source install only: not in the installers)" if _left_out_reason(info) else "")
        for page, info, _ in bundles
    )


def cam_grids(bundles: list[Bundle]) -> str:
    """The shipped models' heatmap grids (their Grad-CAM layer's height x width), e.g. "7 × 7"."""
    grids = []
    for _, _, runtime in bundles:
        shape = runtime.get("activation_shape")
        if isinstance(shape, list) and len(shape) == 3:
            grids.append(f"{shape[1]} × {shape[2]}")
    return " or ".join(sorted(set(grids))) or "a few"


def shipped_interval_note(bundles: list[Bundle]) -> str:
    """Which shipped models' cards leave their intervals unknown (the results page says so)."""
    unknown = [
        info.name for _, info, _ in bundles if (r := info.card.rates()) and r.interval_unknown
    ]
    if not unknown:
        return "No model shipped with this version is in that case."
    if len(unknown) == len(bundles):
        return "All the models shipped with this version are in that case."
    names = ", ".join(_md(n) for n in unknown)
    return f"Of the models shipped with this version, these are in that case: {names}."


def _md(text: str) -> str:
    """Card text made inert in Markdown: HTML escaped, Markdown punctuation backslashed."""
    return re.sub(r"([\\`*_\[\]{}()#+!])", r"\\\1", html.escape(text, quote=False))

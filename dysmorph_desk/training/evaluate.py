"""``dysmorph-desk evaluate``: a bundle on a held-out set, and against clinicians' calls (seed 003, Fig. 4).

The bundle scores exactly as in screening: the engine's aligned face, the card's normalisation,
temperature and threshold. Readers' calls (``image, reader, call`` with ``call`` a class id) become
sensitivity/specificity points on the model's ROC; a reader outside the ROC's 95% bootstrap band
differs from the model (above: the reader is better; below: the model is).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dysmorph_desk.errors import DataError
from dysmorph_desk.training.datasets import Sample
from dysmorph_desk.training.metrics import METRIC_KEYS, binary_metrics
from dysmorph_desk.utils.atomic import write_text_atomic
from dysmorph_desk.utils.inputs import read_csv_rows

Say = Callable[[str], None]


def read_readers(
    path: Path, samples: list[Sample], data_root: Path, classes: list[str]
) -> tuple[dict[str, dict[int, str]], list[str]]:
    """``{reader: {sample index: call}}`` and the unmatched image names (a blank call means not
    rated); images are matched by their path as listed in the data
    (relative to its folder) or, when unambiguous, by file name."""
    rows = read_csv_rows(path)
    if not rows or not {"image", "reader", "call"} <= set(rows[0]):
        raise DataError(f"{Path(path).name}: needs columns image, reader, call (call = a class id)")
    by_path: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        by_path[str(s.path.resolve())] = i
        by_name.setdefault(s.path.name, []).append(i)
    calls: dict[str, dict[int, str]] = {}
    unknown_images, bad_calls = [], []
    for n, row in enumerate(rows, start=2):
        image, reader, call = (
            (row.get("image") or "").strip(),
            (row.get("reader") or "").strip(),
            (row.get("call") or "").strip(),
        )
        if not image or not reader:
            raise DataError(f"{Path(path).name}, line {n}: empty image or reader")
        if not call:  # the reader did not rate this photo
            continue
        if call not in classes:
            bad_calls.append(f"line {n}: {call!r}")
            continue
        p = Path(image)
        idx = by_path.get(str((p if p.is_absolute() else data_root / p).resolve()))
        if idx is None and len(by_name.get(p.name, [])) == 1:
            idx = by_name[p.name][0]
        if idx is None:
            unknown_images.append(image)
            continue
        if idx in calls.get(reader, {}):
            raise DataError(
                f"{Path(path).name}, line {n}: reader {reader!r} rated this image twice"
            )
        calls.setdefault(reader, {})[idx] = call
    if bad_calls:
        raise DataError(
            f"{Path(path).name}: calls must be class ids ({', '.join(classes)}); "
            f"{len(bad_calls)} are not, e.g. {bad_calls[0]}"
        )
    if not calls:
        raise DataError(
            f"{Path(path).name}: no call matches an image of the test data with a usable face"
        )
    return calls, unknown_images


def evaluate(
    bundle_ref: str,
    samples: list[Sample],
    out: Path,
    *,
    data_root: Path,
    readers: Path | None = None,
    prevalence: float = 0.01,
    n_boot: int = 1000,
    seed: int = 0,
    device: str = "auto",
    say: Say | None = None,
) -> dict[str, Any]:
    from dysmorph_desk.bundles.format import resolve_bundle
    from dysmorph_desk.training import evaluation as ev
    from dysmorph_desk.training import plots
    from dysmorph_desk.training.bundle_io import TorchModel, load_torch_bundle
    from dysmorph_desk.training.crossval import skipped_list
    from dysmorph_desk.training.data import load_faceset
    from dysmorph_desk.training.loop import make_runtime, softmax
    from dysmorph_desk.training.run import write_json

    say = say or (lambda m: None)
    info = resolve_bundle(bundle_ref)
    rt = make_runtime(device, "fp32")
    # the PyTorch reference of the bundle (batched, on the training device; the parity tests hold
    # the ONNX graphs screening runs to it)
    bundle = load_torch_bundle(info.path, device=rt.device, source=info.source)
    card = bundle.card
    classes = card.class_ids
    unknown = sorted({s.label for s in samples} - set(classes))
    if unknown:
        raise DataError(
            f"the test data has classes the model does not know: {', '.join(unknown)} "
            f"(model classes: {', '.join(classes)})"
        )
    positive = [c.id for c in card.classes if c.syndromic]
    present = {s.label for s in samples}
    if not present & set(positive) or not present - set(positive):
        raise DataError(
            f"the test data needs syndromic ({', '.join(positive)}) and non-syndromic photos "
            f"for ROC metrics; it has only {', '.join(sorted(present))}"
        )
    fs = load_faceset(samples, card.input_size, [c for c in positive if c in present], say)
    fs.classes, fs.positive = (
        classes,
        positive,
    )  # the model's classes, not just those present in the data
    y, is_pos = fs.y, fs.is_positive
    if is_pos.all() or not is_pos.any():
        raise DataError(
            "the test data needs both syndromic and non-syndromic photos for ROC metrics"
        )
    assert isinstance(bundle.model, TorchModel)
    # as screening computes it: the mean of the logits over the card's test-time variants
    logits, stability, atypicality = _variant_predictions(bundle, fs, rt)
    probs = softmax(logits, card.temperature)
    p = probs[:, fs.positive_idx].sum(1)
    m = binary_metrics(is_pos, p, card.threshold)
    by_patient = len(set(fs.groups)) < len(fs.groups)
    band = ev.roc_band(
        is_pos, p, n_boot=n_boot, seed=seed, groups=fs.groups if by_patient else None
    )
    attributes = {
        "age_band": [ev.age_band(s.age_months) for s in fs.samples],
        "sex": [s.sex for s in fs.samples],
        "ethnicity": [s.ethnicity for s in fs.samples],
    }
    # each child once: the mean of its photos' probabilities against the card's threshold
    child = ev.child_validation(
        is_pos,
        p,
        card.threshold,
        fs.groups,
        {k: attributes[k] for k in ("age_band", "sex")},
    )
    result: dict[str, Any] = {
        "model": card.name,
        "architecture": card.architecture,
        "status": card.status,
        "bundle_sha256": bundle.sha256,
        "threshold": card.threshold,
        "temperature": card.temperature,
        "n_photos": len(fs.samples),
        "n_patients": len(set(fs.groups)),
        "classes": classes,
        "positive": positive,
        "metrics_unit": "photo",  # "metrics"; "per_child" counts each child once
        "metrics": {k: m[k] for k in (*METRIC_KEYS, "tp", "fp", "fn", "tn", "n")},
        "per_child": child,
        "auc_ci95": list(band.auc_ci),
        "auc_ci95_method": f"{'patient' if by_patient else 'photo'}-level stratified bootstrap, {band.n_boot} resamples",
        "multiclass": ev.multiclass_metrics(y, probs, classes),
        "calibration": {
            "ece": ev.expected_calibration_error(is_pos, p),
            "reliability": ev.reliability_table(is_pos, p).to_dict(),
        },
        "subgroups": ev.subgroup_metrics(is_pos, p, p >= card.threshold, attributes),
        "at_prevalence": ev.at_prevalence(m["recall"], m["specificity"], prevalence),
        "at_prevalence_per_child": ev.at_prevalence(
            child["sensitivity"],
            child["specificity"],
            prevalence,
            sensitivity_ci95=child["sensitivity_ci95"],
            specificity_ci95=child["specificity_ci95"],
        ),
        "roc": band.to_dict(),
        "skipped": skipped_list(fs),
        "stability": stability,
        "atypicality": atypicality,
    }
    reader_rows: list[dict[str, Any]] = []
    points: list[ev.ReaderPoint] = []
    if readers is not None:
        calls, unmatched = read_readers(readers, fs.samples, data_root, classes)
        if unmatched:
            say(
                f"{len(unmatched)} reader call(s) name images that are not in the test data or have no usable "
                f"face; they are left out"
            )
        points = []
        for reader, reader_calls in calls.items():
            idx = np.array(sorted(reader_calls))
            called = np.array([reader_calls[i] in positive for i in idx])
            pt = ev.reader_points(is_pos[idx], {reader: called})[0]
            points.append(pt)
            comparable = np.isfinite(pt.sensitivity) and np.isfinite(pt.specificity)
            position = ev.compare_reader_to_band(pt, band) if comparable else "not comparable"
            reader_rows.append(
                {
                    **pt.to_dict(),
                    "position": position,
                    "accuracy": float(np.mean(called == is_pos[idx])),
                    "model_on_same_images": {
                        k: binary_metrics(is_pos[idx], p[idx], card.threshold)[k]
                        for k in ("recall", "specificity", "accuracy")
                    },
                }
            )
        result["unmatched_reader_rows"] = len(unmatched)
        result["readers"] = reader_rows
        outside = [r["reader"] for r in reader_rows if r["position"] in ("above", "below")]
        say(
            "readers outside the model's 95% ROC band: "
            + (", ".join(outside) if outside else "none")
        )
    out.mkdir(parents=True, exist_ok=True)
    plots.plot_roc(
        out / "roc.png",
        band,
        title=f"ROC of {card.name} on the test data",
        readers=[
            (pt, r["position"])
            for pt, r in zip(points, reader_rows, strict=False)
            if r["position"] != "not comparable"
        ]
        or None,
        subtitle=f"{card.status_label}; 95% band from {band.n_boot} bootstrap resamples",
    )
    pred = p >= card.threshold
    plots.plot_confusion(
        out / "confusion.png",
        [
            [int(np.sum(~is_pos & ~pred)), int(np.sum(~is_pos & pred))],
            [int(np.sum(is_pos & ~pred)), int(np.sum(is_pos & pred))],
        ],
        ["not syndromic", "syndromic"],
        title=f"{card.name} at its threshold {card.threshold:.3f}",
    )
    write_json(out / "evaluation.json", result)
    write_text_atomic(out / "evaluation.md", evaluation_table(result))
    return result


def _variant_predictions(bundle, fs, rt) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
    """Mean logits over the card's variants, the test-retest spread over the test photos and,
    when the bundle has statistics, where the test photos fall among its held-out distances."""
    from dysmorph_desk.screening.atypicality import ATYPICAL_PERCENTILE, Reference
    from dysmorph_desk.screening.stability import card_variants
    from dysmorph_desk.training.variants import photo_spreads, predict_outputs, spread_summary

    card = bundle.card
    variants, with_variants = card_variants(card)
    reference = Reference.of(bundle)
    spec_head = None
    if reference is not None:
        from dysmorph_desk.nets import get_arch

        head_layer = get_arch(card.architecture).head_layer
        spec_head = head_layer(bundle.model.model) if head_layer is not None else None
    out = predict_outputs(
        bundle.model.model, fs.faces, card.mean, card.std, rt, variants, head=spec_head
    )
    spread, crossing = photo_spreads(
        out["logits"], card.temperature, fs.positive_idx, card.threshold
    )
    stability = spread_summary(spread, crossing) if len(variants) > 1 else {}
    if stability:
        stability["variants"] = list(variants)
        stability["card_metrics_with_variants"] = with_variants
    atypicality: dict[str, Any] = {}
    if reference is not None and "embedding" in out:
        pct = np.array([reference.percentile(d) for d in reference.distance(out["embedding"])])
        atypicality = {
            "median_percentile": round(float(np.median(pct)), 2),
            "share_atypical": round(float(np.mean(pct > ATYPICAL_PERCENTILE)), 4),
            "atypical_above_percentile": ATYPICAL_PERCENTILE,
        }
    return out["logits"].mean(axis=0), stability, atypicality


def evaluation_table(r: dict[str, Any]) -> str:
    from dysmorph_desk.training.tables import NAMES, _f, _header, _row

    m = r["metrics"]
    from dysmorph_desk.bundles.cards import DEMO_LABEL

    lines = [f"# Evaluation of {r['model']} ({r['architecture']}, {r['status']})", ""]
    if r["status"] == "demonstration":
        lines += [f"**{DEMO_LABEL.capitalize()}.**", ""]
    lines += [
        (
            f"{r['n_photos']} photos of {r['n_patients']} patients; threshold {r['threshold']:.3f}, "
            f"temperature {r['temperature']:.3f} (from the bundle)."
        ),
        "",
    ]
    lines += _header([NAMES[k] for k in METRIC_KEYS] + ["AUC 95% CI"])
    lo, hi = r["auc_ci95"]
    lines.append(_row([_f(m[k]) for k in METRIC_KEYS] + [f"{_f(lo)}–{_f(hi)}"]))
    prev = r["at_prevalence"]
    lines += [
        "",
        "Metrics above are per photo.",
        "",
        (
            f"At a prevalence of {prev['prevalence']:.2%}: PPV {_f(prev['ppv'], 3)}, NPV {_f(prev['npv'], 3)}. "
            f"Expected calibration error {_f(r['calibration']['ece'], 3)}."
        ),
    ]
    if r.get("per_child"):
        lines += ["", per_child_text(r["per_child"], r.get("at_prevalence_per_child"))]
    st = r.get("stability")
    if st:
        lines += [
            "",
            (
                f"Test-retest spread over {st['n_photos']} photos ({', '.join(st['variants'])}): "
                f"max − min syndromic probability median {st['spread_median']:.3f}, 90th "
                f"percentile {st['spread_p90']:.3f}."
            ),
        ]
    if r.get("readers"):
        lines += ["", "## Readers on the model's ROC (seed 003, Fig. 4)", ""]
        lines += _header(
            [
                "Reader",
                "Images",
                "Sensitivity",
                "Specificity",
                "Accuracy",
                "Against the model's 95% band",
                "Model sens./spec. on the same images",
            ]
        )
        words = {
            "inside": "inside (no significant difference)",
            "above": "above (reader better)",
            "below": "below (model better)",
            "not comparable": "not comparable (the reader saw only one class)",
        }
        for rr in r["readers"]:
            ms = rr["model_on_same_images"]
            lines.append(
                _row(
                    [
                        rr["reader"],
                        str(rr["n"]),
                        _f(rr["sensitivity"], 3),
                        _f(rr["specificity"], 3),
                        _f(rr["accuracy"], 3),
                        words.get(rr["position"], rr["position"]),
                        f"{_f(ms['recall'], 3)} / {_f(ms['specificity'], 3)}",
                    ]
                )
            )
    return "\n".join(lines) + "\n"


def per_child_text(child: dict[str, Any], prev: dict[str, Any] | None = None) -> str:
    """One paragraph: the per-child counts, sensitivity and specificity with exact 95 % CIs."""
    c = child["counts"]

    def rate(name: str, k: int, n: int) -> str:
        lo, hi = child[f"{name}_ci95"]
        value = "n/a" if n == 0 else f"{k}/{n} = {k / n:.3f}"
        return f"{name} {value} (95% CI {lo:.3f}–{hi:.3f})"

    text = (
        f"Counted per child ({c['n_children']} children, {c['n_photos']} photos; {child['rule']}): "
        f"{rate('sensitivity', c['tp'], c['tp'] + c['fn'])}, "
        f"{rate('specificity', c['tn'], c['tn'] + c['fp'])}, exact (Clopper–Pearson) intervals."
    )
    if prev and "ppv_range" in prev:
        (p_lo, p_hi), (n_lo, n_hi) = prev["ppv_range"], prev["npv_range"]
        text += (
            f" At a prevalence of {prev['prevalence']:.2%}: PPV {p_lo:.3f}–{p_hi:.3f}, "
            f"NPV {n_lo:.3f}–{n_hi:.3f} (from those intervals)."
        )
    return text

"""Markdown tables laid out like the seeds' (per-fold rows, mean ± SD; side-by-side architectures)."""

from __future__ import annotations

import math
from typing import Any

from dysmorph_desk.bundles.cards import DEMO_LABEL
from dysmorph_desk.training.metrics import METRIC_KEYS

NAMES = {
    "accuracy": "Accuracy",
    "recall": "Recall",
    "specificity": "Specificity",
    "precision": "Precision",
    "f1": "F1",
    "mcc": "MCC",
    "kappa": "Kappa",
    "auc": "AUC",
}


def _f(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _header(cols: list[str]) -> list[str]:
    return [_row(cols), _row(["---"] * len(cols))]


def cv_table(m: dict[str, Any], title: str = "") -> str:
    """``RUN/table.md`` for one architecture."""
    lines = [
        f"# {title or m['arch']}",
        "",
        (
            f"Protocol: {m['protocol']}. "
            f"{m['n_photos']} photos of {m['n_patients']} patients; syndromic class(es): {', '.join(m['positive'])}."
        ),
        "",
    ]
    if m.get("status") == "demonstration":
        lines += [
            f"**{DEMO_LABEL.capitalize()}**: synthetic data; these numbers say nothing about real patients.",
            "",
        ]
    lines += _header(["Fold"] + [NAMES[k] for k in METRIC_KEYS] + ["Threshold", "Test photos"])
    for f in m["folds"]:
        lines.append(
            _row(
                [str(f["fold"])]
                + [_f(f[k]) for k in METRIC_KEYS]
                + [_f(f["threshold"], 3), str(f["n_test_photos"])]
            )
        )
    lines.append(
        _row(
            ["**Mean ± SD**"]
            + [f"{_f(m['mean'][k])} ± {_f(m['std'][k])}" for k in METRIC_KEYS]
            + ["", ""]
        )
    )
    lo, hi = m["auc_ci95"]
    lines += ["", f"AUC 95% CI ({m.get('auc_ci95_method', 'bootstrap')}): {_f(lo)}–{_f(hi)}.", ""]
    lines += _header(
        ["Runtime-training (s)", "Runtime-test (s/image)", "Parameters", "Precision", "Device"]
    )
    lines.append(
        _row(
            [
                f"{m['runtime_train_s']:.1f}",
                f"{m['runtime_test_s_per_image']:.4f}",
                f"{m['n_parameters']:,}",
                m.get("precision_used", ""),
                m.get("device", ""),
            ]
        )
    )
    cal = m["calibration"]
    prev = m["at_prevalence"]
    lines += [
        "",
        (
            f"Calibration: expected calibration error {_f(cal['ece_uncalibrated'], 3)} before and "
            f"{_f(cal['ece_calibrated'], 3)} after temperature scaling (pooled out-of-fold)."
        ),
        (
            f"At a prevalence of {prev['prevalence']:.2%}: PPV {_f(prev['ppv'], 3)}, NPV {_f(prev['npv'], 3)} "
            f"(pooled sensitivity {_f(m['pooled']['recall'], 3)}, specificity {_f(m['pooled']['specificity'], 3)})."
        ),
    ]
    mc = m.get("multiclass") or {}
    if len(m["classes"]) > 2 and mc:
        lines += ["", "## Per class (one-vs-rest, pooled out-of-fold)", ""]
        lines += _header(["Class", "Precision", "Recall", "Specificity", "F1", "AUC"])
        for c in m["classes"]:
            pc = mc["per_class"][c]
            lines.append(
                _row([c] + [_f(pc[k]) for k in ("precision", "recall", "specificity", "f1", "auc")])
            )
        ma = mc["macro"]
        lines.append(
            _row(
                ["**macro**"]
                + [_f(ma[k]) for k in ("precision", "recall", "specificity", "f1", "auc")]
            )
        )
        lines.append(f"\nTop-1 accuracy over {len(m['classes'])} classes: {_f(mc['accuracy'])}.")
        mf = m.get("multiclass_folds") or {}
        if mf:
            lines.append(
                "Over folds (mean ± SD): "
                + ", ".join(
                    f"{'top-1 accuracy' if k == 'accuracy' else 'macro ' + k} {_f(mf['mean'][k])} ± {_f(mf['std'][k])}"
                    for k in ("accuracy", "precision", "recall", "specificity", "f1", "auc")
                    if k in mf["mean"]
                )
                + "."
            )
    subs = m.get("subgroups") or {}
    if subs:
        lines += ["", "## Subgroups (pooled out-of-fold, syndromic vs not)", ""]
        lines += _header(
            [
                "Attribute",
                "Group",
                "Photos",
                "Syndromic",
                "Accuracy",
                "Recall",
                "Specificity",
                "AUC",
            ]
        )
        for attr, groups in subs.items():
            for g, gm in groups.items():
                lines.append(
                    _row(
                        [attr, g, str(gm["n"]), str(gm["n_positive"])]
                        + [_f(gm[k]) for k in ("accuracy", "recall", "specificity", "auc")]
                    )
                )
    if m.get("final"):
        fm = m["final"]
        lines += [
            "",
            (
                f"Exported bundle: trained on all photos for {fm['epochs']} epochs; temperature "
                f"{fm['temperature']:.3f}, threshold {fm['threshold']:.3f} (from the out-of-fold predictions)."
            ),
        ]
    if m.get("skipped"):
        lines += [
            "",
            f"{len(m['skipped'])} photo(s) had no usable face and were left out (see metrics.json).",
        ]
    return "\n".join(lines) + "\n"


def compare_table(runs: list[dict[str, Any]]) -> str:
    """Side by side (seed 000 Tables 3-4, seed 004): mean ± SD, AUC CI, runtimes, parameters."""
    first = runs[0]
    lines = [
        "# Architecture comparison",
        "",
        (
            f"Same folds for every architecture ({first['protocol']}); {first['n_photos']} photos of "
            f"{first['n_patients']} patients."
        ),
        "",
    ]
    if any(m.get("status") == "demonstration" for m in runs):
        lines += [
            f"**{DEMO_LABEL.capitalize()}**: synthetic data; these numbers say nothing about real patients.",
            "",
        ]
    lines += _header(["Architecture"] + [NAMES[k] for k in METRIC_KEYS] + ["AUC 95% CI"])
    for m in runs:
        lo, hi = m["auc_ci95"]
        lines.append(
            _row(
                [m["arch"]]
                + [f"{_f(m['mean'][k])} ± {_f(m['std'][k])}" for k in METRIC_KEYS]
                + [f"{_f(lo)}–{_f(hi)}"]
            )
        )
    lines += ["", "## Cost", ""]
    lines += _header(
        ["Architecture", "Runtime-training (s)", "Runtime-test (s/image)", "Parameters", "ECE"]
    )
    for m in runs:
        lines.append(
            _row(
                [
                    m["arch"],
                    f"{m['runtime_train_s']:.1f}",
                    f"{m['runtime_test_s_per_image']:.4f}",
                    f"{m['n_parameters']:,}",
                    _f(m["calibration"]["ece_calibrated"], 3),
                ]
            )
        )
    return "\n".join(lines) + "\n"

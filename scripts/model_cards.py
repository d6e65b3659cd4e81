"""Print the shipped bundles' model cards as Markdown tables (for docs/demo-models.md).

    .venv/bin/python scripts/model_cards.py

Every number comes from the bundles' manifests, which the training run computed: sensitivity and
specificity counted per child (each child once) with their exact 95 % intervals, the AUC with its
interval, the test-retest spread over the test-time variants, and the atypicality reference.
"""

from __future__ import annotations

from typing import Any

from dysmorph_desk.bundles.container import read_bundle
from dysmorph_desk.bundles.format import find_bundles


def _ci(value: Any, ci: Any) -> str:
    if not isinstance(value, float | int):
        return "—"
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return f"{value:.3f} ({ci[0]:.3f}–{ci[1]:.3f})"
    return f"{value:.3f}"


def main() -> None:
    infos = [i for i in find_bundles() if i.source == "shipped"]
    print(
        "| bundle | architecture | status | test children (photos) | sensitivity, per child (95 % CI) "
        "| specificity, per child (95 % CI) | AUC, per photo (95 % CI) | threshold | temperature |"
    )
    print("|---" * 9 + "|")
    for info in infos:
        c, m = info.card, info.card.validation_metrics
        counts = m.get("counts") or {}
        tp, fn, tn, fp = (counts.get(k, 0) for k in ("tp", "fn", "tn", "fp"))
        sens = tp / (tp + fn) if tp + fn else None
        spec = tn / (tn + fp) if tn + fp else None
        print(
            f"| {info.name} | {c.architecture} | {c.status} | {counts.get('n_children', '—')} "
            f"({counts.get('n_photos', '—')}) | {_ci(sens, m.get('sensitivity_ci95'))} "
            f"| {_ci(spec, m.get('specificity_ci95'))} | {_ci(m.get('auc'), m.get('auc_ci95'))} "
            f"| {c.threshold:.3f} | {c.temperature:.2f} |"
        )
    print()
    print(
        "| bundle | test-time variants | spread median | spread 90th pct | test photos crossing "
        "the threshold | atypicality: fitted on / reference photos |"
    )
    print("|---" * 6 + "|")
    for info in infos:
        m = info.card.validation_metrics
        st = m.get("stability") or {}
        aty = read_bundle(info.path).runtime.get("atypicality") or {}  # no graphs loaded
        print(
            f"| {info.name} | {', '.join(info.card.test_time_variants or ['original'])} "
            f"| {st.get('spread_median', '—')} | {st.get('spread_p90', '—')} "
            f"| {st.get('share_crossing_threshold', 0):.1%} of {st.get('n_photos', '—')} "
            f"| {aty.get('n_fit', '—')} / {aty.get('n_reference', '—')} |"
        )
    for info in infos:
        print(
            f"\n* `{info.name}`: SHA-256 `{info.sha256}`; trained on: {info.card.training_data.get('summary', '')}"
        )


if __name__ == "__main__":
    main()

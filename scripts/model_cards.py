"""Print the shipped bundles' model cards as a Markdown table (for docs/demo-models.md).

    .venv/bin/python scripts/model_cards.py
Every number comes from the bundles' manifests, which the training run computed.
"""

from __future__ import annotations

from dysmorph_desk.bundles.format import find_bundles

KEYS = ("accuracy", "recall", "specificity", "precision", "f1", "mcc", "kappa", "auc")


def main() -> None:
    print(
        "| bundle | architecture | status | test photos (patients) | "
        + " | ".join(KEYS)
        + " | threshold | temperature |"
    )
    print("|---" * (len(KEYS) + 6) + "|")
    for info in find_bundles():
        c, m = info.card, info.card.validation_metrics
        vals = " | ".join(f"{m[k]:.3f}" if isinstance(m.get(k), float) else "—" for k in KEYS)
        print(
            f"| {info.name} | {c.architecture} | {c.status} | {m.get('n_test_photos', '—')} "
            f"({m.get('n_test_patients', '—')}) | {vals} | {c.threshold:.3f} | {c.temperature:.2f} |"
        )
    for info in find_bundles():
        print(
            f"\n* `{info.name}`: SHA-256 `{info.sha256}`; trained on: {info.card.training_data.get('summary', '')}"
        )


if __name__ == "__main__":
    main()

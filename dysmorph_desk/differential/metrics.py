"""Top-k accuracy of a ranking, per frequency class, each rate with its exact interval and n.

GestaltMatcher (Hsieh et al. 2022) and GestaltMatcher-Arc report top-1/5/10/30 accuracy separately
for frequent and rare disorders; the same table is built here from the rank at which each query
case's true disorder appeared (``None``: not ranked at all). Cases are counted per query patient,
not per photo, so a child photographed five times does not count five times.
"""

from __future__ import annotations

from collections.abc import Sequence

from dysmorph_desk.utils.intervals import Rate

TOP_K = (1, 5, 10, 30)


def topk_rates(ranks: Sequence[int | None], ks: Sequence[int] = TOP_K) -> dict[int, Rate]:
    """The share of cases whose true disorder ranked within the top k, for each k.

    Example:
        >>> rates = topk_rates([1, 3, None, 12])
        >>> rates[1].k, rates[5].k, rates[30].k, rates[30].n
        (1, 2, 3, 4)
    """
    n = len(ranks)
    return {k: Rate.of(sum(1 for r in ranks if r is not None and r <= k), n) for k in ks}


def topk_table(
    ranks: Sequence[int | None], groups: Sequence[str], ks: Sequence[int] = TOP_K
) -> dict[str, dict[int, Rate]]:
    """Top-k rates per group (e.g. "frequent", "rare") and over all cases ("all")."""
    if len(ranks) != len(groups):
        raise ValueError("one group per rank")
    table = {"all": topk_rates(ranks, ks)}
    for group in sorted(set(groups)):
        table[group] = topk_rates([r for r, g in zip(ranks, groups, strict=True) if g == group], ks)
    return table

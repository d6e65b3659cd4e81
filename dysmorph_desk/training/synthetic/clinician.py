"""A clinician's HPO terms for a synthetic child, simulated as the Phenomizer evaluation did.

Terms copied from the annotation being scored make phenotype ranking trivially perfect, so each
child gets a noisy, imprecise version of its syndrome's true terms, after Köhler et al. 2009
("Clinical diagnostics in human genetics with semantic similarity searches in ontologies",
Am J Hum Genet 85:457-464), whose simulated patients had "imprecision" (terms replaced by an
ancestor, as a clinician who describes a finding only at a general level) and "noise" (unrelated
clinical problems: half as many random terms as the patient had features, none an ancestor or
descendant of the disease's terms or of each other). In that order:

1. **drop**: a fraction of the true terms is not recorded (not every feature is seen or entered);
2. **imprecision**: a fraction of the remaining terms is replaced by a random ancestor at most
   ``ancestor_levels`` is_a steps up (never "Phenotypic abnormality" or the root; Köhler's
   strongest setting replaced every term by any ancestor: ``imprecision=1, ancestor_levels=None``);
   two terms that meet in one ancestor become one;
3. **noise**: ``floor(noise x kept terms)`` unrelated terms are added (Köhler: 0.5), drawn from the
   terms annotated to any disease, outside the face territory (the photo shows the face; a noise
   term must not contradict it), and unrelated (neither ancestor nor descendant) to every term of
   the disease's annotation, to the child's terms and to each other.

Everything is drawn from the generator handed in; the world gives each child its own stream for
terms, separate from its face, so changing these parameters never changes a photo.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dysmorph_desk.errors import UsageError
from dysmorph_desk.training.synthetic.hpo_source import PHENOTYPIC_ABNORMALITY, ROOT, HpoData

_MAX_TRIES = 200


@dataclass(frozen=True)
class TermNoise:
    """How a simulated clinician departs from the true terms (defaults documented above).

    Attributes:
        drop: fraction of the true terms left out (rounded; at least one term is kept).
        imprecision: fraction of the kept terms replaced by an ancestor (rounded).
        ancestor_levels: at most this many is_a steps up for the ancestor; None: any ancestor.
        noise: unrelated terms added per kept term (rounded down; Köhler 2009: 0.5).
        unrelated_case_terms: terms recorded for a child with no syndrome (all unrelated).
    """

    drop: float = 0.3
    imprecision: float = 0.5
    ancestor_levels: int | None = 2
    noise: float = 0.5
    unrelated_case_terms: int = 3

    def __post_init__(self) -> None:
        for name in ("drop", "imprecision"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise UsageError(f"term {name} must be between 0 and 1 (got {v})")
        if not 0.0 <= self.noise <= 5.0:
            raise UsageError(f"term noise must be between 0 and 5 (got {self.noise})")
        if self.ancestor_levels is not None and self.ancestor_levels < 1:
            raise UsageError("ancestor levels must be at least 1")
        if self.unrelated_case_terms < 0:
            raise UsageError("terms of unrelated children must not be negative")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SimulatedTerms:
    """What happened to one child's terms; ``terms`` is what the clinician entered."""

    true_terms: tuple[str, ...]
    dropped: tuple[str, ...]
    generalised: tuple[tuple[str, str], ...]  # (true term, ancestor entered instead)
    added: tuple[str, ...]
    terms: tuple[str, ...]


def ancestors_within(hpo: HpoData, term: str, levels: int | None) -> list[str]:
    """Proper ancestors of ``term`` at most ``levels`` is_a steps up (all when None), excluding the
    root and "Phenotypic abnormality", sorted."""
    if levels is None:
        found = set(hpo.ancestors(term))
    else:
        found = set()
        frontier = {term}
        for _ in range(levels):
            frontier = {p for t in frontier for p in hpo.parents.get(t, ())}
            found |= frontier
    return sorted(found - {ROOT, PHENOTYPIC_ABNORMALITY})


def noise_pool(hpo: HpoData) -> list[str]:
    """Candidate noise terms: phenotypic terms annotated to some disease, outside the face."""
    used = {t for d in hpo.diseases.values() for t in d.terms}
    return sorted(t for t in used if hpo.is_phenotype(t) and not hpo.is_facial(t))


def _unrelated_terms(
    hpo: HpoData,
    k: int,
    pool: Sequence[str],
    avoid: Iterable[str],
    rng: np.random.Generator,
) -> list[str]:
    """Up to ``k`` pool terms, each unrelated to every term in ``avoid`` and to each other."""
    avoid_set = set(avoid)
    avoid_anc = set().union(*(hpo.ancestors(t) for t in avoid_set)) if avoid_set else set()
    out: list[str] = []
    tries = 0
    while len(out) < k and tries < _MAX_TRIES and pool:
        tries += 1
        t = pool[int(rng.integers(0, len(pool)))]
        if t in avoid_set or t in avoid_anc or hpo.ancestors(t) & avoid_set:
            continue
        if any(hpo.related(t, u) for u in out):
            continue
        out.append(t)
    return out


def simulate_terms(
    hpo: HpoData,
    true_terms: Sequence[str],
    params: TermNoise,
    rng: np.random.Generator,
    *,
    pool: Sequence[str],
    annotation: Iterable[str] = (),
) -> SimulatedTerms:
    """One child's entered terms: drop, then imprecision, then noise (see the module docstring).

    Args:
        hpo: the ontology (parents for the ancestors).
        true_terms: the syndrome's true terms for this child.
        params: the fractions and counts.
        rng: this child's term stream.
        pool: candidate noise terms (``noise_pool``).
        annotation: every term of the disease being simulated; noise avoids all of them.

    Example:
        >>> sim = simulate_terms(hpo, ("HP:0000316", "HP:0001250"), TermNoise(), rng, pool=pool)  # doctest: +SKIP
    """
    true = tuple(dict.fromkeys(true_terms))
    n = len(true)
    n_drop = min(round(params.drop * n), max(n - 1, 0))
    drop_idx = set(int(i) for i in rng.choice(n, size=n_drop, replace=False)) if n_drop else set()
    kept = [t for i, t in enumerate(true) if i not in drop_idx]
    dropped = tuple(t for i, t in enumerate(true) if i in drop_idx)

    n_gen = round(params.imprecision * len(kept))
    gen_idx = (
        set(int(i) for i in rng.choice(len(kept), size=n_gen, replace=False)) if n_gen else set()
    )
    entered: list[str] = []
    generalised: list[tuple[str, str]] = []
    for i, t in enumerate(kept):
        if i in gen_idx:
            options = ancestors_within(hpo, t, params.ancestor_levels)
            if options:
                up = options[int(rng.integers(0, len(options)))]
                generalised.append((t, up))
                t = up
        if t not in entered:
            entered.append(t)

    n_add = math.floor(params.noise * len(kept))
    added = _unrelated_terms(hpo, n_add, pool, [*annotation, *true, *entered], rng)
    return SimulatedTerms(
        true_terms=true,
        dropped=dropped,
        generalised=tuple(generalised),
        added=tuple(added),
        terms=tuple(entered + added),
    )


def unrelated_child_terms(
    hpo: HpoData, params: TermNoise, rng: np.random.Generator, *, pool: Sequence[str]
) -> SimulatedTerms:
    """Terms of a child with no syndrome: ``unrelated_case_terms`` mutually unrelated pool terms."""
    added = tuple(_unrelated_terms(hpo, params.unrelated_case_terms, pool, (), rng))
    return SimulatedTerms((), (), (), added, added)

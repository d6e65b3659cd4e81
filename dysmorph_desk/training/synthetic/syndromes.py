"""Synthetic syndromes: distinct facial signatures tied to real diseases' HPO annotations.

Each synthetic syndrome borrows one real OMIM or Orphanet disease from ``phenotype.hpoa``:

- its *facial signature* is made of the drawable features (``features.FEATURES``) whose HPO terms
  the disease is annotated with (the term itself or a more specific one, e.g. a disease annotated
  with Hypertelorism gets wider-set eyes), at most one per axis and at most ``max_features`` of
  them, each at a level drawn for the syndrome;
- its *non-facial terms* are drawn from the disease's annotated terms outside head or neck, eye
  and ear (``hpo_source.FACE_TERRITORY``), more frequent ones more often;
- its *true terms* are the two together, so that the phenotype ranking over all real diseases can
  find the disease, and the photo shows exactly the facial part.

Signatures are kept apart: any two differ in at least two features (the symmetric difference of
their feature sets), so no syndrome's face is another's plus one change. Everything is drawn from
the generator handed in, so one seed and one HPO release give the same syndromes.

Frequency classes follow the GestaltMatcher split: *frequent* syndromes have at least 10
identities (some train an embedding model, others are gallery entries and queries), *rare* ones 1-5
(gallery and queries only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dysmorph_desk.errors import UsageError
from dysmorph_desk.training.synthetic.features import FEATURES, FEATURES_BY_NAME, Feature
from dysmorph_desk.training.synthetic.hpo_source import Disease, HpoData

FREQUENT = "frequent"
RARE = "rare"
UNRELATED = "unrelated"

TRAIN, GALLERY, QUERY = "train", "gallery", "query"
FREQUENT_MIN_IDENTITIES = 10
RARE_MAX_IDENTITIES = 5
# Of a frequent syndrome's identities, these fractions (at least one each) are gallery entries and
# queries; the rest train the embedding model.
GALLERY_FRACTION = 0.2
QUERY_FRACTION = 0.2

MIN_FEATURES = 2
MAX_FEATURES = 4
MIN_BODY_TERMS = 3
BODY_TERMS = 8
MIN_SIGNATURE_DISTANCE = 2
LEVEL_RANGE = (0.3, 1.0)  # a syndrome's level of each feature, in its amount range


@dataclass(frozen=True)
class Finding:
    """One facial feature of a syndrome: the drawn change, the disease's term for it, its level."""

    feature: str
    hpo_id: str
    level: float

    @property
    def spec(self) -> Feature:
        return FEATURES_BY_NAME[self.feature]


@dataclass(frozen=True)
class Syndrome:
    """One synthetic syndrome (``key`` S001...) and the real disease whose annotation it borrows."""

    key: str
    disease_id: str
    disease_name: str
    findings: tuple[Finding, ...]
    body_terms: tuple[str, ...]
    frequency: str = ""
    n_identities: int = 0

    @property
    def facial_terms(self) -> tuple[str, ...]:
        return tuple(f.hpo_id for f in self.findings)

    @property
    def true_terms(self) -> tuple[str, ...]:
        return self.facial_terms + self.body_terms

    @property
    def signature(self) -> frozenset[str]:
        return frozenset(f.feature for f in self.findings)


def parse_range(text: str | Sequence[int], what: str) -> tuple[int, int]:
    """``"1-5"``, ``"3"`` or a pair -> (low, high), refusing anything else with a one-line message."""
    if not isinstance(text, str):
        lo, hi = (int(v) for v in text)
    else:
        parts = text.replace(" ", "").split("-")
        try:
            if len(parts) == 1:
                lo = hi = int(parts[0])
            elif len(parts) == 2:
                lo, hi = int(parts[0]), int(parts[1])
            else:
                raise ValueError
        except ValueError:
            raise UsageError(
                f"{what}: expected a number or a range like 1-5, got {text!r}"
            ) from None
    if lo < 1 or hi < lo:
        raise UsageError(f"{what}: the range {lo}-{hi} is empty or below 1")
    return lo, hi


def _feature_index(hpo: HpoData, terms: Sequence[str]) -> dict[str, list[Feature]]:
    """For each term, the drawable features it is (or is a descendant of)."""
    out: dict[str, list[Feature]] = {}
    for t in terms:
        hits = [f for f in FEATURES if hpo.is_a(t, f.hpo_id)]
        if hits:
            out[t] = hits
    return out


def _drawable(
    disease: Disease, index: dict[str, list[Feature]]
) -> dict[str, tuple[float, str, str]]:
    """axis -> (frequency weight, feature name, the disease's term) of the disease's best-supported
    drawable feature on that axis (a disease annotated both ways keeps the more frequent)."""
    best: dict[str, tuple[float, str, str]] = {}
    for term in sorted(disease.terms):
        for f in index.get(term, ()):
            cand = (disease.terms[term], f.name, term)
            cur = best.get(f.axis)
            if cur is None or (cand[0], cur[1]) > (cur[0], cand[1]):
                best[f.axis] = cand
    return best


def _body_terms(hpo: HpoData, disease: Disease) -> list[tuple[str, float]]:
    return [
        (t, w)
        for t, w in sorted(disease.terms.items())
        if w > 0 and hpo.is_phenotype(t) and not hpo.is_facial(t)
    ]


def _weighted_pick(
    rng: np.random.Generator, items: Sequence[tuple[str, float]], k: int
) -> list[str]:
    if len(items) <= k:
        return [t for t, _ in items]
    w = np.array([wt for _, wt in items], dtype=np.float64) + 0.05
    idx = rng.choice(len(items), size=k, replace=False, p=w / w.sum())
    return [items[i][0] for i in sorted(idx)]


def _eligible(hpo: HpoData) -> tuple[dict[str, list[Feature]], list[str]]:
    """The drawable features of every annotated term, and the diseases (sorted ids) with at least
    ``MIN_FEATURES`` drawable axes and ``MIN_BODY_TERMS`` non-facial terms (cached on ``hpo``)."""
    cached = hpo.derived.get("syndromes.eligible")
    if cached is None:
        all_terms = sorted({t for d in hpo.diseases.values() for t in d.terms})
        index = _feature_index(hpo, all_terms)
        eligible = [
            did
            for did in sorted(hpo.diseases)
            if len(_drawable(hpo.diseases[did], index)) >= MIN_FEATURES
            and len(_body_terms(hpo, hpo.diseases[did])) >= MIN_BODY_TERMS
        ]
        cached = hpo.derived["syndromes.eligible"] = (index, eligible)
    return cached  # type: ignore[return-value]


def draw_syndromes(
    hpo: HpoData,
    n: int,
    rng: np.random.Generator,
    *,
    max_features: int = MAX_FEATURES,
    body_terms: int = BODY_TERMS,
) -> list[Syndrome]:
    """``n`` syndromes with pairwise distinct signatures, each tied to a different real disease.

    Args:
        hpo: the ontology and annotations (``hpo_source.load_hpo``).
        n: how many syndromes.
        rng: the generator that decides everything (diseases, features, levels, terms).
        max_features: most facial features per syndrome (at least ``MIN_FEATURES``).
        body_terms: most non-facial terms per syndrome.

    Raises:
        UsageError: fewer than ``n`` distinct syndromes can be drawn from the annotations.
    """
    if n < 1:
        raise UsageError("--syndromes must be at least 1")
    index, eligible = _eligible(hpo)
    out: list[Syndrome] = []
    for i in rng.permutation(len(eligible)):
        if len(out) == n:
            break
        disease = hpo.diseases[eligible[int(i)]]
        drawable = _drawable(disease, index)
        axes = sorted(drawable)
        if len(axes) > max_features:
            w = np.array([drawable[a][0] for a in axes]) + 0.05
            pick = rng.choice(len(axes), size=max_features, replace=False, p=w / w.sum())
            axes = [axes[j] for j in sorted(pick)]
        signature = frozenset(drawable[a][1] for a in axes)
        if any(len(signature ^ s.signature) < MIN_SIGNATURE_DISTANCE for s in out):
            continue
        findings = tuple(
            Finding(drawable[a][1], drawable[a][2], round(float(rng.uniform(*LEVEL_RANGE)), 3))
            for a in axes
        )
        body = _weighted_pick(rng, _body_terms(hpo, disease), body_terms)
        out.append(
            Syndrome(
                f"S{len(out) + 1:03d}", disease.disease_id, disease.name, findings, tuple(body)
            )
        )
    if len(out) < n:
        raise UsageError(
            f"only {len(out)} distinct synthetic syndromes can be drawn from this HPO release; "
            f"ask for at most {len(out)}"
        )
    return out


def assign_frequencies(
    syndromes: list[Syndrome],
    frequent: int,
    frequent_identities: tuple[int, int],
    rare_identities: tuple[int, int],
    rng: np.random.Generator,
) -> list[Syndrome]:
    """The first ``frequent`` syndromes become frequent, the rest rare, each with a drawn number of
    identities in its class's range (frequent: at least 10; rare: 1-5)."""
    if not 0 <= frequent <= len(syndromes):
        raise UsageError(
            f"--frequent must be between 0 and the number of syndromes ({len(syndromes)})"
        )
    if frequent_identities[0] < FREQUENT_MIN_IDENTITIES:
        raise UsageError(
            f"frequent syndromes have at least {FREQUENT_MIN_IDENTITIES} identities "
            f"(got {frequent_identities[0]})"
        )
    if rare_identities[1] > RARE_MAX_IDENTITIES:
        raise UsageError(
            f"rare syndromes have 1-{RARE_MAX_IDENTITIES} identities (got up to {rare_identities[1]})"
        )
    out = []
    for i, s in enumerate(syndromes):
        cls, (lo, hi) = (FREQUENT, frequent_identities) if i < frequent else (RARE, rare_identities)
        n = int(rng.integers(lo, hi + 1))
        out.append(Syndrome(s.key, s.disease_id, s.disease_name, s.findings, s.body_terms, cls, n))
    return out


def roles_for(frequency: str, n: int) -> list[str]:
    """The role of each of a syndrome's ``n`` identities, in generation order.

    Frequent: ``train`` for most, then ``gallery`` and ``query`` (``GALLERY_FRACTION`` and
    ``QUERY_FRACTION`` of them, at least one each). Rare with two or more identities: ``gallery``
    for all but the last, which is the ``query``. Rare with one identity: ``gallery`` — its first
    photo is the gallery entry and its other photos are queries of the *same* child (the world
    marks them ``query_type=same_patient``), since there is no second child to ask about.
    """
    if frequency == FREQUENT:
        q = max(1, round(QUERY_FRACTION * n))
        g = max(1, round(GALLERY_FRACTION * n))
        return [TRAIN] * (n - q - g) + [GALLERY] * g + [QUERY] * q
    if n == 1:
        return [GALLERY]
    return [GALLERY] * (n - 1) + [QUERY]


def identity_levels(
    syndrome: Syndrome, rng: np.random.Generator, penetrance: float
) -> dict[str, float]:
    """The features one child of the syndrome shows and their levels.

    Each finding is present with probability ``penetrance`` (at least one always is: the
    strongest), at the syndrome's level times a per-child expressivity factor (0.75-1.25).
    """
    levels: dict[str, float] = {}
    for f in syndrome.findings:
        present = rng.random() < penetrance
        factor = rng.uniform(0.75, 1.25)
        if present:
            levels[f.feature] = round(float(f.level * factor), 4)
    if not levels:
        strongest = max(syndrome.findings, key=lambda f: (f.level, f.feature))
        levels[strongest.feature] = strongest.level
    return levels

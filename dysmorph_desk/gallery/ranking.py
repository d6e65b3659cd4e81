"""Ranking disorders by how close a face lies to their gallery patients (cosine distance).

Distance: ``d = 1 - cos(query, entry)``, in [0, 2] (0: the same direction; embeddings are unit
vectors, so the cosine is a dot product). Per disorder, each of its patients counts once, at the
distance of that patient's nearest photo, and the disorder's score is

* ``nearest`` (default): the distance of its nearest patient — GestaltMatcher's nearest-neighbour
  rule, which lets a disorder seen in one child rank first;
* ``mean-k``: the mean distance of its ``k`` nearest patients (all of them when it has fewer) —
  steadier for disorders with many patients, since one look-alike child does not decide alone,
  but it penalises a disorder whose patients vary.

"No close match": when the nearest entry of all lies beyond the threshold calibrated on unrelated
children (``calibration.py``), the ranking says so; the list is still given, for completeness.

Privacy: a ranking names gallery entries by number and disorder only, never by patient id.

Speed: the index (rows grouped by disorder and patient, the matrix contiguous) is built once per
gallery state; a ranking is one matrix-vector product and a few vectorised group reductions
(benchmarks/bench_gallery.py: 10,000 entries well under 20 ms).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from dysmorph_desk.errors import ModelError, UsageError
from dysmorph_desk.gallery.errors import GalleryError
from dysmorph_desk.gallery.ids import is_local
from dysmorph_desk.gallery.model import EmbeddingSet, Gallery, NoMatchThreshold, unit_vector

if TYPE_CHECKING:
    from dysmorph_desk.screening.results import ScreeningResult

AGGREGATES = ("nearest", "mean-k")
DEFAULT_AGGREGATE = "nearest"
DEFAULT_K = 3
NEAREST_SHOWN = 5  # the gallery's nearest entries listed with every ranking
PER_DISORDER = 3  # a disorder's nearest patients listed (entry number and distance)
DEMO_NOTE = (
    "demonstration gallery (synthetic children): it tests the machinery; not for clinical use"
)


class BundleLike(Protocol):
    """What ranking needs of a bundle: its digest and its name (``LoadedBundle``, ``BundleInfo``)."""

    @property
    def sha256(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class NearestEntry:
    """A gallery entry near the query: its number, disorder and distance (no patient id)."""

    entry: int
    disorder_id: str
    distance: float

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "disorder_id": self.disorder_id,
            "distance": round(self.distance, 6),
        }


class DisorderScore(NamedTuple):
    """One disorder of the ranking (a named tuple: a ranking builds one per disorder, fast).

    ``nearest`` holds (entry number, distance) of its nearest patients, one entry per patient,
    nearest first: the shape ``differential.fusion.GestaltEvidence.nearest`` takes.
    """

    rank: int
    disorder_id: str
    name: str
    distance: float  # the aggregate: nearest patient, or mean of the k nearest
    nearest_distance: float
    patients: int  # the disorder's patients in the gallery (those ranked against)
    nearest: tuple[tuple[int, float], ...]
    local: bool  # a LOCAL: id: no ontology annotates it; it ranks by the face alone

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "disorder_id": self.disorder_id,
            "name": self.name,
            "gestalt_distance": round(self.distance, 6),
            "nearest_distance": round(self.nearest_distance, 6),
            "patients": self.patients,
            "nearest_entries": [{"entry": e, "distance": round(d, 6)} for e, d in self.nearest],
            "local_id": self.local,
        }


@dataclass(frozen=True)
class GalleryRanking:
    """Every disorder of the gallery ranked for one photo (or one visit), and how to read it."""

    disorders: tuple[DisorderScore, ...]  # nearest first
    nearest: tuple[NearestEntry, ...]  # the gallery's nearest entries overall
    gallery_sha256: str  # the content digest of the gallery ranked against
    gallery_title: str
    status: str  # "clinic" or "demonstration"
    entries: int  # entries ranked against (those with this bundle's embedding)
    patients: int
    bundle_name: str
    bundle_sha256: str
    aggregate: str
    k: int
    threshold: NoMatchThreshold | None
    threshold_current: bool  # calibrated on the entries the gallery holds now
    photos: int = 1  # photos whose embeddings were averaged (a visit)
    trust: str = ""
    verified: bool = False  # signed by a trusted key and the signature matches (``trust`` says how)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def nearest_distance(self) -> float:
        return self.nearest[0].distance

    @property
    def no_close_match(self) -> bool | None:
        """True: nothing in the gallery is within the calibrated threshold. None: not calibrated."""
        if self.threshold is None:
            return None
        return self.nearest_distance > self.threshold.threshold

    def top(self, n: int = 10) -> tuple[DisorderScore, ...]:
        return self.disorders[:n]

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        """The ranking as JSON (entry numbers and disorders; never a patient id)."""
        t = self.threshold
        return {
            "gallery": {
                "sha256": self.gallery_sha256,
                "title": self.gallery_title,
                "status": self.status,
                "entries": self.entries,
                "patients": self.patients,
                "disorders": len(self.disorders),
                "signature": self.trust,
            },
            "bundle": {"name": self.bundle_name, "sha256": self.bundle_sha256},
            "aggregate": self.aggregate
            if self.aggregate == "nearest"
            else f"mean of {self.k} nearest patients",
            "photos": self.photos,
            "nearest_distance": round(self.nearest_distance, 6),
            "no_close_match": self.no_close_match,
            "no_match_threshold": None
            if t is None
            else {**t.to_json(), "current": self.threshold_current},
            "nearest_entries": [e.to_json() for e in self.nearest],
            "disorders": [
                d.to_json() for d in (self.disorders if top is None else self.disorders[:top])
            ],
            "notes": list(self.notes),
        }


@dataclass
class _Index:
    """One embedding set grouped for ranking: rows sorted by (disorder, patient)."""

    matrix: np.ndarray  # float32 (N, D)
    numbers: np.ndarray  # int64 (N,) entry numbers
    row_patient: np.ndarray  # (N,) patient group of each row
    patient_starts: np.ndarray  # (P,) first row of each patient
    patient_disorder: np.ndarray  # (P,) disorder of each patient
    patient_ids: np.ndarray  # (P,) object: the pseudonymous ids (for exclusion only)
    disorder_starts: np.ndarray  # (Q,) first patient of each disorder
    disorder_ids: list[str]
    disorder_names: list[str]
    disorder_local: list[bool]
    entries_digest: str
    gallery_digest: str


def index_for(gallery: Gallery, s: EmbeddingSet) -> _Index:
    """The set's ranking index, built once per gallery state (cached on the gallery)."""
    key = (s.bundle_sha256, gallery.version)
    cached = gallery.index_cache.get(key)
    if cached is not None:
        return cached
    entries = [gallery.entries[int(n)] for n in s.numbers]
    keys = [(e.disorder_id, e.patient_id) for e in entries]
    order = sorted(range(len(keys)), key=lambda i: (keys[i], int(s.numbers[i])))
    sorted_keys = [keys[i] for i in order]
    patient_keys = sorted(set(sorted_keys))
    where = {k: j for j, k in enumerate(patient_keys)}
    row_patient = np.array([where[k] for k in sorted_keys], np.int64)
    disorder_ids = sorted({k[0] for k in patient_keys})
    dwhere = {d: j for j, d in enumerate(disorder_ids)}
    patient_disorder = np.array([dwhere[k[0]] for k in patient_keys], np.int64)
    names = gallery.disorders()
    index = _Index(
        matrix=np.ascontiguousarray(s.matrix[order], np.float32),
        numbers=s.numbers[order].astype(np.int64),
        row_patient=row_patient,
        patient_starts=np.flatnonzero(np.r_[True, row_patient[1:] != row_patient[:-1]]),
        patient_disorder=patient_disorder,
        patient_ids=np.array([k[1] for k in patient_keys], dtype=object),
        disorder_starts=np.flatnonzero(np.r_[True, patient_disorder[1:] != patient_disorder[:-1]]),
        disorder_ids=disorder_ids,
        disorder_names=[names[d] for d in disorder_ids],
        disorder_local=[is_local(d) for d in disorder_ids],
        entries_digest=s.entries_digest(),
        gallery_digest=gallery.digest(),
    )
    gallery.index_cache.clear()  # one state at a time
    gallery.index_cache[key] = index
    return index


def rank(
    query_embedding: np.ndarray,
    gallery: Gallery,
    bundle: BundleLike,
    *,
    aggregate: str = DEFAULT_AGGREGATE,
    k: int = DEFAULT_K,
    photos: int = 1,
    exclude_patients: Collection[str] = (),
) -> GalleryRanking:
    """Rank every disorder of ``gallery`` by its distance to one face's embedding.

    Args:
        query_embedding: the face's embedding from ``bundle`` (``ModelResult.embedding``), or a
            visit's (:func:`visit_embedding`); it is L2-normalised here again.
        gallery: the gallery (``store.read_gallery``).
        bundle: the bundle the embedding came from (its ``sha256`` digest and ``name``).
        aggregate: ``"nearest"`` (default) or ``"mean-k"`` (see the module docstring).
        k: the number of nearest patients ``mean-k`` averages.
        photos: how many photos the embedding stands for (shown with the ranking).
        exclude_patients: patient ids left out (evaluation: a child is not ranked against itself).

    Returns:
        A :class:`GalleryRanking`: every disorder nearest first, the nearest entries, and "no close
        match" against the calibrated threshold.

    Raises:
        GalleryError: the gallery was built with another bundle, or holds no entries (exit 4).
        ModelError: the embedding is zero or holds invalid numbers (exit 4).
        UsageError: an unknown aggregate or k < 1.

    Example:
        >>> gallery = read_gallery("clinic.ddgallery")  # doctest: +SKIP
        >>> r = rank(result.results[0].embedding, gallery, bundle)  # doctest: +SKIP
        >>> r.disorders[0].disorder_id, r.no_close_match  # doctest: +SKIP
        ('OMIM:163950', False)
    """
    if aggregate not in AGGREGATES:
        raise UsageError(f"--gallery-aggregate must be one of {', '.join(AGGREGATES)}")
    if k < 1:
        raise UsageError("k must be at least 1")
    s = gallery.set_for(bundle.sha256, bundle.name)
    try:
        q = unit_vector(query_embedding, s.dim)
    except ValueError as exc:
        if "expected" in str(exc):
            raise GalleryError(
                f"the gallery's embeddings of {s.bundle_name} have {s.dim} numbers, the query "
                "another size: not comparable"
            ) from None
        raise ModelError(f"{bundle.name}: {exc}") from None
    ix = index_for(gallery, s)
    d = 1.0 - (ix.matrix @ q).astype(np.float64)
    np.clip(d, 0.0, 2.0, out=d)
    if exclude_patients:
        gone = np.isin(ix.patient_ids, list(exclude_patients))[ix.row_patient]
        d[gone] = np.inf
        if np.all(gone):
            raise GalleryError("the gallery holds no entries besides the excluded patients")
    # each patient at its nearest photo
    p_dist = np.minimum.reduceat(d, ix.patient_starts)
    is_min = d == p_dist[ix.row_patient]
    first_rows = np.flatnonzero(is_min)
    _, pick = np.unique(ix.row_patient[first_rows], return_index=True)
    p_entry = ix.numbers[first_rows[pick]]
    # patients by (disorder, distance); disorder blocks keep their positions
    # one argsort on (disorder * 4 + distance): distances lie in [0, 2], an excluded patient
    # (inf) sorts last in its block at 3; cheaper than lexsort on two keys
    order = np.argsort(
        ix.patient_disorder * 4.0 + np.where(np.isfinite(p_dist), p_dist, 3.0), kind="stable"
    )
    sd = p_dist[order]
    block = ix.patient_disorder[order]
    pos = np.arange(len(order)) - ix.disorder_starts[block]
    finite = np.isfinite(sd)
    counts = np.add.reduceat(finite.astype(np.int64), ix.disorder_starts)
    nearest = sd[ix.disorder_starts]
    if aggregate == "nearest":
        score = nearest
    else:
        take = (pos < k) & finite
        sums = np.add.reduceat(np.where(take, sd, 0.0), ix.disorder_starts)
        score = sums / np.maximum(np.minimum(counts, k), 1)
    score = np.where(counts > 0, score, np.inf)
    ranked = np.lexsort((np.arange(len(score)), score))
    ranked = ranked[np.isfinite(score[ranked])]
    # plain lists from here: a few hundred disorders are built faster without numpy scalars
    entry_at = p_entry[order].tolist()
    dist_at = sd.tolist()
    starts = ix.disorder_starts.tolist()
    n_of, score_of, nearest_of = counts.tolist(), score.tolist(), nearest.tolist()
    disorders = tuple(
        DisorderScore(
            rank=r + 1,
            disorder_id=ix.disorder_ids[q_],
            name=ix.disorder_names[q_],
            distance=score_of[q_],
            nearest_distance=nearest_of[q_],
            patients=n_of[q_],
            nearest=tuple(
                zip(
                    entry_at[starts[q_] : starts[q_] + min(PER_DISORDER, n_of[q_])],
                    dist_at[starts[q_] : starts[q_] + min(PER_DISORDER, n_of[q_])],
                    strict=True,
                )
            ),
            local=ix.disorder_local[q_],
        )
        for r, q_ in enumerate(ranked.tolist())
    )
    m = min(NEAREST_SHOWN, int(np.isfinite(d).sum()))
    top_rows = np.argpartition(d, m - 1)[:m] if m < len(d) else np.arange(len(d))
    top_rows = top_rows[np.lexsort((ix.numbers[top_rows], d[top_rows]))][:m]
    row_disorder = ix.patient_disorder[ix.row_patient]
    nearest_entries = tuple(
        NearestEntry(int(ix.numbers[i]), ix.disorder_ids[row_disorder[i]], float(d[i]))
        for i in top_rows
    )
    current = s.threshold is not None and s.threshold.entries_sha256 == ix.entries_digest
    trust = getattr(gallery, "trust", None)
    return GalleryRanking(
        disorders=disorders,
        nearest=nearest_entries,
        gallery_sha256=ix.gallery_digest,
        gallery_title=gallery.title,
        status=gallery.status,
        entries=int(np.isfinite(d).sum()),
        patients=int(np.isfinite(p_dist).sum()),
        bundle_name=s.bundle_name,
        bundle_sha256=s.bundle_sha256,
        aggregate=aggregate,
        k=k,
        threshold=s.threshold,
        threshold_current=current,
        photos=photos,
        trust="" if trust is None else trust.reason,
        verified=bool(trust is not None and trust.verified),
        notes=_notes(gallery, s, disorders, current, len(ix.numbers)),
    )


def _notes(
    gallery: Gallery, s: EmbeddingSet, disorders: Sequence[DisorderScore], current: bool, n: int
) -> tuple[str, ...]:
    notes = []
    if gallery.status == "demonstration":
        notes.append(DEMO_NOTE)
    t = s.threshold
    if t is None:
        notes.append(
            "the gallery's no-match threshold is not calibrated (`dysmorph-desk gallery "
            "calibrate`): whether the nearest entry is close cannot be said"
        )
    elif not current:
        notes.append(
            f"the no-match threshold was calibrated when the gallery had {t.n_entries} entries "
            f"for this model; it has {n} now: recalibrate"
        )
    if any(d.local for d in disorders[:10]):
        notes.append(
            "LOCAL: ids are the clinic's own: no ontology annotates them; they rank by the face alone"
        )
    return tuple(notes)


def visit_embedding(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """A visit's embedding: the L2-normalised mean of its assessable photos' embeddings.

    Each photo's embedding is normalised first, so every photo weighs the same.

    Raises:
        ValueError: no embeddings, or they cancel out (a zero mean).
    """
    if not len(embeddings):
        raise ValueError("no assessable photo: the visit has no embedding")
    rows = np.stack([unit_vector(e) for e in embeddings]).astype(np.float64)
    return unit_vector(rows.mean(axis=0))


def pick_set(gallery: Gallery, bundles: Sequence[BundleLike]) -> BundleLike:
    """The first of the screening's bundles the gallery has embeddings of (GalleryError if none)."""
    for b in bundles:
        if b.sha256 in gallery.sets and len(gallery.sets[b.sha256]):
            return b
    if not bundles:
        raise UsageError("no model selected")
    gallery.set_for(bundles[0].sha256, bundles[0].name)  # raises the message that fits
    raise AssertionError("unreachable")


def rank_screening(
    results: Sequence[ScreeningResult],
    gallery: Gallery,
    bundle: BundleLike,
    **options: Any,
) -> GalleryRanking | None:
    """Rank one photo's result, or a visit's (several results), against the gallery.

    Uses each result's ``ModelResult.embedding`` from ``bundle`` (photos that model could not
    assess have none and are left out). None when no photo has one; the caller says why (the
    photos' "cannot assess" reasons).
    """
    found = [
        m.embedding
        for r in results
        for m in r.results
        if m.bundle_sha256 == bundle.sha256 and m.assessable and m.embedding is not None
    ]
    if not found:
        return None
    query = found[0] if len(found) == 1 else visit_embedding(found)
    return rank(query, gallery, bundle, photos=len(found), **options)

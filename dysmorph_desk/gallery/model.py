"""A gallery in memory: entries, one embedding set per model bundle, the no-match thresholds.

``store.py`` reads and writes it as one SQLite file; this module knows nothing of SQL. Why the
pieces are shaped as they are:

* **Entries are numbered once.** Numbers are never reused after a removal, so "entry 12" in a
  printed report always means the same child's photo in this gallery, or nothing.
* **One embedding set per bundle digest.** Embeddings of two models live in different spaces; a
  set records the bundle's SHA-256 digest (``LoadedBundle.sha256``, the digest over every member
  of the ``.ddbundle``) and name, and ranking refuses a query from any other bundle.
* **The content digest** (:meth:`Gallery.digest`) is a SHA-256 over a canonical, length-prefixed
  serialisation of everything but the digest and signature themselves, in a fixed order: stored in
  the file, checked on every read, and what a signature signs.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from dysmorph_desk.gallery.errors import GalleryError
from dysmorph_desk.gallery.ids import (
    check_disorder_id,
    clean_disorder_name,
    clean_patient_id,
    is_local,
)
from dysmorph_desk.utils.intervals import Rate, clopper_pearson

FORMAT = "dysmorph-desk-gallery"
FORMAT_VERSION = 1
# a data folder, photos given one by one, the case store, a copy received from another clinic
SOURCES = ("data", "photo", "case", "shared")
STATUSES = ("clinic", "demonstration")
UNIT_TOLERANCE = 1e-3  # a stored embedding's norm may differ from 1 by float32 rounding only
_SHA_CHARS = frozenset("0123456789abcdef")


def distance_text(d: float) -> str:
    """A cosine distance for people: three decimals, or three significant digits when smaller
    (a model whose embeddings all point nearly the same way gives distances like 0.000123)."""
    return f"{d:.3f}" if d == 0 or abs(d) >= 0.01 else f"{d:.3g}"


def is_sha256(value: str) -> bool:
    return len(value) == 64 and set(value) <= _SHA_CHARS


def is_case_uid(value: str) -> bool:
    """The case store's case uids are UUID4s as 32 lowercase hex digits."""
    return len(value) == 32 and set(value) <= _SHA_CHARS


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def unit_vector(vector: Any, dim: int | None = None) -> np.ndarray:
    """A finite float32 vector scaled to length 1; ValueError when it cannot be.

    The forward graphs already L2-normalise; this guards against a model that returned zeros or
    NaN, and makes the dtype certain (cosine similarity is then a dot product).
    """
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    if dim is not None and v.shape[0] != dim:
        raise ValueError(f"an embedding of {v.shape[0]} numbers where {dim} are expected")
    norm = float(np.linalg.norm(v)) if v.size else 0.0
    if not np.all(np.isfinite(v)) or not norm > 1e-12:
        raise ValueError("the embedding is zero or holds invalid numbers")
    return (v / norm).astype(np.float32)


@dataclass(frozen=True)
class Entry:
    """One photo of one patient with a known disorder."""

    number: int
    disorder_id: str
    disorder_name: str
    patient_id: str  # pseudonymous; never shown in rankings
    source: str  # one of SOURCES
    case_uid: str | None = None  # source "case": the case store's case; deleted with it
    added: str = ""  # YYYY-MM-DD
    photo: bytes | None = None  # only with --with-photos: the decoded photo as JPEG, no metadata

    @property
    def local(self) -> bool:
        return is_local(self.disorder_id)

    def to_json(self) -> dict[str, Any]:
        """The entry as ``gallery list --json`` shows it to the gallery's keeper (with the patient
        id: the keeper needs it to find a patient's entries; rankings never carry it)."""
        return {
            "entry": self.number,
            "disorder_id": self.disorder_id,
            "disorder_name": self.disorder_name,
            "local_id": self.local,
            "patient_id": self.patient_id,
            "source": self.source,
            "case_uid": self.case_uid,
            "added": self.added,
            "photo": self.photo is not None,
        }


def _count(value: object) -> int:
    """A stored count: a JSON integer, never a float, a boolean or a string (ValueError)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not a count: {value!r}")
    return value


@dataclass(frozen=True)
class NoMatchThreshold:
    """The cosine distance beyond which the nearest entry is "no close match", and how it was set.

    Calibrated on photos of unrelated children (none of them in the gallery): ``false_matches`` of
    ``n`` had a nearest entry at or within ``threshold`` (in-sample: the threshold was set on
    them); ``loo_false_matches`` of ``n`` matched a threshold set without them (leave-one-out, the
    estimate for a new child; None for a gallery calibrated before it was stored). Each rate
    carries its exact interval.
    ``entries_sha256`` and ``n_entries`` say which state of the embedding set it was calibrated
    on, so a ranking can say when entries changed since.
    """

    threshold: float
    target_false_match: float
    false_matches: int
    n: int
    entries_sha256: str
    n_entries: int
    created: str = ""
    level: float = 0.95
    loo_false_matches: int | None = None

    @property
    def expected(self) -> Rate:
        """The false-match rate to expect for a new unrelated child: the leave-one-out count when
        stored, else the (optimistic) in-sample count; ``k`` and ``n`` with the exact interval."""
        k = self.false_matches if self.loo_false_matches is None else self.loo_false_matches
        return Rate.of(k, self.n)

    @property
    def estimate(self) -> str:
        """How :attr:`expected` was counted: ``leave-one-out`` or ``in-sample``."""
        return "in-sample" if self.loo_false_matches is None else "leave-one-out"

    @property
    def rate(self) -> float:
        return self.false_matches / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return clopper_pearson(self.false_matches, self.n, self.level)

    def describe(self) -> str:
        lo, hi = self.interval
        text = (
            f"no-match threshold {distance_text(self.threshold)} (cosine distance): {self.false_matches} of "
            f"{self.n} unrelated children matched, {100 * self.rate:.1f}% "
            f"({100 * self.level:.0f}% CI {100 * lo:.1f}-{100 * hi:.1f}%)"
        )
        if self.loo_false_matches is None:
            return text + " (in-sample)"
        e = self.expected
        assert e.ci95 is not None
        return text + (
            f"; each judged against a threshold set without it (leave-one-out): "
            f"{self.loo_false_matches} of {self.n}, {100 * e.value:.1f}% "
            f"(95% CI {100 * e.ci95[0]:.1f}-{100 * e.ci95[1]:.1f}%)"
        )

    def to_json(self) -> dict[str, Any]:
        lo, hi = self.interval
        return {
            "threshold": self.threshold,
            "target_false_match": self.target_false_match,
            "false_matches": self.false_matches,
            "n": self.n,
            "false_match_rate": self.rate,
            "ci": [lo, hi],
            "level": self.level,
            "entries_sha256": self.entries_sha256,
            "n_entries": self.n_entries,
            "created": self.created,
            "loo_false_matches": self.loo_false_matches,
        }

    def stored(self) -> str:
        """The canonical JSON kept in the file (derived values left out: they are recomputed)."""
        data = {k: v for k, v in self.to_json().items() if k not in ("false_match_rate", "ci")}
        if self.loo_false_matches is None:  # as galleries before the estimate stored it
            del data["loo_false_matches"]
        return json.dumps(data, sort_keys=True, allow_nan=False)

    @classmethod
    def from_stored(cls, text: str) -> NoMatchThreshold:
        """Parse :meth:`stored`; ValueError on anything malformed."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        t = cls(
            threshold=float(data["threshold"]),
            target_false_match=float(data["target_false_match"]),
            false_matches=_count(data["false_matches"]),
            n=_count(data["n"]),
            entries_sha256=str(data["entries_sha256"]),
            n_entries=_count(data["n_entries"]),
            created=str(data.get("created", "")),
            level=float(data.get("level", 0.95)),
            loo_false_matches=(
                None if data.get("loo_false_matches") is None else _count(data["loo_false_matches"])
            ),
        )
        ok = (
            math.isfinite(t.threshold)
            and 0.0 <= t.threshold <= 2.0
            and 0.0 < t.target_false_match < 1.0
            and 0 <= t.false_matches <= t.n
            and (t.loo_false_matches is None or 0 <= t.loo_false_matches <= t.n)
            and t.n >= 1
            and t.n_entries >= 0
            and 0.0 < t.level < 1.0
            and is_sha256(t.entries_sha256)
        )
        if not ok:
            raise ValueError("values out of range")
        return t


class EmbeddingSet:
    """The embeddings one bundle gave the entries' photos: row i belongs to entry ``numbers[i]``.

    Rows added one by one are collected and stacked on the next read (adding 10,000 photos to a
    gallery must not copy the matrix 10,000 times).
    """

    def __init__(
        self,
        bundle_sha256: str,
        bundle_name: str,
        dim: int,
        numbers: np.ndarray | None = None,
        vectors: np.ndarray | None = None,
        threshold: NoMatchThreshold | None = None,
    ) -> None:
        self.bundle_sha256 = bundle_sha256
        self.bundle_name = bundle_name
        self.dim = int(dim)
        self.threshold = threshold
        self._numbers = np.zeros(0, np.int64) if numbers is None else np.asarray(numbers, np.int64)
        self._vectors = (
            np.zeros((0, self.dim), np.float32)
            if vectors is None
            else np.asarray(vectors, np.float32).reshape(-1, self.dim)
        )
        if len(self._numbers) != len(self._vectors):
            raise ValueError("an embedding set needs one vector per entry number")
        self._pending: list[tuple[int, np.ndarray]] = []

    def _flush(self) -> None:
        if self._pending:
            self._numbers = np.concatenate(
                [self._numbers, np.array([n for n, _ in self._pending], np.int64)]
            )
            self._vectors = np.vstack([self._vectors, np.stack([v for _, v in self._pending])])
            self._pending = []

    @property
    def numbers(self) -> np.ndarray:
        """int64 (N,): the entry number of each row."""
        self._flush()
        return self._numbers

    @property
    def matrix(self) -> np.ndarray:
        """float32 (N, dim): unit rows."""
        self._flush()
        return self._vectors

    def append(self, number: int, vector: np.ndarray) -> None:
        self._pending.append((int(number), vector))

    def drop(self, numbers: np.ndarray) -> None:
        keep = ~np.isin(self.numbers, numbers)
        self._numbers, self._vectors = self._numbers[keep], self._vectors[keep]

    def __len__(self) -> int:
        return len(self._numbers) + len(self._pending)

    def entries_digest(self) -> str:
        """SHA-256 of the set's entry numbers and vectors (what a threshold was calibrated on)."""
        order = np.argsort(self.numbers, kind="stable")
        h = hashlib.sha256(b"dysmorph-desk-gallery-set/1\n")
        h.update(np.ascontiguousarray(self.numbers[order], "<i8").tobytes())
        h.update(np.ascontiguousarray(self.matrix[order], "<f4").tobytes())
        return h.hexdigest()

    def vector_of(self, number: int) -> np.ndarray | None:
        rows = np.flatnonzero(self.numbers == number)
        return None if not len(rows) else self.matrix[rows[0]]


def _put(h: Any, *fields: str | bytes | int) -> None:
    """Length-prefixed fields: no two different contents hash the same byte stream."""
    for f in fields:
        data = f if isinstance(f, bytes) else str(f).encode("utf-8")
        h.update(b"%d:" % len(data))
        h.update(data)


@dataclass
class Gallery:
    """A whole gallery. Change it through :meth:`add` and :meth:`remove` (they keep the numbering
    and the embedding sets consistent), then write it with ``store.write_gallery``."""

    title: str = ""
    status: str = "clinic"
    created: str = field(default_factory=today)
    next_entry: int = 1
    entries: dict[int, Entry] = field(default_factory=dict)
    sets: dict[str, EmbeddingSet] = field(default_factory=dict)
    signature: str = ""  # the slot as read; writing keeps it only if the digest is unchanged
    version: int = 0  # bumped by every change (ranking caches its index per version)
    # ranking's per-set index, keyed by (bundle digest, version): built once per loaded gallery
    index_cache: dict[tuple[str, int], Any] = field(default_factory=dict, repr=False, compare=False)

    def digest(self) -> str:
        """The content SHA-256 (see the module docstring)."""
        h = hashlib.sha256(f"{FORMAT}/{FORMAT_VERSION}\n".encode())
        _put(h, "meta", self.title, self.status, self.created, self.next_entry)
        for sha in sorted(self.sets):
            s = self.sets[sha]
            _put(
                h,
                "set",
                sha,
                s.bundle_name,
                s.dim,
                "" if s.threshold is None else s.threshold.stored(),
            )
        for n in sorted(self.entries):
            e = self.entries[n]
            photo = "" if e.photo is None else hashlib.sha256(e.photo).hexdigest()
            fields = (e.disorder_id, e.disorder_name, e.patient_id, e.source, e.case_uid or "")
            _put(h, "entry", n, *fields, e.added, photo)
        for sha in sorted(self.sets):
            s = self.sets[sha]
            order = np.argsort(s.numbers, kind="stable")
            _put(h, "vectors", sha, len(order))
            h.update(np.ascontiguousarray(s.numbers[order], "<i8").tobytes())
            h.update(np.ascontiguousarray(s.matrix[order], "<f4").tobytes())
        return h.hexdigest()

    # ------------------------------------------------------------------ reading

    def disorders(self) -> dict[str, str]:
        """Disorder id -> name, over all entries."""
        return {e.disorder_id: e.disorder_name for e in self.entries.values()}

    def set_for(
        self, bundle_sha256: str, bundle_name: str = "", where: str = "the gallery"
    ) -> EmbeddingSet:
        """The embedding set of this bundle; GalleryError if the gallery has none or it is empty."""
        s = self.sets.get(bundle_sha256)
        if s is None:
            built = ", ".join(
                f"{x.bundle_name} ({x.bundle_sha256[:12]})" for x in self.sets.values()
            )
            if not built:
                raise GalleryError(f"{where} is empty: it holds no entries")
            raise GalleryError(
                f"{where} was built with {built}, not {bundle_name or 'this model'} "
                f"({bundle_sha256[:12]}): the embeddings are not comparable; add this model's "
                "embeddings to the gallery or screen with the model it was built with"
            )
        if not len(s):
            raise GalleryError(f"{where} is empty: it holds no entries for {s.bundle_name}")
        return s

    # ------------------------------------------------------------------ changing

    def add(
        self,
        disorder_id: str,
        disorder_name: str,
        patient_id: str,
        embeddings: Mapping[str, tuple[str, Any]],
        *,
        source: str,
        case_uid: str | None = None,
        photo: bytes | None = None,
        added: str | None = None,
    ) -> Entry:
        """Add one photo's entry with its embedding for each bundle (digest -> (name, vector)).

        Raises:
            UsageError: an invalid disorder id, name or patient id (exit 2).
            ValueError: an unknown source, or an embedding that is not a finite non-zero vector
                of the set's size.
        """
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}")
        if source == "case" and not is_case_uid(case_uid or ""):
            raise ValueError("an entry from the case store needs its case uid (32 hex digits)")
        if not embeddings:
            raise ValueError("an entry needs at least one embedding")
        did = check_disorder_id(disorder_id)
        rows: dict[str, np.ndarray] = {}
        for sha, (name, vector) in embeddings.items():
            if not is_sha256(sha):
                raise ValueError("a bundle digest is 64 lowercase hex characters")
            existing = self.sets.get(sha)
            rows[sha] = unit_vector(vector, None if existing is None else existing.dim)
            if existing is None:
                self.sets[sha] = EmbeddingSet(sha, str(name), rows[sha].shape[0])
        entry = Entry(
            number=self.next_entry,
            disorder_id=did,
            disorder_name=clean_disorder_name(disorder_name, did),
            patient_id=clean_patient_id(patient_id),
            source=source,
            case_uid=case_uid if source == "case" else None,
            added=added or today(),
            photo=photo,
        )
        self.entries[entry.number] = entry
        for sha, v in rows.items():
            self.sets[sha].append(entry.number, v)
        self.next_entry += 1
        self.version += 1
        return entry

    def remove(self, numbers: Iterable[int]) -> list[Entry]:
        """Remove entries (with their embeddings and photos); unknown numbers are ignored."""
        gone = [self.entries.pop(int(n)) for n in sorted(set(numbers)) if int(n) in self.entries]
        if gone:
            drop = np.array([e.number for e in gone], np.int64)
            for s in self.sets.values():
                s.drop(drop)
            self.version += 1
        return gone

    def remove_case(self, case_uid: str) -> list[Entry]:
        """Remove every entry built from this case of the case store (its deletion rule)."""
        return self.remove(n for n, e in self.entries.items() if e.case_uid == case_uid)

    def calibrated(self, bundle_sha256: str, threshold: NoMatchThreshold) -> None:
        """Store a set's no-match threshold (``calibration.calibrate_threshold`` computes it)."""
        s = self.set_for(bundle_sha256)
        s.threshold = threshold
        self.version += 1

    def shareable(self) -> Gallery:
        """A copy fit to give to another clinic: embeddings, disorders and entry numbers only.

        Photos are left out, case-store references dropped, and patient ids replaced by
        meaningless ones (``S-00001``... in entry order; one per patient, so a patient's photos
        still count once). Entry numbers and embeddings are unchanged, so a calibrated threshold
        stays current and both clinics name entries alike. Unsigned: sign it for the recipient.
        """
        pseudonyms: dict[tuple[str, str], str] = {}
        copy = Gallery(self.title, self.status, self.created, self.next_entry)
        for n in sorted(self.entries):
            e = self.entries[n]
            pid = pseudonyms.setdefault(
                (e.disorder_id, e.patient_id), f"S-{len(pseudonyms) + 1:05d}"
            )
            copy.entries[n] = Entry(n, e.disorder_id, e.disorder_name, pid, "shared", None, e.added)
        for sha, s in self.sets.items():
            copy.sets[sha] = EmbeddingSet(
                sha, s.bundle_name, s.dim, s.numbers.copy(), s.matrix.copy(), s.threshold
            )
        return copy

    def case_uids(self) -> set[str]:
        return {e.case_uid for e in self.entries.values() if e.case_uid}

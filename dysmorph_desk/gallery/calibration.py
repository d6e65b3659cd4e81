"""The "no close match" threshold, calibrated on photos of children unrelated to the gallery.

A nearest neighbour always exists, however far: without a threshold every photo "matches"
something. The threshold is set where it matches few children who have none of the gallery's
disorders:

1. each unrelated child's photo is embedded with the gallery's bundle and its nearest entry's
   cosine distance ``d_i`` found (n children, one photo each: photos of one child are not
   independent);
2. with ``m = floor(target * n)``, the threshold is the largest of the sorted distances
   ``d_(j)``, ``j <= m``, that is strictly below ``d_(j+1)`` (ties never push the count over
   ``m``); when there is none, it lies just below the smallest distance;
3. what is stored is what was observed: ``k = #{d_i <= threshold}`` false matches of ``n``, with
   the exact (Clopper–Pearson) interval. The target is what was asked, the rate what happened;
4. that in-sample ``k`` is optimistic, since the threshold was chosen on the same children. The
   rate a *new* unrelated child is expected to match at is estimated by leave-one-out: each child
   is judged against the threshold set (as in step 2) from the other ``n - 1`` children, and the
   ``k_loo`` of ``n`` who match are stored too. Reports show this estimate, with its exact
   interval; galleries calibrated before it existed show the in-sample rate, labelled so.

The unrelated children must not be in the gallery and should resemble the clinic's patients (ages,
ancestries, photo conditions); a threshold from 20 children says little (its interval says how
little). Entries added or removed afterwards change the nearest distances: rankings say so until
the gallery is calibrated again.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from dysmorph_desk.errors import DataError, UsageError
from dysmorph_desk.gallery.model import Gallery, NoMatchThreshold, unit_vector
from dysmorph_desk.gallery.ranking import BundleLike, index_for

MIN_UNRELATED = 20
DEFAULT_TARGET = 0.05


def nearest_distances(embeddings: np.ndarray, gallery: Gallery, bundle_sha256: str) -> np.ndarray:
    """The cosine distance of each embedding's nearest gallery entry, computed exactly as ranking
    computes it (same index, same arithmetic), so a photo at the threshold ranks at it too."""
    s = gallery.set_for(bundle_sha256)
    ix = index_for(gallery, s)
    out = np.empty(len(embeddings), np.float64)
    for i, e in enumerate(embeddings):
        try:
            q = unit_vector(e, s.dim)
        except ValueError as exc:
            raise DataError(f"unrelated photo {i + 1}: {exc}") from None
        d = 1.0 - (ix.matrix @ q).astype(np.float64)
        out[i] = float(np.clip(d, 0.0, 2.0).min())
    return out


def threshold_from_distances(distances: np.ndarray, target: float) -> float:
    """The threshold of step 2 of the module docstring (a pure function of the distances).

    Example:
        >>> threshold_from_distances(np.array([0.5, 0.2, 0.9, 0.3]), 0.25)
        0.2
    """
    d = np.sort(np.asarray(distances, np.float64))
    n = len(d)
    m = math.floor(target * n + 1e-9)
    for j in range(min(m, n), 0, -1):
        if j == n or d[j - 1] < d[j]:
            return float(d[j - 1])
    return max(0.0, float(np.nextafter(d[0], -np.inf)))


def leave_one_out_matches(distances: np.ndarray, target: float) -> int:
    """How many children match a threshold set without them (step 4 of the module docstring).

    Each child's distance is left out of the sorted distances, the threshold recomputed from the
    rest with :func:`threshold_from_distances`, and the child counted when its own distance is at
    or within it. That threshold reads only the ``m' + 1`` smallest of the others
    (``m' = floor(target * (n - 1))``), so it is the same for every child beyond them: computed
    once. Deterministic; about 0.1 s for 10,000 children at a 5 % target.

    Example (left out, 0.1 faces the others' threshold 0.5 and matches; every other child faces
    0.1 and does not; in-sample, the threshold sits just below 0.1 and nothing matches):
        >>> leave_one_out_matches(np.array([0.1, 0.5, 0.6, 0.7, 0.8]), 0.25)
        1
    """
    d = np.sort(np.asarray(distances, np.float64))
    if len(d) < 2:
        return 0
    n = len(d)
    window = min(math.floor(target * (n - 1) + 1e-9), n - 1)  # m': the others' indices read
    matched = 0
    for i in range(min(window + 1, n)):  # a child among the smallest: its removal shifts them
        matched += int(d[i] <= threshold_from_distances(np.delete(d, i), target))
    if window + 1 < n:  # every child beyond them faces one threshold: that of d without the last
        far = threshold_from_distances(d[:-1], target)
        matched += int((d[window + 1 :] <= far).sum())
    return matched


def calibrate_threshold(
    unrelated_embeddings: np.ndarray,
    gallery: Gallery,
    target_false_match: float = DEFAULT_TARGET,
    *,
    bundle: BundleLike | None = None,
    level: float = 0.95,
) -> NoMatchThreshold:
    """Calibrate and store the gallery's no-match threshold for one bundle's embeddings.

    Args:
        unrelated_embeddings: (n, D) embeddings of photos of n unrelated children (one each),
            from the gallery's bundle.
        gallery: the gallery; the threshold is stored in it (write the gallery to keep it).
        target_false_match: the largest share of unrelated children allowed to "match".
        bundle: which embedding set (may be omitted when the gallery has only one).
        level: the confidence level of the false-match rate's interval.

    Returns:
        The :class:`NoMatchThreshold` stored: threshold, observed false matches k of n, and the
        leave-one-out false matches (the estimate for a new child), each with its interval.

    Raises:
        DataError: fewer than 20 photos, or an embedding that is not usable (exit 3).
        UsageError: no bundle given for a gallery with several embedding sets, or a bad target.

    Example:
        >>> t = calibrate_threshold(unrelated, gallery, 0.05, bundle=bundle)  # doctest: +SKIP
        >>> t.describe()  # doctest: +SKIP
        'no-match threshold 0.412 (cosine distance): 3 of 80 unrelated children matched, ...'
    """
    if not 0.0 < target_false_match < 1.0:
        raise UsageError("the target false-match rate must lie strictly between 0 and 1")
    if bundle is None:
        if len(gallery.sets) != 1:
            raise UsageError("the gallery holds embeddings of several models: name the model")
        only = next(iter(gallery.sets.values()))
        sha, name = only.bundle_sha256, only.bundle_name
    else:
        sha, name = bundle.sha256, bundle.name
    emb = np.asarray(unrelated_embeddings)
    n = len(emb)
    if n < MIN_UNRELATED:
        raise DataError(
            f"calibrating the no-match threshold needs photos of at least {MIN_UNRELATED} "
            f"unrelated children; got {n}"
        )
    s = gallery.set_for(sha, name)
    d = nearest_distances(emb, gallery, sha)
    t = threshold_from_distances(d, target_false_match)
    threshold = NoMatchThreshold(
        threshold=t,
        target_false_match=float(target_false_match),
        false_matches=int((d <= t).sum()),
        n=n,
        loo_false_matches=leave_one_out_matches(d, target_false_match),
        entries_sha256=s.entries_digest(),
        n_entries=len(s),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        level=level,
    )
    gallery.calibrated(sha, threshold)
    return threshold

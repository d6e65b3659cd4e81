"""Phenotype scores: every annotated disease ranked by its similarity to the entered HPO terms.

The measure is **Resnik similarity combined by funSimAvg**, as pyhpo's
``HPOSet.similarity(other, kind=..., method="resnik", combine="funSimAvg")`` computes it:

* term to term (Resnik P., "Using information content to evaluate semantic similarity in a
  taxonomy", IJCAI 1995): ``sim(a, b) = max IC(c)`` over the common ancestors ``c`` of ``a`` and
  ``b`` (each term counts as its own ancestor), where ``IC(c) = -ln(n(c) / N)`` is the
  annotation-based information content that scripts/build_hpo.py stores (Robinson P.N. et al.,
  Am J Hum Genet 2008): ``n(c)`` diseases of the chosen source annotated
  with ``c`` or a descendant, ``N`` diseases of that source; 0 where ``n(c) = 0``.
* set to set (funSimAvg; Schlicker A. et al., BMC Bioinformatics 2006;7:302): the average of the
  two best-match averages, ``(mean_q max_d sim(q, d) + mean_d max_q sim(q, d)) / 2`` over the
  query terms ``q`` and the disease's annotated terms ``d``. A disease without terms scores 0.

``kind`` picks the annotations the IC is counted on: ``"omim"`` (pyhpo's default, 8,359 OMIM
diseases) or ``"orpha"``. The same IC scores OMIM and ORPHA diseases alike, so their scores are
comparable within one call.

Vectorised so that all 12,640 diseases score in tens of ms (pyhpo: ~15-20 s for 10 terms): for
each query term, its similarity to *every* term is one masked ``maximum.reduceat`` over the
ancestor CSR (the max IC over the ancestors shared with the query term); the disease annotations
(CSR) then gather those rows, and ``reduceat`` takes the per-disease best matches in both
directions. Query terms go in chunks, so memory stays bounded however many are entered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from dysmorph_desk.errors import UsageError
from dysmorph_desk.phenotype.ontology import IC_KINDS, HpoOntology, load_ontology
from dysmorph_desk.phenotype.terms import resolve_terms, term_rows

METHOD = "Resnik similarity, funSimAvg (best-match average of both directions)"
REFERENCES = (
    "Resnik P. Using information content to evaluate semantic similarity in a taxonomy. IJCAI 1995.",
    "Schlicker A, Domingues FS, Rahnenführer J, Lengauer T. A new measure for functional "
    "similarity of gene products based on Gene Ontology. BMC Bioinformatics 2006;7:302.",
    "Robinson PN, Köhler S, Bauer S, et al. The Human Phenotype Ontology: a tool for annotating "
    "and analyzing human hereditary disease. Am J Hum Genet 2008;83(5):610-615.",
)
DEFAULT_KIND = "omim"
_CHUNK = 8  # query terms per pass: (8 x ~270k annotations) float64 ~ 17 MB at most


class DiseaseScores(NamedTuple):
    """Aligned arrays, best first: ``disease_ids[i]`` has ``names[i]`` and ``scores[i]``."""

    disease_ids: np.ndarray  # str, "OMIM:154700" / "ORPHA:558"
    names: np.ndarray  # object (str)
    scores: np.ndarray  # float64, Resnik funSimAvg, in nats (the IC unit)


def _check_kind(kind: str) -> str:
    if kind not in IC_KINDS:
        raise UsageError(f"unknown information content {kind!r}; choose {' or '.join(IC_KINDS)}")
    return kind


def term_similarity_rows(onto: HpoOntology, rows: list[int], kind: str) -> np.ndarray:
    """(len(rows), n_terms): Resnik similarity of each query term to every term of the ontology.

    ``S[r, t] = max IC(c)`` over ``c`` in ancestors(rows[r]) ∩ ancestors(t): mark the query
    term's ancestors, keep the IC of marked entries of every term's ancestor list, and take the
    max per term with one ``reduceat`` (each term has at least itself, so no segment is empty).
    """
    ic = onto.ic[_check_kind(kind)]
    anc_index, anc_ptr = onto.ancestor_index, onto.ancestor_indptr
    ic_of_anc = ic[anc_index]
    mask = np.zeros((len(rows), onto.n_terms), dtype=bool)
    for r, row in enumerate(rows):
        mask[r, onto.ancestors(row)] = True
    values = np.where(mask.take(anc_index, axis=1), ic_of_anc, 0.0)  # take(): C order, fast
    return np.maximum.reduceat(values, anc_ptr[:-1], axis=1)


def _fun_sim_avg(onto: HpoOntology, rows: list[int], kind: str) -> np.ndarray:
    """Resnik funSimAvg of the query rows against every disease, in disease-row order."""
    ptr, idx = onto.disease_term_indptr, onto.disease_term_index
    counts = np.diff(ptr)
    nonempty = counts > 0
    starts = ptr[:-1][nonempty]
    row_sum = np.zeros(int(nonempty.sum()))  # sum over query terms of the best disease match
    best_for_annotation = np.zeros(len(idx))  # best query match of each annotation
    for lo in range(0, len(rows), _CHUNK):
        # take() keeps the result C-ordered; S[:, idx] would be Fortran-ordered and make the
        # reductions below ~10x slower
        sim = term_similarity_rows(onto, rows[lo : lo + _CHUNK], kind).take(idx, axis=1)
        row_sum += np.maximum.reduceat(sim, starts, axis=1).sum(axis=0)
        np.maximum(best_for_annotation, sim.max(axis=0), out=best_for_annotation)
    scores = np.zeros(onto.n_diseases)
    col_mean = np.add.reduceat(best_for_annotation, starts) / counts[nonempty]
    scores[nonempty] = (row_sum / len(rows) + col_mean) / 2
    return scores


def score_diseases(
    term_ids: Iterable[str],
    *,
    kind: str = DEFAULT_KIND,
    ontology: HpoOntology | None = None,
) -> DiseaseScores:
    """Rank every OMIM and ORPHA disease of the shipped annotations against the entered terms.

    Resnik similarity combined by funSimAvg (see the module docstring for the definition and
    references); equal to pyhpo 4.0's ``HPOSet.similarity(disease.hpo_set(), kind=kind,
    method="resnik", combine="funSimAvg")`` up to floating-point summation order. A screening aid
    to put beside the face; not a diagnosis.

    Args:
        term_ids: HPO ids. Obsolete ids with a replacement are mapped silently here: call
            :func:`~dysmorph_desk.phenotype.terms.resolve_terms` first to show the notes.
        kind: ``"omim"`` (default, as pyhpo) or ``"orpha"``: the annotations the information
            content is counted on.
        ontology: Defaults to :func:`load_ontology`.

    Returns:
        :class:`DiseaseScores`, sorted by score, highest first (ties in id order: OMIM before
        ORPHA, then by number).

    Raises:
        UsageError: no terms, or an unknown ``kind``.
        UnknownTermError: an id unknown to the release, or obsolete without replacement.

    Example:
        >>> ids, names, scores = score_diseases(["HP:0000316", "HP:0000494"])
        >>> len(ids) == len(names) == len(scores), bool(scores[0] >= scores[-1])
        (True, True)
    """
    onto = ontology or load_ontology()
    _check_kind(kind)
    resolved, _ = resolve_terms(term_ids, ontology=onto)
    if not resolved:
        raise UsageError("no HPO terms given; enter at least one (e.g. HP:0000316)")
    scores = _fun_sim_avg(onto, term_rows(resolved, onto), kind)
    order = np.argsort(-scores, kind="stable")
    return DiseaseScores(onto.disease_ids[order], onto.disease_names[order], scores[order])


def set_similarity(
    term_ids: Iterable[str],
    other_ids: Iterable[str],
    *,
    kind: str = DEFAULT_KIND,
    ontology: HpoOntology | None = None,
) -> float:
    """Resnik funSimAvg between two term sets (e.g. a simulated clinician's terms and a case's).

    Same measure as :func:`score_diseases`; 0.0 when either set is empty.

    Raises:
        UnknownTermError: as :func:`~dysmorph_desk.phenotype.terms.resolve_terms`.
    """
    onto = ontology or load_ontology()
    a = term_rows(resolve_terms(term_ids, ontology=onto)[0], onto)
    b = term_rows(resolve_terms(other_ids, ontology=onto)[0], onto)
    if not a or not b:
        return 0.0
    sim = np.concatenate(
        [
            term_similarity_rows(onto, a[lo : lo + _CHUNK], kind).take(b, axis=1)
            for lo in range(0, len(a), _CHUNK)
        ]
    )
    return float((sim.max(axis=1).mean() + sim.max(axis=0).mean()) / 2)

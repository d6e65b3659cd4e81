"""Find HPO terms by name or synonym, fast enough to run on every keystroke.

Matching is case-insensitive and ignores punctuation ("wide-set eyes" = "Wide set eyes"). Each
term appears once, at its best match, ranked:

1. ``id``: the text is an HPO id (obsolete and alternative ids lead to the current term);
2. ``exact``: a name or synonym equals the text;
3. ``prefix``: a name or synonym starts with the text ("hypertel" -> Hypertelorism);
4. ``word-prefix``: every word typed starts a word of the name or synonym, in any order
   ("eyes wide" -> "Wide-set eyes");
5. ``contains``: every word typed occurs inside it ("telor" -> Hypertelorism).

Within a rank, names come before synonyms, then shorter labels, then lower ids. The index (all
names and synonyms, normalised, in one string) is built on the first search (~0.1 s);
candidates are found by a C-level scan for the longest word typed, so a later search over the
~42,500 labels takes a few ms (a single letter, ~0.1 s).
"""

from __future__ import annotations

import re
import weakref
from typing import NamedTuple

import numpy as np

from dysmorph_desk.errors import UsageError
from dysmorph_desk.phenotype.ontology import ALIAS_NO_REPLACEMENT, HpoOntology, load_ontology
from dysmorph_desk.utils.inputs import clean_text

MATCH_KINDS = ("id", "exact", "prefix", "word-prefix", "contains")
MAX_QUERY = 200
MAX_LIMIT = 1000
_TERM_ID = re.compile(r"HP[:_](\d{7})", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+")


class SearchHit(NamedTuple):
    """One term found: its id and name, and the label (name or synonym) that matched."""

    id: str
    name: str
    matched: str
    match: str  # one of MATCH_KINDS
    synonym: bool  # the match is on a synonym, not the name

    def to_json(self) -> dict:
        return self._asdict()


def normalise(text: str) -> str:
    """Case-folded words separated by single spaces: what labels and queries are compared as."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


class _Index:
    """Every name and synonym, normalised, joined by newlines for one fast substring scan."""

    def __init__(self, onto: HpoOntology) -> None:
        self.labels = onto.names + onto.synonyms
        self.term = np.concatenate(
            [np.arange(onto.n_terms, dtype=np.int64), onto.synonym_term.astype(np.int64)]
        )
        self.is_synonym = np.arange(len(self.labels)) >= onto.n_terms
        self.norm = [normalise(s) for s in self.labels]
        lengths = np.fromiter((len(s) + 1 for s in self.norm), dtype=np.int64, count=len(self.norm))
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.text = "\n".join(self.norm)

    def candidates(self, token: str) -> np.ndarray:
        """Label numbers whose normalised text contains ``token``."""
        positions = np.fromiter(
            (m.start() for m in re.finditer(re.escape(token), self.text)), dtype=np.int64
        )
        return np.unique(np.searchsorted(self.starts, positions, side="right") - 1)


_INDEXES: weakref.WeakKeyDictionary[HpoOntology, _Index] = weakref.WeakKeyDictionary()


def _index(onto: HpoOntology) -> _Index:
    index = _INDEXES.get(onto)
    if index is None:
        index = _INDEXES[onto] = _Index(onto)
    return index


def _rank(label: str, query: str, tokens: list[str]) -> int | None:
    """1 exact, 2 prefix, 3 word-prefix, 4 contains, None: no match (0 is reserved for ids)."""
    if label == query:
        return 1
    if label.startswith(query):
        return 2
    words = label.split(" ")
    if all(any(w.startswith(t) for w in words) for t in tokens):
        return 3
    if all(t in label for t in tokens):
        return 4
    return None


def _id_hit(onto: HpoOntology, number: int) -> SearchHit | None:
    row = onto.term_row(number)
    if row is None:
        alias = onto.alias(number)
        if alias is None or alias[0] == ALIAS_NO_REPLACEMENT or not alias[1]:
            return None
        row = alias[1][0]
    return SearchHit(onto.term_id(row), onto.names[row], onto.term_id(row), "id", False)


def search(text: str, limit: int = 20, *, ontology: HpoOntology | None = None) -> list[SearchHit]:
    """HPO terms whose name or synonym matches ``text``, best first.

    Args:
        text: What the clinician typed: words ("wide-set eyes") or an id ("HP:0000316").
        limit: Most hits returned (1..1000).
        ontology: Defaults to :func:`~dysmorph_desk.phenotype.ontology.load_ontology`.

    Returns:
        Up to ``limit`` :class:`SearchHit`, one per term, ranked as the module docstring says;
        empty when nothing matches.

    Raises:
        UsageError: empty text (after removing punctuation), text over 200 characters, or a
            limit outside 1..1000.

    Example:
        >>> search("wide-set eyes", limit=1)[0][:2]
        ('HP:0000316', 'Hypertelorism')
    """
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise UsageError(f"the search limit must be between 1 and {MAX_LIMIT}")
    onto = ontology or load_ontology()
    typed = clean_text(text, MAX_QUERY, "search text")
    m = _TERM_ID.fullmatch(typed)
    if m:
        hit = _id_hit(onto, int(m.group(1)))
        return [hit] if hit else []
    query = normalise(typed)
    if not query:
        raise UsageError("the search text is empty; type part of a phenotype name or an HPO id")
    tokens = sorted(set(query.split(" ")), key=len, reverse=True)
    index = _index(onto)
    best: dict[int, tuple[int, bool, int, int, int]] = {}  # term -> sort key with the label
    for label in index.candidates(tokens[0]).tolist():
        norm = index.norm[label]
        if len(tokens) > 1 and not all(t in norm for t in tokens[1:]):
            continue
        rank = _rank(norm, query, tokens)
        if rank is None:
            continue
        term = int(index.term[label])
        key = (rank, bool(index.is_synonym[label]), len(norm), int(onto.term_number[term]), label)
        if term not in best or key < best[term]:
            best[term] = key
    ranked = sorted(best.items(), key=lambda item: item[1])[: int(limit)]
    return [
        SearchHit(
            onto.term_id(term),
            onto.names[term],
            index.labels[key[4]],
            MATCH_KINDS[key[0]],
            key[1],
        )
        for term, key in ranked
    ]

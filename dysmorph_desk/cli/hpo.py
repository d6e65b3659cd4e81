"""``dysmorph-desk hpo``: find Human Phenotype Ontology terms offline.

``hpo search "wide-set eyes"`` lists matching terms (id, name, the synonym that matched);
``hpo show HP:0000316`` prints one term with its synonyms and parents. Obsolete ids are mapped to
their replacement with a note; unknown ids are refused (exit 2). Results go to stdout, notes and
the HPO acknowledgement (release version, as the HPO licence asks) to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from dysmorph_desk.utils.inputs import terminal_safe


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _limit(value: str) -> int:
    from dysmorph_desk.phenotype.search import MAX_LIMIT

    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if not 1 <= n <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return n


def register(sub) -> None:
    """Register ``hpo`` and its subcommands on the top-level subparsers."""
    h = sub.add_parser("hpo", help="find Human Phenotype Ontology (HPO) terms, offline")
    hs = h.add_subparsers(dest="hpo_command", required=True)

    s = hs.add_parser("search", help="find HPO terms by name or synonym")
    s.add_argument("text", help='words ("wide-set eyes") or an HPO id')
    s.add_argument("--limit", type=_limit, default=20, metavar="N", help="most terms listed (20)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_hpo_search)

    w = hs.add_parser("show", help="show one HPO term: name, synonyms, parents")
    w.add_argument("term_id", metavar="HP:NNNNNNN", help="the term's id, e.g. HP:0000316")
    w.add_argument("--json", action="store_true", help="print JSON")
    w.set_defaults(func=cmd_hpo_show)


def _acknowledge(version: str) -> None:
    _err(f"Human Phenotype Ontology release {version} (https://hpo.jax.org)")


def cmd_hpo_search(args: argparse.Namespace) -> int:
    from dysmorph_desk.phenotype import load_ontology, search

    onto = load_ontology()
    hits = search(args.text, limit=args.limit, ontology=onto)
    if args.json:
        doc = {
            "hpo_version": onto.version,
            "query": args.text,
            "results": [h.to_json() for h in hits],
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    for h in hits:
        via = f"\t[synonym: {terminal_safe(h.matched)}]" if h.synonym else ""
        print(f"{h.id}\t{terminal_safe(h.name)}{via}")
    if not hits:
        _err(f"no HPO term matches {terminal_safe(args.text, 80)!r}")
    _acknowledge(onto.version)
    return 0


def cmd_hpo_show(args: argparse.Namespace) -> int:
    from dysmorph_desk.phenotype import load_ontology, term_info

    onto = load_ontology()
    term, notes = term_info(args.term_id, ontology=onto)
    for note in notes:
        _err(note)
    if args.json:
        doc = {
            "hpo_version": onto.version,
            "id": term.id,
            "name": term.name,
            "synonyms": list(term.synonyms),
            "parents": [{"id": pid, "name": name} for pid, name in term.parents],
            "notes": notes,
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(f"{term.id}\t{terminal_safe(term.name)}")
    for synonym in term.synonyms:
        print(f"  synonym\t{terminal_safe(synonym)}")
    for pid, name in term.parents:
        print(f"  parent\t{pid}\t{terminal_safe(name)}")
    _acknowledge(onto.version)
    return 0

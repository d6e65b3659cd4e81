"""HPO phenotype scoring speed and memory: the numpy arrays, optionally beside pyhpo.

    .venv/bin/python benchmarks/bench_hpo.py [--repeats 20] [--pyhpo]

Prints, for the arrays shipped in resources/hpo/:

* load: ``load_ontology()`` in a fresh process (manifest hashes checked, arrays parsed), its wall
  time and the process's resident memory before and after (current RSS from /proc, and the peak);
  goal <= 0.5 s and <= 100 MB added;
* score: ``score_diseases`` of 10 terms over every annotated disease, median of ``--repeats``
  runs after one warm-up; goal <= 200 ms;
* search: the first search (builds the index) and the median of later ones.

With ``--pyhpo``: pyhpo's ``Ontology()`` load time and memory in a fresh process, and its
``HPOSet.similarity(kind="omim", method="resnik", combine="funSimAvg")`` for the same 10 terms
over every OMIM and ORPHA disease (once: it takes seconds), with the largest difference from the
numpy scores. Prints the CPU and load average, since a shared machine moves these numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TERMS = [
    "HP:0000316",  # Hypertelorism
    "HP:0000494",  # Downslanted palpebral fissures
    "HP:0001250",  # Seizure
    "HP:0001263",  # Global developmental delay
    "HP:0000252",  # Microcephaly
    "HP:0004322",  # Short stature
    "HP:0000369",  # Low-set ears
    "HP:0001629",  # Ventricular septal defect
    "HP:0000154",  # Wide mouth
    "HP:0000405",  # Conductive hearing impairment
]

_LOAD_CHILD = """
import json, resource, time
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * {page} / 2**20
{setup}
before = rss()
t = time.perf_counter()
{load}
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "rss_before_mb": before, "rss_after_mb": rss(),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def in_fresh_process(setup: str, load: str) -> dict:
    code = _LOAD_CHILD.format(page=os.sysconf("SC_PAGE_SIZE"), setup=setup, load=load)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def print_load(label: str, r: dict) -> None:
    print(
        f"{label}: {r['seconds'] * 1000:8.1f} ms; RSS {r['rss_before_mb']:.0f} -> "
        f"{r['rss_after_mb']:.0f} MB (+{r['rss_after_mb'] - r['rss_before_mb']:.0f} MB), "
        f"peak {r['peak_mb']:.0f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument(
        "--pyhpo", action="store_true", help="also time pyhpo (~15 s load, ~15 s score)"
    )
    args = ap.parse_args()
    print(f"CPU: {platform.processor() or platform.machine()}; load average {os.getloadavg()}")

    r = in_fresh_process(
        "import numpy\nfrom dysmorph_desk.phenotype import load_ontology",
        "onto = load_ontology()",
    )
    print_load("load_ontology (fresh process, numpy imported first)", r)

    from dysmorph_desk.phenotype import load_ontology, score_diseases, search

    onto = load_ontology()
    print(f"HPO {onto.version}: {onto.n_terms} terms, {onto.n_diseases} diseases (OMIM + ORPHA)")
    ms = median_ms(lambda: score_diseases(TERMS, ontology=onto), args.repeats)
    print(
        f"score_diseases, {len(TERMS)} terms x {onto.n_diseases} diseases: {ms:8.1f} ms (median of {args.repeats})"
    )
    one = median_ms(lambda: score_diseases(TERMS[:1], ontology=onto), args.repeats)
    print(f"score_diseases, 1 term: {one:8.1f} ms")
    t = time.perf_counter()
    search("wide-set eyes", ontology=onto)
    print(f"first search (builds the index): {(time.perf_counter() - t) * 1000:8.1f} ms")
    for text in ("wide-set eyes", "seiz", "short stature"):
        print(
            f"search {text!r}: {median_ms(lambda text=text: search(text, ontology=onto), args.repeats):8.2f} ms"
        )

    if not args.pyhpo:
        return
    r = in_fresh_process("import pyhpo", "pyhpo.Ontology()")
    print_load("pyhpo Ontology() (fresh process)", r)
    import pyhpo
    from pyhpo.annotations import Omim, Orpha

    pyhpo.Ontology()
    ours = score_diseases(TERMS, ontology=onto)
    by_id = dict(zip(ours.disease_ids.tolist(), ours.scores.tolist(), strict=True))
    query = pyhpo.HPOSet.from_queries(TERMS)
    t = time.perf_counter()
    worst = 0.0
    for prefix, table in (("OMIM", Omim), ("ORPHA", Orpha)):
        for disease in table:
            s = query.similarity(
                disease.hpo_set(), kind="omim", method="resnik", combine="funSimAvg"
            )
            worst = max(worst, abs(s - by_id[f"{prefix}:{disease.id}"]))
    print(
        f"pyhpo HPOSet.similarity over {len(Omim) + len(Orpha)} diseases: {time.perf_counter() - t:8.2f} s"
    )
    print(f"largest |pyhpo - numpy| score difference: {worst:.2e}")


if __name__ == "__main__":
    main()

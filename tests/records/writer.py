"""A process that files screenings into a case store and prints each committed visit uid.

Run as ``python -m tests.records.writer STORE N TAG`` from the repository root (N = 0: forever).
A uid is printed (and flushed) only after ``file_screening`` returned, i.e. after COMMIT.
"""

from __future__ import annotations

import itertools
import sys

from dysmorph_desk.records.store import CaseStore
from tests import fakes


def main() -> None:
    store_path, count, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with CaseStore(store_path) as store:
        for i in itertools.count() if count == 0 else range(count):
            data = fakes.photo_bytes(3000)
            c = fakes.case(f"{tag}-{i % 7}", sex="male" if i % 2 else "female")
            _, visit_uid = store.file_screening(
                c, [(data, fakes.result(data, c, ("demo", "other")))], {"fused": i}, tag
            )
            print(visit_uid, flush=True)


if __name__ == "__main__":
    main()

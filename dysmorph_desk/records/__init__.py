"""The local case store: cases, visits, photos and screening results kept on this computer.

``store.CaseStore`` is the one entry point (SQLite in ``paths.store_dir()``, photos beside it by
SHA-256); ``models`` holds the records it returns, ``schema`` the versioned SQL, ``audit`` the
append-only log, ``deleters`` the hooks that erase what other features keep about a deleted case,
and ``export`` the JSON/CSV renderings the ``cases`` command writes. No Qt, no torch. See
docs/records.md.
"""

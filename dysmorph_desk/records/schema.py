"""The case store's SQL: one list of migrations, applied in order, each in one transaction.

``MIGRATIONS[i]`` takes a store from schema version ``i`` to ``i + 1`` (version 0 is an empty
file), so a store written by any earlier version is brought up to date on open and a store from a
newer version (its ``meta.schema_version`` beyond ``len(MIGRATIONS)``) is refused untouched. A
migration is never edited once released: a change is a new entry at the end.
"""

from __future__ import annotations

import sqlite3

EXPORT_KINDS = ("pdf", "json", "fhir", "dicom", "csv")
AUDIT_ACTIONS = ("screened", "exported", "edited", "deleted", "opened", "created")

_V1 = f"""
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    patient_id TEXT NOT NULL,
    sex TEXT NOT NULL DEFAULT 'unknown',
    birth_date TEXT NULL,
    created TEXT NOT NULL
);
CREATE INDEX cases_patient ON cases (patient_id);
CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    date TEXT NOT NULL,
    age_months REAL NULL,
    operator TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    study_uid TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE INDEX visits_case ON visits (case_id);
CREATE INDEX visits_date ON visits (date);
CREATE TABLE photos (
    id INTEGER PRIMARY KEY,
    visit_id INTEGER NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    file TEXT NULL,
    added TEXT NOT NULL
);
CREATE INDEX photos_visit ON photos (visit_id);
CREATE INDEX photos_sha ON photos (sha256);
CREATE INDEX photos_file ON photos (file);
CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    bundle_name TEXT NOT NULL,
    bundle_sha256 TEXT NOT NULL,
    result_json TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX results_photo ON results (photo_id);
CREATE TABLE visit_results (
    id INTEGER PRIMARY KEY,
    visit_id INTEGER NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    result_json TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX visit_results_visit ON visit_results (visit_id);
CREATE TABLE exports (
    id INTEGER PRIMARY KEY,
    visit_id INTEGER NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ({", ".join(repr(k) for k in EXPORT_KINDS)})),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX exports_visit ON exports (visit_id);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL CHECK (action IN ({", ".join(repr(a) for a in AUDIT_ACTIONS)})),
    case_uid TEXT NOT NULL,
    photo_sha256 TEXT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_case ON audit (case_uid);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
"""

# Version 2: the clinician's HPO terms of each visit (JSON: ``[{"id", "label"}, ...]``, as entered
# and resolved), and the differentials ranked for exactly a visit's photos (``records.phenotype``).
# A version-1 store gains both on open: its visits have no terms, and no differential.
_V2 = """
ALTER TABLE visits ADD COLUMN hpo_terms TEXT NOT NULL DEFAULT '[]';
CREATE TABLE differentials (
    id INTEGER PRIMARY KEY,
    visit_id INTEGER NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    result_json TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX differentials_visit ON differentials (visit_id);
"""

MIGRATIONS: list[str] = [_V1, _V2]
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration into single statements (triggers' inner ``;`` included correctly).

    ``Connection.executescript`` would do this, but it commits any open transaction first; a
    migration must run inside the transaction that also re-reads and sets the schema version.
    """
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if buffer.strip() and sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError("migration ends with an incomplete statement")
    return out

"""The audit log: who screened, exported, edited, opened, created or deleted which case, and when.

Rows are only ever appended: triggers in the schema abort any UPDATE or DELETE of an audit row,
so not even a case deletion removes them. That is why a row names the case by its random uid and
a photo by its hash, never by the patient ID, and why ``detail`` carries no free text (no notes,
no file paths): what the log keeps after a deletion must not identify the deleted patient.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from dysmorph_desk.records.models import AuditEntry
from dysmorph_desk.records.schema import AUDIT_ACTIONS


def now() -> str:
    """The store's timestamps: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_audit(
    conn: sqlite3.Connection,
    action: str,
    case_uid: str,
    operator: str = "",
    photo_sha256: str | None = None,
    detail: str = "",
) -> None:
    """Append one row, inside the caller's transaction (so it commits or rolls back with it)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    conn.execute(
        "INSERT INTO audit (ts, operator, action, case_uid, photo_sha256, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (now(), operator, action, case_uid, photo_sha256, detail),
    )


def read_audit(conn: sqlite3.Connection, case_uid: str | None = None) -> list[AuditEntry]:
    """Every audit row, or one case's, oldest first."""
    sql = "SELECT id, ts, operator, action, case_uid, photo_sha256, detail FROM audit"
    params: tuple[str, ...] = ()
    if case_uid is not None:
        sql += " WHERE case_uid = ?"
        params = (case_uid,)
    return [AuditEntry(*row) for row in conn.execute(sql + " ORDER BY id", params)]

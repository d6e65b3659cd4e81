"""The fuzz suite's helpers: run the CLI, hold each outcome to the exit-status contract, audit files.

Every run goes through :class:`CLI`, in-process (``main([...])`` with capsys: fast, many cases) or as
a subprocess (FIFOs, signals, non-UTF-8 argv bytes: exactly what a user runs). :func:`check` holds
each outcome to the contract of ``dysmorph_desk/errors.py`` and the README "Exit status":

* the status is the one the case expects, never 5 (internal error);
* no traceback on stdout or stderr (no ``--debug`` here), no raw escape codes;
* a 2 or a 4 is explained by exactly one line starting ``dysmorph-desk: error:``;
* JSON on stdout is strict JSON (no NaN/Infinity).

:func:`audit_folder` (run after every test by ``conftest._audit_outputs``) checks that every
``*.json`` parses strictly, every ``*.pdf`` is whole, and no ``.*.tmp`` of an atomic write is left.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.cli_helpers import run

ERROR_PREFIX = "dysmorph-desk: error:"
SUBPROCESS_TIMEOUT = 60


SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "schema" / "screening-v2.schema.json"


def _schema_validator() -> object | None:
    try:
        import jsonschema
    except ImportError:
        return None
    if not SCHEMA_FILE.is_file():
        return None
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text("utf-8")))


_VALIDATOR = _schema_validator()


def check_document(doc: object) -> None:
    """A screening document (schema 2) must match docs/schema; other JSON only needs to be strict."""
    is_document = isinstance(doc, dict) and doc.get("schema_version") == 2 and "photos" in doc
    if _VALIDATOR is not None and is_document:
        _VALIDATOR.validate(doc)  # type: ignore[attr-defined]


def _refuse_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(text: str | bytes) -> object:
    """``json.loads`` that refuses NaN, Infinity and -Infinity (what a strict parser does)."""
    return json.loads(text, parse_constant=_refuse_constant)


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.startswith(ERROR_PREFIX)]

    @property
    def message(self) -> str:
        """The one ``dysmorph-desk: error:`` line (asserted to be exactly one)."""
        lines = self.error_lines
        assert len(lines) == 1, f"expected one error line, got {lines!r}\n{self.err}"
        return lines[0]


def check(outcome: Outcome, expected: int, *, json_stdout: bool = False) -> Outcome:
    """Hold one CLI outcome to the contract (see the module docstring)."""
    assert expected != 5, "no case may expect an internal error"
    text = outcome.out + outcome.err
    assert "Traceback" not in text, f"traceback without --debug:\n{outcome.err}"
    assert "internal error" not in outcome.err, outcome.err
    assert outcome.code == expected, (
        f"exit {outcome.code}, expected {expected}\nstdout: {outcome.out[-2000:]}\n"
        f"stderr: {outcome.err[-3000:]}"
    )
    assert "\x1b" not in text, f"raw escape code on the terminal: {text!r}"
    if expected in (2, 4):
        line = outcome.message
        assert line.isprintable() and len(line) < 600, repr(line)
    if expected == 3:
        assert "refused" in outcome.err, outcome.err
    if json_stdout and expected in (0, 3) and outcome.out.strip():
        check_document(strict_json(outcome.out))
    return outcome


def fuzz_settings(max_examples: int) -> settings:
    """The fuzz tests' Hypothesis settings: the same examples every run (derandomized, no example
    database), no deadline, and the test's function-scoped fixtures shared by its examples."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


class CLI:
    """Runs ``dysmorph-desk`` in-process (:meth:`run`) or as a subprocess (:meth:`sub`)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def run(self, *argv: str | os.PathLike[str]) -> Outcome:
        return Outcome(*run(self._capsys, *(os.fspath(a) for a in argv)))

    def sub(
        self,
        *argv: str | bytes | os.PathLike[str],
        timeout: float = SUBPROCESS_TIMEOUT,
        cwd: Path | None = None,
    ) -> Outcome:
        """The real process; ``bytes`` arguments reach argv as they are (non-UTF-8 included)."""
        args = [a if isinstance(a, bytes) else os.fsencode(a) for a in argv]
        proc = subprocess.run(
            [os.fsencode(sys.executable), b"-m", b"dysmorph_desk", *args],
            check=False,
            cwd=cwd,
            env=subprocess_env(),
            capture_output=True,
            timeout=timeout,
        )
        return Outcome(
            proc.returncode,
            proc.stdout.decode("utf-8", "backslashreplace"),
            proc.stderr.decode("utf-8", "backslashreplace"),
        )

    def expect(self, expected: int, *argv: str | os.PathLike[str]) -> Outcome:
        """In-process run, checked against the contract."""
        return check(self.run(*argv), expected, json_stdout=_json_to_stdout(argv))

    def expect_sub(
        self, expected: int, *argv: str | bytes | os.PathLike[str], **kwargs: object
    ) -> Outcome:
        """Subprocess run, checked against the contract."""
        return check(self.sub(*argv, **kwargs), expected, json_stdout=_json_to_stdout(argv))  # type: ignore[arg-type]


def _json_to_stdout(argv: tuple[object, ...]) -> bool:
    items = [os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else a for a in argv]
    return any(a == "--json" and b == "-" for a, b in itertools.pairwise(items))


def subprocess_env() -> dict[str, str]:
    return dict(
        os.environ,
        PYTHONWARNINGS="ignore",
        OMP_NUM_THREADS="1",
        PYTHONIOENCODING="utf-8",
        LC_ALL="C.UTF-8",
    )


def _files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.ismount(os.path.join(folder, d))]
        for name in names:
            yield Path(folder, name)


def audit_folder(root: Path) -> None:
    """Every JSON strict, every PDF whole, no temporary file of an atomic write left behind."""
    for path in _files(root):
        name = path.name
        assert not (name.startswith(".") and name.endswith(".tmp")), f"temp file left: {path}"
        if path.is_symlink() or not path.is_file():
            continue
        if name.endswith(".json") and name != "settings.json":  # tests write damaged settings
            check_document(strict_json(path.read_bytes()))
        elif name.endswith(".pdf"):
            data = path.read_bytes()
            assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:], f"partial PDF {path}"


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def first_photo(data: object) -> dict:
    """A result document's (first) photo: schema 1 is the photo itself, schema 2 lists photos."""
    assert isinstance(data, dict), data
    if "photos" in data:
        photos = data["photos"]
        assert isinstance(photos, list) and photos, data
        return photos[0]
    return data


RUN_FILES = {"summary.csv"}  # what --out-dir writes once per run, beside the photos' files


def photo_outputs(folder: Path) -> list[str]:
    """The per-photo files in an --out-dir (the run's summary left out), sorted."""
    return sorted(p.name for p in folder.iterdir() if p.name not in RUN_FILES)


def assert_no_photo_results(path: Path, refused: int = 1) -> None:
    """A refused run writes no report; its JSON, if any (schema 2), lists no photo, only refusals."""
    if not path.exists():
        return
    doc = strict_json(path.read_bytes())
    assert isinstance(doc, dict) and doc.get("photos") == [], doc
    assert len(doc["refused"]) == refused, doc
    assert all(set(r) <= {"photo", "reason"} for r in doc["refused"]), doc

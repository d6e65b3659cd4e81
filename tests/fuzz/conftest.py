"""Fixtures of the fuzz suite (the helpers are in ``tests/fuzz/helpers.py``).

* ``dd``: the CLI runner (:class:`tests.fuzz.helpers.CLI`).
* ``_reuse_screener``: in-process runs reuse the Screener built for an unchanged bundle file (as
  tests/test_cli.py does), so a case costs one screening, not a model load; a bundle that fails to
  load is never cached, so every hostile bundle is really loaded.
* ``_audit_outputs``: after every test, every JSON the test wrote (its tmp_path and its user home)
  parses strictly, every PDF is whole and no temporary file is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import dysmorph_desk.cli.screen as cli_screen
from tests.fuzz.helpers import CLI, audit_folder

_SCREENERS: dict = {}


@pytest.fixture
def dd(capsys: pytest.CaptureFixture[str]) -> CLI:
    return CLI(capsys)


def _stamp(name: str) -> object:
    try:
        st = Path(name).stat()
    except (OSError, ValueError):  # not a file, or not a file name (too long, NUL): not cached
        return name
    return (str(Path(name).resolve()), st.st_size, st.st_mtime_ns)


@pytest.fixture(autouse=True)
def _reuse_screener(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load each (unchanged) bundle once per session; a bundle that fails to load is never cached."""
    real = cli_screen._load_screener

    def cached(model_names, device_pref, runtime="onnx", allow_unvalidated=False):
        from dysmorph_desk.bundles.format import find_bundles
        from dysmorph_desk.settings import Settings

        names = tuple(model_names or ())
        # a name resolves through the user's folder, which differs per test: key on the file
        resolved = {i.name: str(i.path) for i in find_bundles()}
        key = (
            tuple(_stamp(resolved.get(n, n)) for n in names),
            device_pref,
            runtime,
            allow_unvalidated,
        )
        if key not in _SCREENERS:
            _SCREENERS[key] = real(model_names, device_pref, runtime, allow_unvalidated)[0]
        return _SCREENERS[key], Settings.load()

    monkeypatch.setattr(cli_screen, "_load_screener", cached)


@pytest.fixture(autouse=True)
def _audit_outputs(tmp_path: Path, _isolated_home: Path) -> Iterator[None]:
    yield
    audit_folder(tmp_path)
    audit_folder(_isolated_home)

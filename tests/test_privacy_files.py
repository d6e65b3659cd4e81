"""A screening writes nothing outside DysmorphDesk's own platformdirs folders and the outputs asked
for: in particular ONNX Runtime's telemetry device id (~/.cache/Microsoft/...) is never created."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_screening_writes_only_dysmorph_desks_folders(tmp_path, portraits):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DYSMORPH_DESK_"))}
    env.pop("ORT_DISABLE_TELEMETRY", None)
    env["HOME"] = str(home)
    out = tmp_path / "out.json"
    code = (
        "import sys; from dysmorph_desk.cli import main; "
        f"sys.exit(main(['screen', {str(portraits['grace_hopper'])!r}, '--model', 'demo-mobilenetv2', "
        f"'--cam', 'none', '--no-report', '--json', {str(out)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = sorted(p.relative_to(home) for p in home.rglob("*") if p.is_file())
    assert written, "the log file at least is expected"
    for path in written:
        assert "DysmorphDesk" in path.parts, f"written outside DysmorphDesk's folders: {path}"
    assert not (home / ".cache" / "Microsoft").exists()
    assert out.is_file()

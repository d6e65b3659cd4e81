"""``dysmorph-desk completion bash|zsh``: a script walked from the parser, that bash runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dysmorph_desk.cli import build_parser
from dysmorph_desk.cli.completion import bash_script, zsh_script
from tests.cli_helpers import run

BASH = shutil.which("bash")


def _complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """What bash offers for the last of ``words`` (the word being typed; may be empty)."""
    program = (
        f'source "{script}"; COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); '
        '_dysmorph_desk; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    proc = subprocess.run(
        [BASH, "-c", program, "_", "dysmorph-desk", *words],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        timeout=30,
    )
    return [w for w in proc.stdout.splitlines() if w]


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "dysmorph-desk.bash"
    path.write_text(bash_script(build_parser()), encoding="utf-8")
    return path


def test_the_command_prints_the_scripts(capsys):
    code, out, err = run(capsys, "completion", "bash")
    assert code == 0, err
    assert out == bash_script(build_parser()) and "complete -F _dysmorph_desk dysmorph-desk" in out
    code, out, _ = run(capsys, "completion", "zsh")
    assert code == 0 and "bashcompinit" in out and out == zsh_script(build_parser())
    code, _, err = run(capsys, "completion", "fish")
    assert code == 2 and "bash, zsh" in err


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_accepts_the_script(script):
    subprocess.run([BASH, "-n", str(script)], check=True, timeout=30)


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (("scr",), ["screen"]),
        (("screen", "--se"), ["--sex"]),
        (("screen", "--sex", ""), ["F", "M", "U", "female", "male", "unknown"]),
        (("screen", "--cam", "gradcam"), ["gradcam", "gradcam++"]),
        (("keys", ""), ["new", "trust", "list", "untrust"]),
        (("cases", "export", "--format", ""), ["json", "csv", "fhir", "dicom"]),
        (("train", "--batch"), ["--batch-size"]),
        (("completion", ""), ["bash", "zsh"]),
    ],
)
def test_bash_completes_commands_options_and_choices(script, words, offered):
    assert _complete(script, *words) == offered


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_bash_completes_photo_paths(script, tmp_path):
    (tmp_path / "child1.jpg").write_bytes(b"x")
    (tmp_path / "child2.heic").write_bytes(b"x")
    assert sorted(_complete(script, "screen", "chi", cwd=tmp_path)) == ["child1.jpg", "child2.heic"]
    assert _complete(script, "screen", "--report", "chi", cwd=tmp_path)  # a path option: files


def test_hidden_options_are_not_offered():
    assert "--exit-after-results" not in bash_script(build_parser())


ZSH = shutil.which("zsh")


@pytest.mark.skipif(ZSH is None, reason="zsh is not installed")
def test_zsh_loads_the_script_and_its_function_answers(tmp_path):
    """zsh registers the function (compdef via bashcompinit) and gets the same words; zsh's own
    matching then filters them by what is typed, so the sex choices come whole here."""
    script = tmp_path / "dd.zsh"
    script.write_text(zsh_script(build_parser()), encoding="utf-8")
    program = (
        f'autoload -U compinit && compinit -u -d "{tmp_path}/zcompdump"; source "{script}"; '
        'print -r -- "$_comps[dysmorph-desk]"; '
        'COMP_WORDS=(dysmorph-desk screen --sex ""); COMP_CWORD=3; words=("${COMP_WORDS[@]}"); '
        'CURRENT=4; compgen -F _dysmorph_desk -- ""'
    )
    proc = subprocess.run(
        [ZSH, "-f", "-c", program], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[:2] == ["_bash_complete", "-F"] and "_dysmorph_desk" in lines[2]
    assert lines[3:] == ["F", "M", "U", "female", "male", "unknown"]

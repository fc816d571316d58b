"""The README's examples run: the "Operating a store" Python block and the CLI session."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(heading: str, language: str, level: str = "##") -> list[str]:
    """The fenced ``language`` blocks of the README section under ``## heading`` (or ``level``)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{level} {heading}\n")
    end = text.find(f"\n{level} ", start + 1)
    section = text[start : end if end != -1 else None]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_the_operating_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = _blocks("Operating a store", "python")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})  # the README's own example
    assert (tmp_path / "mira_ops.parquet").exists()
    assert (tmp_path / "mira_ops_backup" / "backup.json").exists()


def test_the_batch_cache_and_collections_example_prints_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = _blocks("Many queries, repeated queries, several collections", "python", level="###")
    exec(compile(code, "README.md", "exec"), {})  # the README's own example
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "[['p1'], ['p2']]"  # as its comment says
    assert len(printed) == 3
    assert {line.split()[0] for line in printed[1:]} == {"True", "False"}  # hits from both stores


def test_the_cli_session_runs(tmp_path: Path) -> None:
    (session,) = _blocks("Command line", "bash")
    commands = [line.split("  #")[0].strip() for line in session.splitlines() if line.startswith("mira-vs ")]
    assert len(commands) >= 8
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "cats.md").write_text("# Cats\n\nCats purr when they are content.\n")
    (tmp_path / "docs" / "notes.jsonl").write_text(
        '{"id": "n1", "text": "Dogs bark at night.", "year": 2021}\n'
        '{"id": "n2", "text": "Birds sing at dawn.", "year": 2019}\n'
    )
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "MIRA_VS_EMBEDDER": "hashing"}
    for command in commands:
        done = subprocess.run(  # the README's own commands
            shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"

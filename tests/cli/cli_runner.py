"""Running ``mira-vs`` for real: ``python -m mira_vectorstores.cli`` in a subprocess.

The model-free hashing embedder (``MIRA_VS_EMBEDDER=hashing``) keeps runs fast; each run still
pays ~1.5-2 s of imports, so a module shares one store, made in-process (``ingest_in_process``),
and checks many things per run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mira_vectorstores import HashingEmbedder, HybridStore
from mira_vectorstores.cli.records import Chunker, write_documents
from mira_vectorstores.cli.sources import Columns, SourceFile, read

ENTRY = [sys.executable, "-m", "mira_vectorstores.cli"]
TIMEOUT = 120


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIRA_")}
    env.update(
        MIRA_VS_EMBEDDER="hashing",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        COLUMNS="200",
        MIRA_SCIFACT="/nonexistent",  # the demo uses its bundled sample
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class Run:
    """A finished ``mira-vs`` run."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    def ok(self) -> Run:
        assert self.code == 0, f"mira-vs {' '.join(self.args)} exited {self.code}:\n{self.err}"
        return self

    def failed(self, code: int) -> str:
        """Assert the run failed with ``code`` and one ``error:`` line on stderr, no traceback; return that line."""
        assert self.code == code, f"mira-vs {' '.join(self.args)} exited {self.code}, not {code}:\n{self.err}"
        assert "Traceback" not in self.err
        assert len(self.err_lines) == 1, self.err
        assert self.err_lines[0].startswith("error: ")
        return self.err_lines[0]


@dataclass(frozen=True)
class Cli:
    """``mira-vs`` in a working folder."""

    cwd: Path

    def start(self, *args: str, env: Mapping[str, str] | None = None, stdin: bool = False) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*ENTRY, *args],
            cwd=self.cwd,
            env=cli_env(**(env or {})),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None) -> Run:
        proc = self.start(*args, env=env, stdin=stdin is not None)
        out, err = proc.communicate(stdin, timeout=TIMEOUT)
        return Run(args, proc.returncode, out, err)


SAMPLE = Path(__file__).parents[2] / "mira_vectorstores" / "data" / "sample.jsonl"


def ingest_in_process(workdir: Path, name: str, path: Path) -> None:
    """What ``mira-vs ingest PATH --name NAME`` writes (hashing embedder), without a process's ~2 s of imports."""
    with HybridStore(name, path=workdir / "mira_data", embedder=HashingEmbedder()) as store:
        write_documents(store, read(SourceFile(path, path.name), Columns()), chunker=Chunker(1000, 100))

"""Fixtures of the mira-vs tests: a working folder per module, and the sample corpus ingested once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cli_runner import SAMPLE, Cli, ingest_in_process


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def cli(workdir: Path) -> Cli:
    return Cli(workdir)


@pytest.fixture(scope="module")
def sample_store(workdir: Path) -> str:
    """The bundled sample corpus (20 records with topic / year / breakthrough) as store ``notes``."""
    ingest_in_process(workdir, "notes", SAMPLE)
    return "notes"

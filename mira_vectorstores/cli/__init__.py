"""mira-vs, the command line of mira_vectorstores (Click).

Modules: ``app`` (the group, shared options, opening a store, the error handler), ``params``
(option types), ``output`` (JSON, tables, reports), ``sources`` (files into documents),
``records`` (chunks, metadata, batched upserts), ``commands`` (demo, ingest, search, get,
delete), ``ops`` (stats, collections, export, import, backup, restore, migrate, doctor) and
``evaluate`` (eval).
"""

from __future__ import annotations

from collections.abc import Sequence

from mira_vectorstores.cli import commands, evaluate, ops  # noqa: F401 - registers the commands
from mira_vectorstores.cli.app import cli, run

__all__ = ["cli", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of mira-vs: run the command line and return its exit code.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        0 on success, 1 for a failure, 2 for a usage error, 130 when interrupted.
    """
    return run(argv)

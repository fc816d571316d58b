"""What commands print: one function per format (JSON, a table, a key-value report), plus the
plain forms of hits and records they share.

Results go to stdout; progress bars, notes and errors go to stderr, so ``--json`` output pipes cleanly.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from mira_vectorstores.engine import Record, SearchHit

_SHOWN_ITEMS = 5  # ids a report lists before "..."


def emit_json(data: object) -> None:
    """Print ``data`` as indented JSON (dates as ISO-8601, dataclasses as dicts)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_plain))


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, right: Collection[int] = ()) -> None:
    """Print rows as aligned columns; the last column is cut to the terminal's width.

    Args:
        headers: column titles.
        rows: cells (``None`` shows as ``-``).
        right: indexes of the columns to right-align (numbers).
    """
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    room = shutil.get_terminal_size((120, 24)).columns - sum(widths[:-1]) - 2 * (len(headers) - 1)
    widths[-1] = min(widths[-1], max(room, 20))
    for row in [list(headers), *cells]:
        parts = [
            _fit(text, width).rjust(width) if i in right else _fit(text, width).ljust(width)
            for i, (text, width) in enumerate(zip(row, widths, strict=True))
        ]
        click.echo("  ".join(parts).rstrip())


def emit_report(data: Mapping[str, object]) -> None:
    """Print a report as ``key: value`` lines; nested mappings as dotted keys, long lists shortened."""
    lines = list(_flatten(data))
    width = max((len(key) for key, _ in lines), default=0)
    for key, value in lines:
        click.echo(f"{key + ':':<{width + 1}} {value}")


def emit(data: Mapping[str, object], *, as_json: bool) -> None:
    """A report as JSON (``--json``) or as ``key: value`` lines."""
    if as_json:
        emit_json(data)
    else:
        emit_report(data)


def progress_bar(*, total: int | None, unit: str, desc: str, show: bool) -> tqdm:
    """A progress bar on stderr (rate and ETA), cleared when done; ``show=False`` draws nothing."""
    return tqdm(total=total, unit=unit, desc=desc, disable=not show, leave=False, file=sys.stderr)


def plural(count: int, noun: str) -> str:
    """``1 record``, ``2 records``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def note(text: str) -> None:
    """A line for the person at the terminal (stderr), outside the command's result."""
    click.echo(text, err=True)


def hit_dict(hit: SearchHit) -> dict[str, object]:
    """A hit as plain data: id, score, document, metadata and the score parts."""
    parts = hit.scores
    return {
        "id": hit.id,
        "score": hit.score,
        "document": hit.document,
        "metadata": hit.metadata,
        "dense": parts.dense,
        "lexical": parts.lexical,
        "fused": parts.fused,
        "boost": parts.boost,
        "distance": parts.distance,
        "object": hit.object,
    }


def record_dict(record: Record) -> dict[str, object]:
    """A record as plain data."""
    return {"id": record.id, "document": record.document, "metadata": record.metadata, "object": record.object}


def emit_hits(hits: Sequence[SearchHit], *, as_json: bool) -> None:
    """Search hits as JSON or as a ranked table (rank, id, score, dense, bm25, boost, text)."""
    if as_json:
        emit_json([hit_dict(hit) for hit in hits])
        return
    if not hits:
        note("no hits")
        return
    rows = [(rank, hit.id, hit.score, hit.scores, hit.document) for rank, hit in enumerate(hits, start=1)]
    cells = [
        (rank, id_, f"{score:.4f}", _num(parts.dense, 3), _num(parts.lexical, 2), f"{parts.boost:.2f}", text)
        for rank, id_, score, parts, text in rows
    ]
    emit_table(["#", "id", "score", "dense", "bm25", "boost", "text"], cells, right={0, 2, 3, 4, 5})


def emit_records(records: Sequence[Record], *, as_json: bool) -> None:
    """Records as JSON or as a table (id, the text's start, metadata)."""
    if as_json:
        emit_json([record_dict(record) for record in records])
        return
    rows = [
        (r.id, _fit(_cell(r.document), 60), json.dumps(r.metadata, ensure_ascii=False, default=_plain)) for r in records
    ]
    emit_table(["id", "text", "metadata"], rows)


def _num(value: float | None, digits: int) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{round(value, 3)}"
    return "-" if value is None else " ".join(str(value).split())


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _flatten(data: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        if isinstance(value, Mapping) and value:
            lines.extend(_flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            shown = ", ".join(map(str, value[:_SHOWN_ITEMS])) + (", ..." if len(value) > _SHOWN_ITEMS else "")
            lines.append((name, f"{len(value)} ({shown})" if value else "0"))
        else:
            lines.append((name, _cell(_plain(value) if isinstance(value, (datetime, date, Enum, Path)) else value)))
    return lines


def _plain(value: object) -> object:
    """JSON's ``default``: what ``json`` cannot write itself."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, set, frozenset)):
        return str(value) if isinstance(value, Path) else sorted(value, key=str)
    msg = f"cannot write {type(value).__qualname__} as JSON"
    raise TypeError(msg)

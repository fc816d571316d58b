"""What ``mira-vs ingest`` reads: files and folders into documents (``beir.Doc``).

- ``.txt`` / ``.md``: one document per file; id = the path under the folder given (or the file
  name), metadata ``source``.
- ``.jsonl`` / ``.json`` (a list of objects, or one): id from ``_id`` / ``id`` (else
  ``<file>:<line>``), text from ``text`` / ``content`` / ``page_content`` (a BEIR ``title`` is
  joined in front, as ``beir.load_corpus`` does), metadata from a ``metadata`` object and the
  other fields.
- ``.csv``: a text column and an id column; the other columns are metadata (numbers parsed).

Folders are read recursively in name order, hidden files and folders skipped; a BEIR folder
(``corpus.jsonl`` next to ``queries.jsonl``) gives only its corpus, whose ids are BEIR's.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import TextIO

from mira_vectorstores.beir import Doc, join_title
from mira_vectorstores.cli.app import CliFailure

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (*TEXT_SUFFIXES, ".jsonl", ".json", ".csv")
ID_FIELDS = ("_id", "id")
TEXT_FIELDS = ("text", "content", "page_content")
_INT = re.compile(r"-?(0|[1-9]\d{0,17})")
_FLOAT = re.compile(r"-?\d+\.\d+([eE][-+]?\d+)?")
csv.field_size_limit(2**31 - 1)  # a long document in one cell is normal here


class SourceError(CliFailure):
    """A file that cannot be read as its suffix says (the message names the file and line)."""


@dataclass(frozen=True)
class SourceFile:
    """One file to read, and the name its documents are known by (path under the folder given)."""

    path: Path
    name: str


@dataclass(frozen=True)
class Columns:
    """The CSV columns that hold a record's text and id."""

    text: str = "text"
    id: str = "id"


@dataclass
class Found:
    """The files a set of paths holds, and how many were skipped per suffix."""

    files: list[SourceFile] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def discover(paths: Sequence[Path]) -> Found:
    """The readable files of ``paths`` (files, or folders read recursively).

    Args:
        paths: files and folders, as given on the command line.

    Returns:
        The files in order, and the skipped ones counted by suffix.
    """
    found = Found()
    for path in paths:
        if path.is_dir():
            _walk(found, path, path)
        else:
            _add(found, path, path.name)
    return found


def _walk(found: Found, folder: Path, root: Path) -> None:
    if (folder / "corpus.jsonl").is_file() and (folder / "queries.jsonl").is_file():  # BEIR: the corpus only
        _add(found, folder / "corpus.jsonl", (folder / "corpus.jsonl").relative_to(root).as_posix())
        return
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            _walk(found, entry, root)
        elif entry.is_file():
            _add(found, entry, entry.relative_to(root).as_posix())


def _add(found: Found, path: Path, name: str) -> None:
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        found.files.append(SourceFile(path, name))
    else:
        found.skipped[suffix or "(no suffix)"] += 1


def read_all(files: Iterable[SourceFile], columns: Columns, *, limit: int | None = None) -> Iterator[Doc]:
    """The documents of ``files`` in order, at most ``limit``."""
    return islice(chain.from_iterable(read(file, columns) for file in files), limit)


def count_all(files: Iterable[SourceFile], *, limit: int | None = None) -> int:
    """How many documents ``files`` hold (a quick pass), at most ``limit``: a progress bar's total."""
    total = sum(count(file) for file in files)
    return total if limit is None else min(total, limit)


def read(source: SourceFile, columns: Columns) -> Iterator[Doc]:
    """The documents of one file.

    Raises:
        SourceError: for a file that is not UTF-8, bad JSON, or a record without text.
    """
    suffix = source.path.suffix.lower()
    with _opened(source) as handle:
        if suffix in TEXT_SUFFIXES:
            yield Doc(source.name, handle.read(), {"source": source.name})
        elif suffix == ".jsonl":
            for line, text in enumerate(handle, start=1):
                if text.strip():
                    yield _from_object(_json(text, source, line), source, line)
        elif suffix == ".json":
            data = _json(handle.read(), source, None)
            for item, row in enumerate(data if isinstance(data, list) else [data], start=1):
                yield _from_object(row, source, item)
        else:
            yield from _from_csv(handle, source, columns)


def count(source: SourceFile) -> int:
    """How many documents one file holds (lines of a JSONL, rows of a CSV)."""
    suffix = source.path.suffix.lower()
    with _opened(source) as handle:
        if suffix in TEXT_SUFFIXES:
            return 1
        if suffix == ".jsonl":
            return sum(1 for text in handle if text.strip())
        if suffix == ".json":
            data = _json(handle.read(), source, None)
            return len(data) if isinstance(data, list) else 1
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


@contextmanager
def _opened(source: SourceFile) -> Iterator[TextIO]:
    try:
        with source.path.open(encoding="utf-8-sig", newline="" if source.path.suffix.lower() == ".csv" else None) as f:
            yield f
    except UnicodeDecodeError as exc:
        msg = f"{source.path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        raise SourceError(msg) from None


def _json(text: str, source: SourceFile, line: int | None) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{source.path}:{line}" if line is not None else f"{source.path}:{exc.lineno}"
        msg = f"{where}: invalid JSON ({exc.msg}, column {exc.colno})"
        raise SourceError(msg) from None


def _from_object(row: object, source: SourceFile, line: int) -> Doc:
    where = f"{source.path}:{line}"
    if not isinstance(row, Mapping):
        msg = f"{where}: expected a JSON object with a text field, got {type(row).__name__}"
        raise SourceError(msg)
    text_field = next((name for name in TEXT_FIELDS if isinstance(row.get(name), str)), None)
    if text_field is None:
        msg = f"{where}: no text field; expected one of {', '.join(TEXT_FIELDS)}, found {', '.join(map(str, row))}"
        raise SourceError(msg)
    id_field = next((name for name in ID_FIELDS if row.get(name) not in (None, "")), None)
    used = {id_field, text_field, "title", "metadata"}
    metadata: dict[str, object] = {"source": source.name}
    metadata.update((str(k), v) for k, v in row.items() if k not in used)
    nested = row.get("metadata")
    if isinstance(nested, Mapping):
        metadata.update((str(k), v) for k, v in nested.items())
    elif nested is not None:
        metadata["metadata"] = nested
    doc_id = str(row[id_field]) if id_field else f"{source.name}:{line}"
    return Doc(doc_id, join_title(row.get("title"), row[text_field]), metadata)


def _from_csv(handle: TextIO, source: SourceFile, columns: Columns) -> Iterator[Doc]:
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    if columns.text not in header:
        msg = (
            f"{source.path}: no column {columns.text!r} (columns: {', '.join(header)}); "
            "name the text column with --text-column"
        )
        raise SourceError(msg)
    for row in reader:
        line = reader.line_num
        metadata: dict[str, object] = {"source": source.name}
        cells = (
            (k, v) for k, v in row.items() if isinstance(k, str) and isinstance(v, str) and v
        )  # k None: extra cells
        metadata.update((k, _cell(v)) for k, v in cells if k not in (columns.text, columns.id))
        doc_id = row.get(columns.id) or f"{source.name}:{line}"
        yield Doc(doc_id, row.get(columns.text) or "", metadata)


def _cell(text: str) -> object:
    """A CSV cell as a number when it is one (so filters like ``{"year": {"$gte": 2020}}`` work)."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text

"""Documents into store records: metadata Chroma can hold, chunks of long texts, and batched upserts
that skip unchanged records and delete the chunks a shorter document no longer has.

Every record written carries ``parent_id`` (its document's id), ``chunk`` (index), ``chunks``
(count) and ``start`` (character offset); a document of several chunks gets ids ``<id>#<n>``.
After each batch's upsert, records whose ``parent_id`` is one of the batch's documents but whose id
the batch did not write are deleted: the stale chunks of a document that now gives fewer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from semantic_text_splitter import TextSplitter

from mira_vectorstores.beir import Doc
from mira_vectorstores.engine import HybridStore, Record

_INT64 = (-(2**63), 2**63 - 1)  # what Chroma holds


@dataclass(frozen=True)
class Chunk:
    """One record to write."""

    id: str
    text: str
    metadata: dict[str, object]


@dataclass
class Conversions:
    """Metadata values changed into a form Chroma holds, by kind."""

    flattened: int = 0  #: nested objects, spread into dotted keys ``a.b``
    as_json: int = 0  #: lists of mixed types or of objects, empty lists and objects: JSON strings
    as_text: int = 0  #: integers beyond 64 bits, non-finite floats: strings

    @property
    def total(self) -> int:
        """Values converted."""
        return self.flattened + self.as_json + self.as_text

    def describe(self) -> str:
        """One line: how many values were converted, and how."""
        kinds = [
            ("nested objects flattened to dotted keys", self.flattened),
            ("lists or objects stored as JSON strings", self.as_json),
            ("numbers Chroma cannot hold stored as strings", self.as_text),
        ]
        parts = "; ".join(f"{what}: {n}" for what, n in kinds if n)
        return f"converted {self.total} metadata values Chroma cannot hold ({parts})"


@dataclass
class WriteReport:
    """What ``write_documents`` did."""

    documents: int = 0
    chunks: int = 0
    written: int = 0
    unchanged: int = 0
    stale_deleted: int = 0
    conversions: Conversions = field(default_factory=Conversions)


class Chunker:
    """Cuts long texts at semantic bounds (``semantic_text_splitter``), by characters.

    A chunk is filled to between half of ``size`` and ``size`` characters where the text's
    paragraphs and sentences allow; texts of at most ``size`` characters stay whole, and
    ``size=0`` turns chunking off.

    Example:
        >>> [start for start, _ in Chunker(40, 5).split("One sentence here. " * 6)]
        [0, 38, 76]
    """

    def __init__(self, size: int, overlap: int = 0) -> None:
        """Create the chunker.

        Args:
            size: the most characters in a chunk (0: no chunking).
            overlap: characters a chunk repeats from the previous one (less than ``size``).
        """
        self.size = size
        self._splitter = TextSplitter((max(size // 2, overlap + 1), size), overlap=overlap) if size else None

    def split(self, text: str) -> list[tuple[int, str]]:
        """The chunks of ``text`` with their character offsets."""
        if self._splitter is None or len(text) <= self.size:
            return [(0, text)]
        return self._splitter.chunk_indices(text) or [(0, text)]

    def chunks(self, doc: Doc, metadata: Mapping[str, object]) -> list[Chunk]:
        """The records of one document: its metadata plus ``chunk``, ``chunks``, ``parent_id``, ``start``."""
        pieces = self.split(doc.text)
        several = len(pieces) > 1
        return [
            Chunk(
                f"{doc.id}#{n}" if several else doc.id,
                text,
                {**metadata, "chunk": n, "chunks": len(pieces), "parent_id": doc.id, "start": start},
            )
            for n, (start, text) in enumerate(pieces)
        ]


def chroma_metadata(metadata: Mapping[str, object], conversions: Conversions) -> dict[str, object]:
    """Metadata Chroma can hold: nested objects flattened to ``a.b`` keys; lists of mixed types,
    of objects, or empty as JSON strings; numbers beyond Chroma's as strings; nulls left out.

    Args:
        metadata: one document's metadata.
        conversions: counts what was converted (updated).

    Returns:
        The converted metadata.

    Example:
        >>> chroma_metadata({"a": {"b": 1}, "tags": ["x", 2], "n": None}, Conversions())
        {'a.b': 1, 'tags': '["x", 2]'}
    """
    out: dict[str, object] = {}
    for key, value in metadata.items():
        _put(out, str(key), value, conversions)
    return out


def _put(out: dict[str, object], key: str, value: object, conversions: Conversions) -> None:
    if isinstance(value, Mapping) and value:
        conversions.flattened += 1
        for inner, item in value.items():
            _put(out, f"{key}.{inner}", item, conversions)
    elif isinstance(value, (list, tuple, Mapping)):
        kinds = {type(item) for item in value}
        if len(kinds) == 1 and kinds <= {str, int, float, bool} and all(_holds(item) for item in value):
            out[key] = list(value)
        else:
            out[key] = json.dumps(value, ensure_ascii=False, default=str)
            conversions.as_json += 1
    elif value is None or _holds(value):
        if value is not None:
            out[key] = value
    else:
        out[key] = str(value)
        conversions.as_text += 1


def _holds(value: object) -> bool:
    if isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    return isinstance(value, float) and math.isfinite(value)


def write_documents(
    store: HybridStore,
    docs: Iterable[Doc],
    *,
    chunker: Chunker,
    batch_size: int = 256,
    on_batch: Callable[[int], object] | None = None,
) -> WriteReport:
    """Upsert documents as chunked records, in batches of whole documents.

    A record whose text and metadata are already stored is not written again; a document read
    twice keeps its last version.

    Args:
        store: the open store.
        docs: the documents.
        chunker: how texts are cut.
        batch_size: records per upsert (a document's chunks always share a batch).
        on_batch: called with the number of documents after each batch (a progress bar).

    Returns:
        Counts of documents, chunks, records written, unchanged and stale chunks deleted.
    """
    report = WriteReport()
    batch: dict[str, list[Chunk]] = {}
    read = 0
    for doc in docs:
        batch[doc.id] = chunker.chunks(doc, chroma_metadata(doc.metadata, report.conversions))
        read += 1
        if sum(map(len, batch.values())) >= batch_size:
            _flush(store, batch, report)
            if on_batch is not None:
                on_batch(read)
            batch, read = {}, 0
    if batch:
        _flush(store, batch, report)
        if on_batch is not None:
            on_batch(read)
    return report


def _flush(store: HybridStore, batch: dict[str, list[Chunk]], report: WriteReport) -> None:
    records = [chunk for chunks in batch.values() for chunk in chunks]
    ids = [chunk.id for chunk in records]
    stored: dict[str, Record] = {record.id: record for record in store.get(ids)}
    changed = [
        chunk
        for chunk in records
        if (old := stored.get(chunk.id)) is None or old.document != chunk.text or old.metadata != chunk.metadata
    ]
    if changed:
        store.upsert([c.text for c in changed], ids=[c.id for c in changed], metadatas=[c.metadata for c in changed])
    keep = set(ids)
    stale = [r.id for r in store.get(where={"parent_id": {"$in": list(batch)}}) if r.id not in keep]
    if stale:
        store.delete(stale)
    report.documents += len(batch)
    report.chunks += len(records)
    report.written += len(changed)
    report.unchanged += len(records) - len(changed)
    report.stale_deleted += len(stale)

"""Vectors from a Chroma HNSW segment's files, read without Chroma or hnswlib.

A local segment folder holds hnswlib's index split in files: ``header.bin`` (the layout),
``data_level0.bin`` (per element: its level-0 links, its vector, its label) and
``index_metadata.pickle`` (the record id of each label). A writer killed while Chroma
rewrites these files leaves them out of step (say, 10,000 elements in ``data_level0.bin``
but labels for 9,000 in the pickle); each element whose label the pickle maps is still a
good vector, and Chroma's log holds the writes after the pickle's.

The pickle is read with an unpickler that refuses every global (so a crafted file cannot run
code): Chroma's holds only dicts, strings, ints and ``None``.
"""

from __future__ import annotations

import io
import logging
import pickle
import pickletools
import struct
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)
#: hnswlib's header: version, offsetLevel0, max_elements, cur_element_count,
#: size_data_per_element, label_offset, offsetData, maxlevel, enterpoint_node, maxM, maxM0,
#: M, mult, ef_construction.
_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")
MAX_PICKLE = 1 << 31  # bytes: ids and labels of some 50 million records
_DELETED = 0x01  # hnswlib's mark on a deleted element (third byte of its level-0 link header)


class _Refused(pickle.UnpicklingError):
    """The pickle names code: nothing of it is used."""


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        msg = f"the segment's pickle names {module}.{name}; only plain data is read"
        raise _Refused(msg)


_PUSH = {"BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE", "BININT", "BININT1", "BININT2", "LONG1"}
_IGNORE = {"PROTO", "FRAME", "MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT", "STOP"}


def _salvage(raw: bytes, key: str = "id_to_label") -> dict[str, int]:
    """The ``key`` mapping of a pickle cut short: its opcodes are replayed (plain data only, no
    code) up to where the bytes end, and the pairs read so far are kept.
    """
    stack: list[object] = []
    marks: list[int] = []
    try:
        for op, arg, _ in pickletools.genops(raw):
            if op.name in _PUSH:
                stack.append(arg)
            elif op.name in ("NONE", "EMPTY_DICT"):
                stack.append(None if op.name == "NONE" else {})
            elif op.name == "MARK":
                marks.append(len(stack))
            elif op.name in ("SETITEMS", "SETITEM"):
                start = marks.pop() if op.name == "SETITEMS" else len(stack) - 2
                items, target = stack[start:], stack[start - 1]
                del stack[start:]
                if isinstance(target, dict):
                    target.update(zip(items[::2], items[1::2], strict=False))
            elif op.name not in _IGNORE:
                break
    except (ValueError, IndexError):
        pass  # the cut: keep what was read
    for i, item in enumerate(stack):
        if item == key and i + 1 < len(stack) and isinstance(stack[i + 1], dict):
            pending = [] if not marks or marks[-1] <= i + 1 else stack[marks[-1] :]
            found = {**stack[i + 1], **dict(zip(pending[::2], pending[1::2], strict=False))}  # type: ignore[dict-item]
            return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, int)}
        if isinstance(item, dict) and isinstance(item.get(key), dict):
            return {k: v for k, v in item[key].items() if isinstance(k, str) and isinstance(v, int)}
    return {}


def vectors(folder: Path, dimension: int | None) -> dict[str, np.ndarray]:
    """Every live element's vector by record id (empty when the files are unusable; the
    reason is logged).
    """
    try:
        return _vectors(folder, dimension)
    except (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        OverflowError,
        MemoryError,
        EOFError,
        struct.error,
        pickle.UnpicklingError,
    ) as exc:  # a damaged file fails in many ways; each means: no vectors from it
        logger.warning("HNSW segment %s gives no vectors: %s", folder, exc)
        return {}


def _vectors(folder: Path, dimension: int | None) -> dict[str, np.ndarray]:
    header = (folder / "header.bin").read_bytes()
    fields = _HEADER.unpack_from(header)
    count, per_element, label_offset, data_offset = fields[3], fields[4], fields[5], fields[6]
    width = (label_offset - data_offset) // 4
    if not 0 < data_offset < label_offset <= per_element - 8 or (dimension is not None and width != dimension):
        msg = f"header gives a {width}-dim layout, not the collection's {dimension}"
        raise ValueError(msg)
    with (folder / "index_metadata.pickle").open("rb") as handle:
        raw = handle.read(MAX_PICKLE)
    try:
        meta = _DataOnly(io.BytesIO(raw)).load()
        id_to_label = meta.get("id_to_label") if isinstance(meta, dict) else None
    except _Refused:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError):
        id_to_label = _salvage(raw)  # a pickle cut short by a kill still maps its first ids
        logger.warning("the pickle of HNSW segment %s is cut short: %d ids read from it", folder, len(id_to_label))
    if not isinstance(id_to_label, dict):
        msg = "the pickle has no id_to_label mapping"
        raise ValueError(msg)
    # At most what the header declares: a torn file can be sparse and terabytes long.
    data = np.fromfile(folder / "data_level0.bin", dtype=np.uint8, count=count * per_element)
    count = min(count, data.size // per_element)  # a file cut short holds fewer elements
    elements = data[: count * per_element].reshape(count, per_element)
    labels = elements[:, label_offset : label_offset + 8].copy().view("<u8").ravel()
    deleted = (elements[:, 2] & _DELETED).astype(bool)
    matrix = elements[:, data_offset:label_offset].copy().view("<f4")
    row_of_label = {int(label): row for row, label in enumerate(labels) if not deleted[row]}
    out: dict[str, np.ndarray] = {}
    for record_id, label in id_to_label.items():
        row = row_of_label.get(label) if isinstance(record_id, str) and isinstance(label, int) else None
        if row is not None and np.isfinite(matrix[row]).all():
            out[record_id] = matrix[row].astype(np.float32)
    return out

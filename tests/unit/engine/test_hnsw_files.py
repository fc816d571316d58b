"""Tests of ``engine/repair/hnsw_files.py``: vectors read from a real Chroma segment's files,
bit-exact; damaged or crafted files give fewer vectors or none, and never run code.
"""

from __future__ import annotations

import logging
import os
import pickle
import pickletools
import shutil
from dataclasses import dataclass
from pathlib import Path

import chromadb
import numpy as np
import pytest

from mira_vectorstores.engine.repair import hnsw_files

DIM = 16
N = 1_000
DELETED = 150  # at least sync_threshold: the deletes are persisted to the segment's files
CONFIG = {"hnsw": {"space": "ip", "sync_threshold": 100, "batch_size": 100}}
FILES = ("header.bin", "data_level0.bin", "index_metadata.pickle")


@dataclass(frozen=True)
class Segments:
    fresh: Path  # a copy of the segment after N adds
    deleted: Path  # the segment after the first DELETED ids were deleted
    ids: list[str]
    vectors: np.ndarray


def _segment_folder(root: Path) -> Path:
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    return folder


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> Segments:
    root = tmp_path_factory.mktemp("hnsw")
    ids = [f"rec-{i}" for i in range(N)]
    vectors = np.random.default_rng(7).standard_normal((N, DIM)).astype(np.float32)
    vectors[0, :3] = [np.float32(-0.0), np.finfo(np.float32).tiny / 2, np.finfo(np.float32).max]
    client = chromadb.PersistentClient(path=str(root / "chroma"))
    collection = client.create_collection("docs", embedding_function=None, configuration=CONFIG)
    collection.add(ids=ids, embeddings=vectors)
    client.close()
    segment = _segment_folder(root / "chroma")
    assert all((segment / name).is_file() for name in FILES)
    fresh = shutil.copytree(segment, root / "fresh")

    client = chromadb.PersistentClient(path=str(root / "chroma"))
    client.get_collection("docs", embedding_function=None).delete(ids=ids[:DELETED])
    client.close()
    return Segments(fresh=fresh, deleted=segment, ids=ids, vectors=vectors)


@pytest.fixture
def fresh_copy(segments: Segments, tmp_path: Path) -> Path:
    """A copy of the fresh segment this test may damage."""
    return shutil.copytree(segments.fresh, tmp_path / "segment")


def _mapped_ids(segment: Path) -> set[str]:
    with (segment / "index_metadata.pickle").open("rb") as handle:
        return set(pickle.load(handle)["id_to_label"])


def _assert_exact(found: dict[str, np.ndarray], segments: Segments) -> None:
    row = {record_id: i for i, record_id in enumerate(segments.ids)}
    for record_id, vector in found.items():
        assert vector.dtype == np.float32
        assert vector.shape == (DIM,)
        expected = segments.vectors[row[record_id]]
        assert np.array_equal(vector.view(np.uint32), expected.view(np.uint32)), record_id


def test_every_mapped_record_gives_its_written_vector_bit_exact(segments: Segments) -> None:
    assert _mapped_ids(segments.fresh) == set(segments.ids)  # Chroma persisted them all
    found = hnsw_files.vectors(segments.fresh, DIM)
    assert set(found) == set(segments.ids)
    _assert_exact(found, segments)


def test_without_a_dimension_the_header_gives_it(segments: Segments) -> None:
    found = hnsw_files.vectors(segments.fresh, None)
    assert set(found) == set(segments.ids)
    _assert_exact(found, segments)


def test_deleted_records_are_not_returned(segments: Segments) -> None:
    found = hnsw_files.vectors(segments.deleted, DIM)
    assert set(found) == set(segments.ids[DELETED:])
    _assert_exact(found, segments)


def test_an_element_marked_deleted_is_skipped_even_when_the_pickle_still_maps_it(
    segments: Segments, tmp_path: Path
) -> None:
    # A writer killed between Chroma's writes of data_level0.bin and of the pickle: the pickle is
    # the older one and still names the deleted ids; their elements carry hnswlib's delete mark.
    segment = shutil.copytree(segments.deleted, tmp_path / "segment")
    shutil.copy(segments.fresh / "index_metadata.pickle", segment / "index_metadata.pickle")
    assert _mapped_ids(segment) == set(segments.ids)
    found = hnsw_files.vectors(segment, DIM)
    assert set(found) == set(segments.ids[DELETED:])
    _assert_exact(found, segments)


def test_only_records_the_pickle_maps_are_returned(segments: Segments, fresh_copy: Path) -> None:
    # An older pickle with fewer ids (the newer elements are in data_level0.bin, not yet in the pickle).
    with (segments.fresh / "index_metadata.pickle").open("rb") as handle:
        meta = pickle.load(handle)
    kept = dict(list(meta["id_to_label"].items())[:600])
    meta["id_to_label"] = kept
    meta["label_to_id"] = {label: record_id for record_id, label in kept.items()}
    (fresh_copy / "index_metadata.pickle").write_bytes(pickle.dumps(meta))
    found = hnsw_files.vectors(fresh_copy, DIM)
    assert set(found) == set(kept)
    _assert_exact(found, segments)


@pytest.mark.parametrize("dimension", [8, 32, 15])
def test_a_wrong_dimension_gives_nothing(segments: Segments, dimension: int, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=hnsw_files.__name__):
        assert hnsw_files.vectors(segments.fresh, dimension) == {}
    assert f"not the collection's {dimension}" in caplog.text


def test_a_truncated_data_file_gives_the_elements_it_still_holds(segments: Segments, fresh_copy: Path) -> None:
    data = fresh_copy / "data_level0.bin"
    size = data.stat().st_size
    per_element = size // N
    assert per_element * N == size
    with data.open("r+b") as handle:
        handle.truncate(per_element * 400 + per_element // 2)  # 400 whole elements and half of one
    found = hnsw_files.vectors(fresh_copy, DIM)
    assert len(found) == 400
    assert set(found) <= set(segments.ids)
    _assert_exact(found, segments)


def test_a_data_file_shorter_than_one_element_gives_nothing(fresh_copy: Path) -> None:
    (fresh_copy / "data_level0.bin").write_bytes(b"\x00" * 10)
    assert hnsw_files.vectors(fresh_copy, DIM) == {}


def test_non_finite_stored_values_are_not_returned(segments: Segments, fresh_copy: Path) -> None:
    # Write NaN over the stored floats of one record, found by their bytes.
    data = fresh_copy / "data_level0.bin"
    raw = bytearray(data.read_bytes())
    first = segments.vectors[5].tobytes()
    at = raw.find(first)
    assert at >= 0
    raw[at : at + len(first)] = np.full(DIM, np.nan, dtype=np.float32).tobytes()
    data.write_bytes(bytes(raw))
    found = hnsw_files.vectors(fresh_copy, DIM)
    assert set(found) == set(segments.ids) - {segments.ids[5]}
    _assert_exact(found, segments)


@pytest.mark.parametrize("name", FILES)
def test_a_missing_file_gives_nothing(fresh_copy: Path, name: str) -> None:
    (fresh_copy / name).unlink()
    assert hnsw_files.vectors(fresh_copy, DIM) == {}


def test_a_missing_folder_gives_nothing(tmp_path: Path) -> None:
    assert hnsw_files.vectors(tmp_path / "nowhere", DIM) == {}


@pytest.mark.parametrize(
    "header",
    [b"", b"\x00" * 20, b"\xff" * 100, b"\x00" * 100],
    ids=["empty", "short", "all-ff", "all-zero"],
)
def test_a_damaged_header_gives_nothing(fresh_copy: Path, header: bytes) -> None:
    (fresh_copy / "header.bin").write_bytes(header)
    assert hnsw_files.vectors(fresh_copy, DIM) == {}


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x80\x04\x95",  # cut short
        b"garbage that is not a pickle",
        pickle.dumps([1, 2, 3]),
        pickle.dumps({"id_to_label": [1, 2]}),
        pickle.dumps({"label_to_id": {1: "rec-1"}}),
    ],
    ids=["empty", "truncated", "garbage", "a-list", "mapping-a-list", "no-id-to-label"],
)
def test_an_unusable_pickle_gives_nothing(fresh_copy: Path, payload: bytes) -> None:
    (fresh_copy / "index_metadata.pickle").write_bytes(payload)
    assert hnsw_files.vectors(fresh_copy, DIM) == {}


def test_ids_and_labels_of_the_wrong_type_are_skipped(segments: Segments, fresh_copy: Path) -> None:
    with (segments.fresh / "index_metadata.pickle").open("rb") as handle:
        meta = pickle.load(handle)
    good = dict(list(meta["id_to_label"].items())[:3])
    meta["id_to_label"] = {**good, 12345: 4, "rec-bad-label": "4", ("rec", 1): 5, "rec-none": None}
    (fresh_copy / "index_metadata.pickle").write_bytes(pickle.dumps(meta))
    found = hnsw_files.vectors(fresh_copy, DIM)
    assert set(found) == set(good)
    _assert_exact(found, segments)


def _code_running_pickle(marker: Path) -> bytes:
    """A protocol-0 pickle whose loading calls ``builtins.open(marker, "w")``: it creates ``marker``."""
    return f"cbuiltins\nopen\n(V{marker}\nVw\ntR.".encode()


def test_the_crafted_pickle_does_run_code_with_a_plain_unpickler(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = _code_running_pickle(marker)
    assert any(op.name == "GLOBAL" for op, _, _ in pickletools.genops(payload))
    pickle.loads(payload).close()  # the control: with a plain unpickler, this payload runs
    assert marker.exists()


@pytest.mark.parametrize("kind", ["open-marker", "os-system", "stack-global-eval"])
def test_a_pickle_naming_a_global_runs_nothing_and_gives_nothing(
    fresh_copy: Path, tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "ran"
    if kind == "open-marker":
        payload = _code_running_pickle(marker)
    elif kind == "os-system":
        payload = pickle.dumps(os.system)
    else:

        class _Eval:
            def __reduce__(self) -> tuple[object, tuple[str]]:
                return (eval, (f"open({str(marker)!r}, 'w')",))

        payload = pickle.dumps(_Eval(), protocol=4)
        assert any(op.name == "STACK_GLOBAL" for op, _, _ in pickletools.genops(payload))
    (fresh_copy / "index_metadata.pickle").write_bytes(payload)
    with caplog.at_level(logging.WARNING, logger=hnsw_files.__name__):
        assert hnsw_files.vectors(fresh_copy, DIM) == {}
    assert not marker.exists()
    assert "only plain data is read" in caplog.text


def test_a_pickle_with_a_persistent_id_or_extension_code_gives_nothing(fresh_copy: Path) -> None:
    for payload in (b"Pid\n.", b"\x80\x02\x82\x01."):
        (fresh_copy / "index_metadata.pickle").write_bytes(payload)
        assert hnsw_files.vectors(fresh_copy, DIM) == {}


@pytest.mark.parametrize(
    "payload",
    [b"}]]s.", b"\x80\x04\x95" + b"\xff" * 8],
    ids=["unhashable-dict-key", "huge-frame-length"],
)
def test_any_damaged_pickle_gives_nothing(fresh_copy: Path, payload: bytes) -> None:
    (fresh_copy / "index_metadata.pickle").write_bytes(payload)
    assert hnsw_files.vectors(fresh_copy, DIM) == {}


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_a_pickle_cut_short_by_a_kill_still_maps_the_ids_it_holds(
    fresh_copy: Path, segments: Segments, fraction: float
) -> None:
    """A kill while Chroma rewrites the pickle leaves it truncated ("EOF while parsing"): the ids it
    holds up to the cut still give their vectors, bit-exact.
    """
    pickled = fresh_copy / "index_metadata.pickle"
    raw = pickled.read_bytes()
    pickled.write_bytes(raw[: int(len(raw) * fraction)])
    found = hnsw_files.vectors(fresh_copy, DIM)
    assert 0 < len(found) <= len(segments.ids)
    if fraction >= 0.6:  # id_to_label comes first; the cut fell in label_to_id
        assert set(found) == set(segments.ids)
    _assert_exact(found, segments)

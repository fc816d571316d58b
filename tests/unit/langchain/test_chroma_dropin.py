"""MiraVectorStore as a drop-in for langchain-chroma's ``Chroma``: constructor names, ``get``,
``update_document(s)``, distances, collection lifecycle, images and zero vectors.

Where langchain-chroma behaves the same, a test runs over both classes (each with a fresh
collection name) to show code written for ``Chroma`` runs unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from mira_vectorstores.engine import (
    ConfigError,
    HybridStore,
    InvalidInputError,
    RecordNotFoundError,
    StorageError,
)
from mira_vectorstores.langchain import MiraVectorStore

DIM = 16
TEXTS = [
    "cats purr on warm windowsills",
    "dogs bark at the mail carrier",
    "birds sing at dawn in spring",
    "fish swim through the coral reef",
    "snakes bask in the afternoon sun",
]
IDS = ["cats", "dogs", "birds", "fish", "snakes"]
METAS: list[dict[str, Any]] = [
    {"animal": "cat", "legs": 4},
    {"animal": "dog", "legs": 4},
    {"animal": "bird", "legs": 2},
    {"animal": "fish", "legs": 0},
    {"animal": "snake", "legs": 0},
]
BOTH = pytest.mark.parametrize("cls", [Chroma, MiraVectorStore], ids=["langchain-chroma", "mira"])


class UnitEmbeddings(DeterministicFakeEmbedding):
    """DeterministicFakeEmbedding scaled to unit length (Chroma keeps vectors as written, we
    normalise: with unit vectors both hold the same numbers)."""

    def _get_embedding(self, seed: int) -> list[float]:
        vector = np.asarray(super()._get_embedding(seed))
        return (vector / np.linalg.norm(vector)).tolist()


class ImageEmbeddings(UnitEmbeddings):
    """Has ``embed_image``, as OpenCLIPEmbeddings: a vector from each file's bytes (reads the file)."""

    def embed_image(self, uris: list[str]) -> list[list[float]]:
        return [self.embed_query(hashlib.sha256(Path(uri).read_bytes()).hexdigest()) for uri in uris]


class PathImageEmbeddings(UnitEmbeddings):
    """Has ``embed_image`` but never opens the file (a vector from the path)."""

    def embed_image(self, uris: list[str]) -> list[list[float]]:
        return [self.embed_query(str(uri)) for uri in uris]


class ZeroEmbeddings(DeterministicFakeEmbedding):
    """Returns the all-zero vector for the text ``"zero"``."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return [0.0] * self.size if text == "zero" else super().embed_query(text)


def unique() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def collection_name(store: Chroma | MiraVectorStore) -> str:
    return store.engine.name if isinstance(store, MiraVectorStore) else store._collection.name


@pytest.fixture
def make() -> Iterator[Callable[..., Any]]:
    """Open a ``Chroma`` or ``MiraVectorStore`` with these arguments; ours are closed afterwards."""
    opened: list[MiraVectorStore] = []

    def _make(cls: type, *args: Any, **kwargs: Any) -> Any:
        store = cls(*args, **kwargs)
        if isinstance(store, MiraVectorStore):
            opened.append(store)
        return store

    yield _make
    for store in opened:
        store.close()


@pytest.fixture
def unit() -> UnitEmbeddings:
    return UnitEmbeddings(size=DIM)


@pytest.fixture
def client() -> chromadb.api.ClientAPI:
    return chromadb.EphemeralClient()


def fill(store: Chroma | MiraVectorStore) -> None:
    store.add_texts(TEXTS, [dict(m) for m in METAS], ids=IDS)


# -- 1. constructor names ------------------------------------------------------------------------
@BOTH
def test_persist_directory_defaults_to_the_langchain_collection(cls, make, unit, tmp_path):
    store = make(cls, embedding_function=unit, persist_directory=str(tmp_path / "db"))
    fill(store)
    assert collection_name(store) == "langchain"
    assert sorted(store.get()["ids"]) == sorted(IDS)


def test_persist_directory_is_shared_with_langchain_chroma(unit, tmp_path):
    folder = str(tmp_path / "db")
    ours = MiraVectorStore(embedding_function=unit, persist_directory=folder)
    try:
        fill(ours)
    finally:
        ours.close()
    theirs = Chroma(embedding_function=unit, persist_directory=folder)
    assert sorted(theirs.get()["ids"]) == sorted(IDS)
    assert theirs.similarity_search(TEXTS[2], k=1)[0].id == "birds"


@BOTH
def test_positional_name_then_embeddings(cls, make, unit):
    name = unique()
    store = make(cls, name, unit)
    fill(store)
    assert collection_name(store) == name
    assert store.similarity_search(TEXTS[0], k=1)[0].id == "cats"


def test_persistent_client_is_used_and_left_open(unit, tmp_path):
    client = chromadb.PersistentClient(path=str(tmp_path / "db"))
    name = unique()
    store = MiraVectorStore(collection_name=name, embedding_function=unit, client=client)
    try:
        fill(store)
        assert sorted(client.get_collection(name).get()["ids"]) == sorted(IDS)  # written through that client
    finally:
        store.close()
    assert client.heartbeat() > 0  # not closed
    assert client.get_collection(name).count() == len(IDS)


def test_closing_leaves_an_ephemeral_client_collection_in_place(unit, client):
    name = unique()
    store = MiraVectorStore(collection_name=name, embedding_function=unit, client=client)
    try:
        fill(store)
    finally:
        store.close()
    assert client.get_collection(name).count() == len(IDS)
    again = MiraVectorStore(collection_name=name, embedding_function=unit, client=client)
    try:
        assert sorted(again.get()["ids"]) == sorted(IDS)
    finally:
        again.close()


def test_collection_metadata_chooses_the_space(make, unit):
    cosine = make(
        MiraVectorStore,
        collection_name=unique(),
        embedding_function=unit,
        collection_metadata={"hnsw:space": "cosine"},
    )
    assert cosine.engine.space == "cosine"
    default = make(MiraVectorStore, collection_name=unique(), embedding_function=unit)
    assert default.engine.space == "ip"


@pytest.mark.parametrize("with_client", [False, True], ids=["memory", "client"])
def test_create_collection_if_not_exists_false_on_a_missing_collection(unit, client, with_client):
    name = unique()
    extra = {"client": client} if with_client else {}
    with pytest.raises(StorageError, match="does not exist"):
        MiraVectorStore(collection_name=name, embedding_function=unit, create_collection_if_not_exists=False, **extra)
    if with_client:
        assert name not in [c.name for c in client.list_collections()]


def test_create_collection_if_not_exists_false_opens_an_existing_collection(make, unit, client):
    name = unique()
    fill(make(Chroma, collection_name=name, embedding_function=unit, client=client))
    store = make(
        MiraVectorStore,
        collection_name=name,
        embedding_function=unit,
        client=client,
        create_collection_if_not_exists=False,
    )
    assert sorted(store.get()["ids"]) == sorted(IDS)


def test_name_and_collection_name_together_is_a_config_error(unit):
    with pytest.raises(ConfigError, match="collection_name"):
        MiraVectorStore(unit, name="abc", collection_name="abc")


# -- 2. get() in Chroma's shape ------------------------------------------------------------------
@BOTH
def test_get_default_shape(cls, make, unit):
    store = make(cls, collection_name=unique(), embedding_function=unit)
    fill(store)
    store.add_texts(["no metadata here"], ids=["bare"])
    got = store.get()
    assert set(got) == {"ids", "documents", "metadatas", "embeddings", "uris", "data", "included"}
    assert got["ids"] == [*IDS, "bare"]
    assert got["documents"] == [*TEXTS, "no metadata here"]
    assert got["metadatas"] == [*METAS, None]
    assert got["embeddings"] is None
    assert got["uris"] is None
    assert got["data"] is None
    assert got["included"] == ["metadatas", "documents"]


@BOTH
def test_get_embeddings_only(cls, make, unit):
    store = make(cls, collection_name=unique(), embedding_function=unit)
    fill(store)
    got = store.get(include=["embeddings"])
    assert got["documents"] is None
    assert got["metadatas"] is None
    assert got["included"] == ["embeddings"]
    assert isinstance(got["embeddings"], np.ndarray)
    assert got["embeddings"].shape == (len(IDS), DIM)
    np.testing.assert_allclose(np.linalg.norm(got["embeddings"], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got["embeddings"][1], unit.embed_query(TEXTS[1]), atol=1e-5)


def test_get_embeddings_are_unit_vectors_whatever_was_written(make):
    raw = DeterministicFakeEmbedding(size=DIM)  # not unit length
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=raw)
    fill(store)
    vectors = store.get(include=["embeddings", "documents"])["embeddings"]
    assert vectors.shape == (len(IDS), DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = np.asarray(raw.embed_query(TEXTS[0]))
    np.testing.assert_allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-5)


@BOTH
def test_get_one_id_as_a_str(cls, make, unit):
    store = make(cls, collection_name=unique(), embedding_function=unit)
    fill(store)
    got = store.get(ids="dogs")
    assert got["ids"] == ["dogs"]
    assert got["documents"] == [TEXTS[1]]
    assert got["metadatas"] == [METAS[1]]


@BOTH
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"where": {"legs": 4}}, ["cats", "dogs"]),
        ({"where": {"legs": {"$lt": 4}}}, ["birds", "fish", "snakes"]),
        ({"where_document": {"$contains": "sun"}}, ["snakes"]),
        ({"where": {"legs": 0}, "where_document": {"$contains": "reef"}}, ["fish"]),
        ({"limit": 2}, ["cats", "dogs"]),
        ({"limit": 2, "offset": 2}, ["birds", "fish"]),
        ({"offset": 3}, ["fish", "snakes"]),
        ({"ids": ["snakes", "cats"], "where": {"legs": 4}}, ["cats"]),
    ],
)
def test_get_filters_and_pages(cls, make, unit, kwargs, expected):
    store = make(cls, collection_name=unique(), embedding_function=unit)
    fill(store)
    got = store.get(**kwargs)
    assert got["ids"] == expected
    assert got["documents"] == [TEXTS[IDS.index(i)] for i in expected]


@pytest.mark.parametrize("include", [["bogus"], ["documents", "distances"], ["metadata"]])
def test_get_unknown_include_is_refused(make, unit, include):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=unit)
    fill(store)
    with pytest.raises(InvalidInputError, match="include"):
        store.get(include=include)


def test_get_metadata_never_shows_reserved_keys(make, unit, client):
    name = unique()
    store = make(MiraVectorStore, collection_name=name, embedding_function=unit, client=client)
    fill(store)
    raw = client.get_collection(name).get(ids=["cats"])["metadatas"][0]
    assert any(key.startswith("_mira_") for key in raw)  # Chroma holds them...
    for metadata in store.get(include=["metadatas", "embeddings"])["metadatas"]:
        assert not any(key.startswith("_mira_") for key in metadata)  # ...get() does not show them
    assert store.get(ids=["cats"])["metadatas"] == [METAS[0]]


# -- 3. update_document(s) -----------------------------------------------------------------------
NEW_TEXT = "parrots repeat every word they hear"


@BOTH
def test_update_document_replaces_text_and_merges_metadata(cls, make, unit):
    store = make(cls, collection_name=unique(), embedding_function=unit)
    fill(store)
    store.update_document("dogs", Document(page_content=NEW_TEXT, metadata={"legs": 2, "talks": True}))
    got = store.get(ids=["dogs"])
    assert got["documents"] == [NEW_TEXT]
    assert got["metadatas"] == [{"animal": "dog", "legs": 2, "talks": True}]  # old key kept, new set
    assert store.similarity_search(NEW_TEXT, k=1)[0].id == "dogs"  # re-embedded
    assert store.similarity_search_with_score(NEW_TEXT, k=1)[0][1] == pytest.approx(0.0, abs=1e-5)


def test_update_documents_metadata_matches_langchain_chroma(make, unit):
    updates = [
        Document(page_content="cats nap all afternoon", metadata={"legs": 3}),
        Document(page_content=TEXTS[3], metadata={"fins": 5, "animal": "trout"}),
    ]
    results = []
    for cls in (Chroma, MiraVectorStore):
        store = make(cls, collection_name=unique(), embedding_function=unit)
        fill(store)
        store.update_documents(["cats", "fish"], updates)
        results.append(store.get(ids=["cats", "fish", "dogs"]))
    # Chroma returns records in storage order, ours in the order asked: compare by id.
    theirs, ours = (
        {i: (d, m) for i, d, m in zip(r["ids"], r["documents"], r["metadatas"], strict=True)} for r in results
    )
    assert ours == theirs
    assert ours["cats"] == ("cats nap all afternoon", {"animal": "cat", "legs": 3})
    assert ours["fish"] == (TEXTS[3], {"animal": "trout", "legs": 0, "fins": 5})


def test_update_documents_reembeds_each_text(make, unit):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=unit)
    fill(store)
    before = store.get(ids=["birds"], include=["embeddings"])["embeddings"][0]
    store.update_documents(["birds", "fish"], [Document(page_content=NEW_TEXT), Document(page_content="sharks hunt")])
    vectors = store.get(ids=["birds", "fish"], include=["embeddings"])["embeddings"]
    assert not np.allclose(vectors[0], before)
    np.testing.assert_allclose(vectors[0], unit.embed_query(NEW_TEXT), atol=1e-5)
    np.testing.assert_allclose(vectors[1], unit.embed_query("sharks hunt"), atol=1e-5)
    assert [d.id for d in store.similarity_search("sharks hunt", k=1)] == ["fish"]


def test_update_of_an_unknown_id_raises_and_writes_nothing(make, unit):
    # Deliberately unlike Chroma (which skips an unknown id with a warning).
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=unit)
    fill(store)
    before = store.get(include=["documents", "metadatas", "embeddings"])
    with pytest.raises(RecordNotFoundError):
        store.update_document("nope", Document(page_content="x", metadata={"a": 1}))
    with pytest.raises(RecordNotFoundError):
        store.update_documents(
            ["cats", "nope"],
            [Document(page_content=NEW_TEXT, metadata={"legs": 9}), Document(page_content="x")],
        )
    after = store.get(include=["documents", "metadatas", "embeddings"])
    assert after["ids"] == before["ids"] == IDS
    assert after["documents"] == before["documents"]
    assert after["metadatas"] == before["metadatas"]
    np.testing.assert_array_equal(after["embeddings"], before["embeddings"])
    assert store.similarity_search_with_score(TEXTS[0], k=1)[0] == (store.get_by_ids(["cats"])[0], 0.0)


# -- 4. scores -----------------------------------------------------------------------------------
def test_similarity_search_with_score_is_an_ascending_distance(make):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=DeterministicFakeEmbedding(size=DIM))
    fill(store)
    pairs = store.similarity_search_with_score(TEXTS[2], k=5)
    distances = [score for _, score in pairs]
    assert pairs[0][0].id == "birds"
    assert distances[0] == 0.0  # exactly
    assert distances == sorted(distances)
    assert all(0.0 <= d <= 2.0 for d in distances)
    assert len(set(distances)) == 5


def test_distances_equal_langchain_chromas_in_a_cosine_collection(make, unit):
    queries = [TEXTS[0], TEXTS[3], "a query that is not stored"]
    results = {}
    for cls in (Chroma, MiraVectorStore):
        store = make(
            cls, collection_name=unique(), embedding_function=unit, collection_metadata={"hnsw:space": "cosine"}
        )
        fill(store)
        results[cls] = [[(doc.id, score) for doc, score in store.similarity_search_with_score(q, k=5)] for q in queries]
        vector = unit.embed_query(queries[2])
        results[cls].append(
            [(d.id, s) for d, s in store.similarity_search_by_vector_with_relevance_scores(vector, k=5)]
        )
    for theirs, ours in zip(results[Chroma], results[MiraVectorStore], strict=True):
        assert [i for i, _ in ours] == [i for i, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)


def test_by_vector_with_relevance_scores_returns_the_same_distances(make, unit):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=unit)
    fill(store)
    query = "warm cats and loud dogs"
    by_text = store.similarity_search_with_score(query, k=5)
    by_vector = store.similarity_search_by_vector_with_relevance_scores(unit.embed_query(query), k=5)
    assert [d.id for d, _ in by_vector] == [d.id for d, _ in by_text]
    assert [s for _, s in by_vector] == pytest.approx([s for _, s in by_text], abs=1e-6)
    assert [s for _, s in by_vector] == sorted(s for _, s in by_vector)  # distances, lower is better
    exact = store.similarity_search_by_vector_with_relevance_scores(unit.embed_query(TEXTS[4]), k=1)
    assert exact[0][0].id == "snakes"
    assert exact[0][1] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.filterwarnings("ignore:Relevance scores must be between 0 and 1")  # 1 - d < 0 for d > 1
def test_relevance_score_fn_changes_relevance_scores(make, unit):
    query = "a query that is not stored"
    default = make(MiraVectorStore, collection_name=unique(), embedding_function=unit)
    custom = make(
        MiraVectorStore, collection_name=unique(), embedding_function=unit, relevance_score_fn=lambda d: 1 - d
    )
    fill(default)
    fill(custom)
    distances = dict((d.id, s) for d, s in custom.similarity_search_with_score(query, k=5))
    with_fn = custom.similarity_search_with_relevance_scores(query, k=5)
    assert {d.id: s for d, s in with_fn} == pytest.approx({i: 1 - d for i, d in distances.items()})
    without = default.similarity_search_with_relevance_scores(query, k=5)
    assert {d.id: s for d, s in without} == pytest.approx({i: 1 - d / 2 for i, d in distances.items()})
    assert [s for _, s in with_fn] != pytest.approx([s for _, s in without])


def test_hybrid_scores_are_higher_is_better(make, unit):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=unit)
    fill(store)
    hybrid = store.hybrid_search_with_score(TEXTS[1], k=5)
    via_mode = store.similarity_search_with_score(TEXTS[1], k=5, mode="hybrid")
    for pairs in (hybrid, via_mode):
        scores = [s for _, s in pairs]
        assert pairs[0][0].id == "dogs"
        assert scores == sorted(scores, reverse=True)
        assert scores[0] > scores[-1]
        assert scores[0] > 0
    assert [(d.id, s) for d, s in via_mode] == [(d.id, s) for d, s in hybrid]
    dense = store.similarity_search_with_score(TEXTS[1], k=5)
    assert dense[0][1] == 0.0  # the dense distance, not the hybrid score


def test_similarity_search_with_vectors_returns_unit_numpy_vectors(make):
    raw = DeterministicFakeEmbedding(size=DIM)
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=raw)
    fill(store)
    pairs = store.similarity_search_with_vectors(TEXTS[3], k=3)
    assert len(pairs) == 3
    assert pairs[0][0].id == "fish"
    assert pairs[0][0].page_content == TEXTS[3]
    for doc, vector in pairs:
        assert isinstance(doc, Document)
        assert isinstance(vector, np.ndarray)
        assert vector.shape == (DIM,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    expected = np.asarray(raw.embed_query(TEXTS[3]))
    np.testing.assert_allclose(pairs[0][1], expected / np.linalg.norm(expected), atol=1e-5)


# -- 5. collection lifecycle ---------------------------------------------------------------------
@BOTH
def test_delete_collection_removes_it(cls, make, unit, tmp_path):
    folder = str(tmp_path / "db")
    name = unique()
    store = make(cls, collection_name=name, embedding_function=unit, persist_directory=folder)
    fill(store)
    store.delete_collection()
    with pytest.raises(ValueError):  # noqa: PT011 - Chroma raises a bare ValueError; ours an InvalidInputError
        store.get()
    with pytest.raises(ValueError):  # noqa: PT011
        store.similarity_search(TEXTS[0], k=1)
    with pytest.raises(ValueError):  # noqa: PT011
        store.add_texts(["late write"], ids=["late"])
    fresh = make(cls, collection_name=name, embedding_function=unit, persist_directory=folder)
    assert fresh.get()["ids"] == []
    assert fresh.similarity_search(TEXTS[0], k=1) == []


def test_delete_collection_old_store_raises_invalid_input(make, unit, client):
    name = unique()
    store = make(MiraVectorStore, collection_name=name, embedding_function=unit, client=client)
    fill(store)
    store.delete_collection()
    assert name not in [c.name for c in client.list_collections()]
    with pytest.raises(InvalidInputError, match="closed"):
        store.get()
    with pytest.raises(InvalidInputError, match="closed"):
        store.update_document("cats", Document(page_content="x"))


@BOTH
@pytest.mark.parametrize("persistent", [False, True], ids=["memory", "folder"])
def test_reset_collection_leaves_an_empty_usable_store(cls, make, unit, tmp_path, persistent):
    name = unique()
    extra = {"persist_directory": str(tmp_path / "db")} if persistent else {}
    store = make(cls, collection_name=name, embedding_function=unit, **extra)
    fill(store)
    store.reset_collection()
    assert collection_name(store) == name
    assert store.get()["ids"] == []
    assert store.similarity_search(TEXTS[0], k=1) == []
    store.add_texts(["a brand new record"], [{"fresh": True}], ids=["new"])
    found = store.similarity_search("a brand new record", k=2)
    assert [d.id for d in found] == ["new"]
    assert found[0].metadata == {"fresh": True}


def test_reset_collection_after_delete_collection(make, unit):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=unit)
    fill(store)
    store.delete_collection()
    store.reset_collection()
    assert store.get()["ids"] == []
    fill(store)
    assert store.similarity_search(TEXTS[4], k=1)[0].id == "snakes"


def test_from_engine_store_cannot_reset_its_collection():
    engine = HybridStore.in_memory(embedder=None)
    try:
        store = MiraVectorStore.from_engine(engine)
        with pytest.raises(ConfigError, match="from_engine"):
            store.reset_collection()
        assert not engine.closed
    finally:
        engine.close()


# -- 6. images -----------------------------------------------------------------------------------
@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    paths = []
    for i in range(4):
        path = tmp_path / f"image-{i}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(i).integers(0, 256, 96, dtype=np.uint8).tobytes())
        paths.append(str(path))
    return paths


def b64(path: str) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def test_add_images_stores_base64_and_searches_by_image(make, images):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=ImageEmbeddings(size=DIM))
    ids = store.add_images(images, [{"n": i} for i in range(len(images))], ids=[f"img{i}" for i in range(len(images))])
    assert ids == [f"img{i}" for i in range(len(images))]
    got = store.get()
    assert got["documents"] == [b64(p) for p in images]
    assert got["metadatas"] == [{"n": i} for i in range(len(images))]
    found = store.similarity_search_by_image(images[2], k=2)
    assert found[0].id == "img2"
    assert found[0].page_content == b64(images[2])
    scored = store.similarity_search_by_image_with_relevance_score(images[1], k=4)
    assert scored[0][0].id == "img1"
    assert scored[0][1] == 0.0
    assert [s for _, s in scored] == sorted(s for _, s in scored)
    assert scored[1][1] > 0.0


def test_images_need_embed_image(make, images):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=UnitEmbeddings(size=DIM))
    with pytest.raises(ConfigError, match="embed_image"):
        store.add_images(images[:1])
    assert store.get()["ids"] == []
    store.add_texts(TEXTS, ids=IDS)
    with pytest.raises(ConfigError, match="embed_image"):
        store.similarity_search_by_image(images[0])
    with pytest.raises(ConfigError, match="embed_image"):
        store.similarity_search_by_image_with_relevance_score(images[0])


@pytest.mark.parametrize("embeddings_cls", [ImageEmbeddings, PathImageEmbeddings], ids=["reads-file", "path-only"])
def test_add_images_with_a_missing_file_writes_nothing(make, images, tmp_path, embeddings_cls):
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=embeddings_cls(size=DIM))
    missing = str(tmp_path / "missing.png")
    with pytest.raises(InvalidInputError, match=r"missing\.png"):
        store.add_images([images[0], missing], ids=["ok", "gone"])
    assert store.get()["ids"] == []
    assert store.engine.count() == 0


def test_images_written_by_langchain_chroma_are_read_by_ours(make, images, client):
    embeddings = ImageEmbeddings(size=DIM)
    name = unique()
    theirs = make(Chroma, collection_name=name, embedding_function=embeddings, client=client)
    ids = theirs.add_images(images, [{"n": i} for i in range(len(images))], ids=[f"img{i}" for i in range(len(images))])
    written = theirs.get(ids=ids)
    ours = make(MiraVectorStore, collection_name=name, embedding_function=embeddings, client=client)
    read = ours.get(ids=ids)
    assert read["documents"] == written["documents"] == [b64(p) for p in images]
    assert read["metadatas"] == written["metadatas"]
    assert ours.similarity_search_by_image(images[3], k=1)[0].id == "img3"
    assert ours.similarity_search_by_image_with_relevance_score(images[3], k=1)[0][1] == pytest.approx(0.0, abs=1e-6)


def test_images_written_by_ours_are_read_by_langchain_chroma(make, images, client):
    embeddings = ImageEmbeddings(size=DIM)
    name = unique()
    ours = make(MiraVectorStore, collection_name=name, embedding_function=embeddings, client=client)
    ids = ours.add_images(images[:2])
    theirs = make(Chroma, collection_name=name, embedding_function=embeddings, client=client)
    assert theirs.get(ids=ids)["documents"] == [b64(p) for p in images[:2]]
    assert theirs.similarity_search_by_image(images[1], k=1)[0].id == ids[1]


# -- 7. zero vectors -----------------------------------------------------------------------------
@pytest.mark.parametrize("metadata", [None, {"hnsw:space": "cosine"}], ids=["ip", "cosine"])
def test_a_zero_vector_is_stored_with_cosine_zero_and_distance_one(make, metadata):
    embeddings = ZeroEmbeddings(size=DIM)
    store = make(MiraVectorStore, collection_name=unique(), embedding_function=embeddings, collection_metadata=metadata)
    assert store.engine.space == ("ip" if metadata is None else "cosine")
    store.add_texts(["zero", *TEXTS[:2]], [{"z": True}, {}, {}], ids=["z", "cats", "dogs"])
    got = store.get(ids="z", include=["embeddings", "documents"])
    assert got["documents"] == ["zero"]
    np.testing.assert_array_equal(got["embeddings"][0], np.zeros(DIM))
    hits = {hit.id: hit for hit in store.engine.search(TEXTS[0], k=3, mode="dense")}
    assert hits["z"].scores.dense == 0.0
    pairs = dict((d.id, s) for d, s in store.similarity_search_with_score(TEXTS[0], k=3))
    assert pairs["cats"] == 0.0
    assert pairs["z"] == pytest.approx(1.0, abs=1e-6)
    relevance = dict((d.id, s) for d, s in store.similarity_search_with_relevance_scores(TEXTS[0], k=3))
    assert relevance["z"] == pytest.approx(0.5)

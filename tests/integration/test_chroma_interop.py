"""Drop-in: a Chroma collection langchain-chroma or LlamaIndex's ChromaVectorStore wrote opens with
our store in place, gains hybrid search, and stays readable by the original library afterwards.

Each test writes a collection with the original library (langchain-chroma 1.1, or
llama-index-vector-stores-chroma 0.6 through ``VectorStoreIndex``), opens it with our adapter,
searches it, writes through our adapter, then reads the collection again with the original
library. Everything is offline: the embeddings are small deterministic ones (bag-of-words
hashing, a fixed table, LangChain's ``DeterministicFakeEmbedding``), the Chroma clients embedded
(``PersistentClient`` in ``tmp_path``, one ``EphemeralClient`` case).

chromadb shares one engine per folder among the clients of a process; the tests close the
original library's client before ours opens the folder, and ours before the original reopens it,
as two programs taking turns on the folder would (except where a test shares one client on
purpose).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chromadb
import pytest
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from llama_index.core import Document as LlamaDocument
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.vector_stores.chroma import ChromaVectorStore
from llama_splitter import LineSplitter

from mira_vectorstores import EmbeddingMismatchError, HashingEmbedder
from mira_vectorstores.langchain import MiraVectorStore as LangChainStore
from mira_vectorstores.llama_index import MiraVectorStore as LlamaStore

pytestmark = pytest.mark.integration

DIM = 32
#: Our store adds its own metadata keys to every record it writes (write stamp and revision);
#: they all start with this prefix and sit beside the user's keys, which stay as given.
RESERVED_PREFIX = "_mira_"
NAME = "interop"

# ---------------------------------------------------------------------------------------------
# Embeddings: no model, no download.


class BagOfWords(Embeddings):
    """LangChain embeddings whose unit vectors are alike for texts sharing words (hashing)."""

    def __init__(self, size: int = DIM) -> None:
        self._inner = HashingEmbedder(size)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text).tolist()


class TableEmbeddings(Embeddings):
    """A fixed vector per known text (so a test can state exact cosines); other texts (such as
    our adapter's dimension probe) map to the last axis.
    """

    def __init__(self, table: Mapping[str, Sequence[float]]) -> None:
        self.table = {text: list(vector) for text, vector in table.items()}
        size = len(next(iter(self.table.values())))
        self.other = [0.0] * (size - 1) + [1.0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table.get(text, self.other)


class LlamaBagOfWords(BaseEmbedding):
    """The same hashing as ``BagOfWords``, as a LlamaIndex embedding model."""

    @classmethod
    def class_name(cls) -> str:
        return "LlamaBagOfWords"

    def _vector(self, text: str) -> list[float]:
        return HashingEmbedder(DIM).embed_query(text).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


def bag_of_words(text: str) -> list[float]:
    return HashingEmbedder(DIM).embed_query(text).tolist()


# ---------------------------------------------------------------------------------------------
# Data and helpers.

CORPUS: list[tuple[str, str, dict[str, Any]]] = [
    ("lc-01", "Cats purr and sleep on warm windowsills", {"topic": "animals", "year": 2019, "legs": 4}),
    ("lc-02", "Dogs bark at the mail carrier every morning", {"topic": "animals", "year": 2020, "legs": 4}),
    ("lc-03", "Birds sing at dawn and build nests in spring", {"topic": "animals", "year": 2021, "legs": 2}),
    ("lc-04", "Fish swim in schools through the coral reef", {"topic": "animals", "year": 2022, "legs": 0}),
    ("lc-05", "The quokka smiles at tourists on Rottnest Island", {"topic": "animals", "year": 2023, "legs": 4}),
    ("lc-06", "Rockets carry satellites into low orbit", {"topic": "space", "year": 2019}),
    ("lc-07", "Astronauts train underwater for long spacewalks", {"topic": "space", "year": 2020}),
    ("lc-08", "Telescopes reveal distant galaxies and nebulae", {"topic": "space", "year": 2021}),
    ("lc-09", "The moon pulls the tides of the ocean", {"topic": "space", "year": 2022}),
    ("lc-10", "Mars rovers drill into red rocks", {"topic": "space", "year": 2023}),
    ("lc-11", "Bread dough rises slowly overnight in the fridge", {"topic": "cooking", "year": 2019}),
    ("lc-12", "Fresh basil lifts the tomato sauce", {"topic": "cooking", "year": 2020}),
    ("lc-13", "Simmer the soup with onions and garlic", {"topic": "cooking", "year": 2021}),
    ("lc-14", "Whisk eggs and sugar until pale", {"topic": "cooking", "year": 2022}),
    ("lc-15", "Grill the vegetables over charcoal", {"topic": "cooking", "year": 2023}),
    ("lc-16", "The striker scored twice in the final", {"topic": "sports", "year": 2019}),
    ("lc-17", "Marathon runners drink water at every mile", {"topic": "sports", "year": 2020}),
    ("lc-18", "The goalkeeper saved a late penalty", {"topic": "sports", "year": 2021}),
    ("lc-19", "Cyclists climb the mountain pass in July", {"topic": "sports", "year": 2022}),
    ("lc-20", "Tennis players serve faster on grass courts", {"topic": "sports", "year": 2023}),
]
TEXT = {i: t for i, t, _ in CORPUS}
META = {i: m for i, _, m in CORPUS}
ALL = len(CORPUS) + 10  # a k that covers every match


def ids(documents: Sequence[Document]) -> list[str | None]:
    return [d.id for d in documents]


@contextmanager
def langchain_chroma(path: Path, embeddings: Embeddings, name: str = NAME, **kwargs: Any) -> Iterator[Chroma]:
    """langchain-chroma on the folder, its client closed afterwards."""
    client = chromadb.PersistentClient(path=str(path))
    try:
        yield Chroma(collection_name=name, embedding_function=embeddings, client=client, **kwargs)
    finally:
        client.close()


@contextmanager
def plain_collection(path: Path, name: str = NAME) -> Iterator[Any]:
    """The collection as a plain chromadb client sees it, the client closed afterwards."""
    client = chromadb.PersistentClient(path=str(path))
    try:
        yield client.get_collection(name)
    finally:
        client.close()


def write_corpus(path: Path, embeddings: Embeddings, **kwargs: Any) -> None:
    with langchain_chroma(path, embeddings, **kwargs) as lc:
        lc.add_texts([t for _, t, _ in CORPUS], [dict(m) for _, _, m in CORPUS], ids=[i for i, _, _ in CORPUS])


def assert_user_metadata_kept(stored: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """The user's keys are there with their values; any other key is one of our reserved keys."""
    assert dict(given).items() <= dict(stored).items()
    assert all(key.startswith(RESERVED_PREFIX) for key in set(stored) - set(given))


@pytest.fixture
def lc_folder(tmp_path: Path) -> Path:
    """A folder holding a langchain-chroma collection (default l2 space) of ``CORPUS``."""
    path = tmp_path / "chroma"
    write_corpus(path, BagOfWords())
    return path


# ---------------------------------------------------------------------------------------------
# 1. langchain-chroma, default l2 space.


def test_langchain_chroma_l2_collection_gains_hybrid_search_and_chroma_exact_filters(lc_folder: Path) -> None:
    emb = BagOfWords()
    filters: list[dict[str, Any]] = [
        {"topic": "space"},
        {"$and": [{"year": {"$gte": 2021}}, {"topic": {"$in": ["animals", "sports"]}}]},
        {"legs": {"$ne": 4}},  # as in Chroma, $ne also matches records without the field
    ]
    documents: list[dict[str, Any]] = [{"$contains": "the"}, {"$not_contains": "the"}]
    with langchain_chroma(lc_folder, emb) as lc:
        theirs_by_filter = [{d.id for d in lc.similarity_search("anything", k=ALL, filter=f)} for f in filters]
        theirs_by_document = [{d.id for d in lc.similarity_search("x", k=ALL, where_document=w)} for w in documents]
        theirs_combined = {
            d.id
            for d in lc.similarity_search("x", k=ALL, filter={"topic": "cooking"}, where_document={"$contains": "the"})
        }
        theirs_scored = lc.similarity_search_with_score(TEXT["lc-07"], k=3)

    ours = LangChainStore(collection_name=NAME, embedding_function=emb, persist_directory=str(lc_folder))
    try:
        assert ours.engine.space == "l2"
        assert ours.engine.count() == len(CORPUS)

        found = ours.similarity_search("dogs bark at the mail carrier", k=1)
        assert ids(found) == ["lc-02"]
        assert found[0].metadata == META["lc-02"]
        assert found[0].page_content == TEXT["lc-02"]

        # A stored text's own query: its embedding equals the stored one, so the distance is 0.0;
        # in l2 the others are 2 - 2*cosine of unit vectors, which is what Chroma itself reports
        # for unit vectors (the bag-of-words vectors are unit length).
        scored = ours.similarity_search_with_score(TEXT["lc-07"], k=3)
        assert scored[0][0].id == "lc-07"
        assert scored[0][1] == 0.0
        assert [d.id for d, _ in scored] == [d.id for d, _ in theirs_scored]
        assert [s for _, s in scored] == pytest.approx([s for _, s in theirs_scored], abs=1e-5)
        query = emb.embed_query(TEXT["lc-07"])
        for document, distance in scored:
            cosine = sum(a * b for a, b in zip(query, emb.embed_query(document.page_content), strict=True))
            assert distance == pytest.approx(2.0 - 2.0 * cosine, abs=1e-6)

        # Hybrid search and BM25 over a collection that had neither.
        assert ids(ours.hybrid_search("quokka", k=1)) == ["lc-05"]
        assert ids(ours.keyword_search("quokka", k=3)) == ["lc-05"]
        assert ids(ours.hybrid_search("quokka", k=3, filter={"topic": "space"}))[0] != "lc-05"

        # Filters restrict exactly as Chroma does (k covers every match).
        for where, theirs in zip(filters, theirs_by_filter, strict=True):
            assert {d.id for d in ours.similarity_search("anything", k=ALL, filter=where)} == theirs, where
            assert {d.id for d in ours.hybrid_search("the", k=ALL, filter=where)} == theirs, where
        for where_document, theirs in zip(documents, theirs_by_document, strict=True):
            found_ids = {d.id for d in ours.similarity_search("x", k=ALL, where_document=where_document)}
            assert found_ids == theirs, where_document
        combined = ours.similarity_search("x", k=ALL, filter={"topic": "cooking"}, where_document={"$contains": "the"})
        assert {d.id for d in combined} == theirs_combined
    finally:
        ours.close()


def test_langchain_chroma_reads_what_ours_wrote_into_its_l2_collection(lc_folder: Path) -> None:
    emb = BagOfWords()
    added = {
        "ours-1": ("Penguins huddle together through the polar night", {"topic": "animals", "year": 2026}),
        "ours-2": ("Comets grow bright tails near the sun", {"topic": "space", "year": 2026, "tags": ["ice", "dust"]}),
    }
    as_document = ("ours-3", "Sourdough starter needs daily feeding", {"topic": "cooking", "year": 2026})
    updated_text = "Birds migrate south before the winter storms"

    ours = LangChainStore(collection_name=NAME, embedding_function=emb, persist_directory=str(lc_folder))
    try:
        written = ours.add_texts([t for t, _ in added.values()], [dict(m) for _, m in added.values()], ids=list(added))
        assert written == list(added)
        doc_id, doc_text, doc_meta = as_document
        assert ours.add_documents([Document(id=doc_id, page_content=doc_text, metadata=dict(doc_meta))]) == [doc_id]
        # Chroma's update merges metadata: keys not given stay.
        ours.update_documents(["lc-03"], [Document(page_content=updated_text, metadata={"season": "autumn"})])
        ours.delete(["lc-20"])
        got = ours.get(ids=["lc-03", "ours-2"], include=["documents", "metadatas"])
        assert got["ids"] == ["lc-03", "ours-2"]
        assert got["documents"] == [updated_text, added["ours-2"][0]]
        assert got["metadatas"] == [{**META["lc-03"], "season": "autumn"}, added["ours-2"][1]]
    finally:
        ours.close()

    expected_text = {**TEXT, "lc-03": updated_text, doc_id: doc_text} | {i: t for i, (t, _) in added.items()}
    del expected_text["lc-20"]
    expected_meta = {**META, "lc-03": {**META["lc-03"], "season": "autumn"}, doc_id: doc_meta}
    expected_meta |= {i: m for i, (_, m) in added.items()}
    with langchain_chroma(lc_folder, emb) as lc:
        # (a) every id, ours included, with the right documents.
        everything = lc.get()
        assert sorted(everything["ids"]) == sorted(expected_text)
        assert dict(zip(everything["ids"], everything["documents"], strict=True)) == expected_text
        # (c) the user metadata of every record is there; ours also carry `_mira_*` keys.
        for record_id, metadata in zip(everything["ids"], everything["metadatas"], strict=True):
            assert_user_metadata_kept(metadata, expected_meta[record_id])
        # (b) its own similarity search finds what we wrote (and re-embedded) for its own text.
        for record_id in [*added, doc_id, "lc-03"]:
            assert ids(lc.similarity_search(expected_text[record_id], k=1)) == [record_id]
        best, distance = lc.similarity_search_with_score(added["ours-1"][0], k=1)[0]
        assert best.id == "ours-1"
        assert distance == pytest.approx(0.0, abs=1e-5)
        # Its filters run on our metadata as on its own.
        assert {d.id for d in lc.similarity_search("x", k=ALL, filter={"year": 2026})} == {*added, doc_id}
        assert {d.id for d in lc.similarity_search("x", k=ALL, filter={"tags": {"$contains": "ice"}})} == {"ours-2"}
        assert lc.get(ids=["lc-20"])["ids"] == []


# ---------------------------------------------------------------------------------------------
# 2. langchain-chroma collections in other spaces.

# Fixed vectors: "north" and "north-east" (not unit length) are at cosine 0.6, "up" is orthogonal
# to "north", "south" opposite it.
COMPASS = {
    "north": [1.0, 0.0, 0.0, 0.0],
    "north-east": [3.0, 4.0, 0.0, 0.0],
    "up": [0.0, 0.0, 2.0, 0.0],
    "south": [-1.0, 0.0, 0.0, 0.0],
}
#: Cosines of each text with "north".
COSINE_WITH_NORTH = {"north": 1.0, "north-east": 0.6, "up": 0.0, "south": -1.0}


def expected_distance(space: str, cosine: float) -> float:
    """Our distance in a space: Chroma's distance of the unit vectors (``1 - cos`` or ``2 - 2cos``)."""
    return 2.0 - 2.0 * cosine if space == "l2" else 1.0 - cosine


@pytest.mark.parametrize("space", ["cosine", "ip", "l2"])
def test_langchain_chroma_space_is_kept_and_distances_are_in_it(tmp_path: Path, space: str) -> None:
    emb = TableEmbeddings(COMPASS)
    path = tmp_path / "chroma"
    with langchain_chroma(path, emb, collection_metadata={"hnsw:space": space}) as lc:
        lc.add_texts(list(COMPASS), ids=list(COMPASS))

    ours = LangChainStore(collection_name=NAME, embedding_function=emb, persist_directory=str(path))
    try:
        assert ours.engine.space == space
        scored = ours.similarity_search_with_score("north", k=len(COMPASS))
        assert [d.id for d, _ in scored] == ["north", "north-east", "up", "south"]
        assert scored[0][1] == 0.0  # an exact match
        for document, distance in scored:
            assert distance == pytest.approx(expected_distance(space, COSINE_WITH_NORTH[str(document.id)]), abs=1e-6)
        # A stored vector that is not unit length is at 0 from its own text's query too:
        # distances are measured between unit vectors, whatever the space.
        own = ours.similarity_search_with_score("north-east", k=1)
        assert own[0][0].id == "north-east"
        assert own[0][1] == pytest.approx(0.0, abs=1e-6)
        # The same distances by vector.
        by_vector = ours.similarity_search_by_vector_with_relevance_scores([2.0, 0.0, 0.0, 0.0], k=2)
        assert [d.id for d, _ in by_vector] == ["north", "north-east"]
        assert by_vector[1][1] == pytest.approx(expected_distance(space, 0.6), abs=1e-6)
    finally:
        ours.close()
    with plain_collection(path) as collection:
        assert collection.configuration_json["hnsw"]["space"] == space


def exact_distance(space: str, vector: Sequence[float]) -> float:
    """Chroma's distance between a vector and itself: 0, except ``1 - |v|^2`` in ``ip``."""
    return 1.0 - sum(x * x for x in vector) if space == "ip" else 0.0


FAKE_TEXTS = [f"note {i}: {w}" for i, w in enumerate(["alpha", "beta", "gamma", "delta", "epsilon"] * 4)]


UNIT_VECTORS = (
    "deliberate difference (README, 'Coming from langchain-chroma'): the store writes unit vectors, so with "
    "embeddings that are not unit length langchain-chroma ranks our record by its unit vector: lower than its "
    "own exact matches in 'ip', at a larger distance in 'l2'"
)


@pytest.mark.parametrize(
    "space",
    [
        "cosine",
        pytest.param("ip", marks=pytest.mark.xfail(strict=True, reason=UNIT_VECTORS)),
        pytest.param("l2", marks=pytest.mark.xfail(strict=True, reason=UNIT_VECTORS)),
    ],
)
def test_langchain_chroma_search_finds_what_ours_added_in_every_space(tmp_path: Path, space: str) -> None:
    """LangChain's DeterministicFakeEmbedding makes vectors that are not unit length, as many real
    models do: langchain-chroma's own search for our record's text must rank it as it ranks its own
    records for their texts (first, at the distance its own exact matches get).
    """
    emb = DeterministicFakeEmbedding(size=16)
    path = tmp_path / "chroma"
    with langchain_chroma(path, emb, collection_metadata={"hnsw:space": space}) as lc:
        lc.add_texts(FAKE_TEXTS, ids=[f"lc-{i}" for i in range(len(FAKE_TEXTS))])
        own_best, own_distance = lc.similarity_search_with_score(FAKE_TEXTS[3], k=1)[0]
        assert own_best.id == "lc-3"  # langchain-chroma finds its own record for its own text ...
        assert own_distance == pytest.approx(exact_distance(space, emb.embed_query(FAKE_TEXTS[3])), abs=1e-3)

    ours = LangChainStore(collection_name=NAME, embedding_function=emb, persist_directory=str(path))
    try:
        ours.add_texts(["a record our store added"], ids=["ours"])
        assert ours.similarity_search_with_score("a record our store added", k=1)[0][0].id == "ours"
        # Its own record's text finds it at 0 in our distances too (under cosine Chroma keeps the
        # vector it normalised itself, so the last bits may differ from our normalised query's).
        best_of_theirs = ours.similarity_search_with_score(FAKE_TEXTS[3], k=1)[0]
        assert best_of_theirs[0].id == "lc-3"
        assert best_of_theirs[1] == pytest.approx(0.0, abs=1e-9)
    finally:
        ours.close()

    with langchain_chroma(path, emb) as lc:
        best, distance = lc.similarity_search_with_score("a record our store added", k=1)[0]
        assert best.id == "ours", f"langchain-chroma ({space}) ranks {best.id!r} above our record for its own text"
        # At the distance Chroma gives an exact match in this space, as for its own record.
        assert distance == pytest.approx(exact_distance(space, emb.embed_query("a record our store added")), abs=1e-3)


# ---------------------------------------------------------------------------------------------
# 3. Collection metadata.


# Chroma's float32 cosine distance of an exact match can be -1e-7, which langchain-chroma warns of.
@pytest.mark.filterwarnings("ignore:Relevance scores must be between 0 and 1")
def test_collection_metadata_set_by_langchain_chroma_survives_our_writes(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    user_metadata = {"owner": "team", "purpose": "faq", "version": 3}
    write_corpus(path, BagOfWords(), collection_metadata={**user_metadata, "hnsw:space": "cosine"})
    with plain_collection(path) as collection:
        assert user_metadata.items() <= (collection.metadata or {}).items()
        assert collection.configuration_json["hnsw"]["space"] == "cosine"

    ours = LangChainStore(collection_name=NAME, embedding_function=BagOfWords(), persist_directory=str(path))
    try:
        ours.add_texts(["Kites dance on the spring wind"], [{"topic": "sports"}], ids=["ours-1"])
        ours.update_documents(["lc-01"], [Document(page_content="Cats nap all afternoon", metadata={})])
        ours.delete(["lc-02"])
    finally:
        ours.close()

    with plain_collection(path) as collection:
        # The user's keys stay; ours (`mira_*`, the embedder and dimension it recorded) sit beside them.
        assert user_metadata.items() <= (collection.metadata or {}).items()
        assert collection.configuration_json["hnsw"]["space"] == "cosine"
        assert collection.count() == len(CORPUS)
    with langchain_chroma(path, BagOfWords()) as lc:
        # langchain-chroma still sees a cosine collection: relevance 1 - distance.
        best, relevance = lc.similarity_search_with_relevance_scores("Kites dance on the spring wind", k=1)[0]
        assert best.id == "ours-1"
        assert relevance == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------------------------
# 4. LlamaIndex's ChromaVectorStore in a persistent folder.

RIVERS = LlamaDocument(
    id_="doc-rivers",
    text="Rivers carry water to the sea\nA delta forms where the river slows\nSalmon swim upstream to spawn",
    metadata={"topic": "water", "year": 2020},
)
PEAKS = LlamaDocument(
    id_="doc-peaks",
    text="Mountains rise above the clouds\nGlaciers carve deep valleys\nThe summit wind is fierce and cold",
    metadata={"topic": "mountains", "year": 2022},
)
OURS_DOC = LlamaDocument(
    id_="doc-ours",
    text="Lighthouses guide ships past the rocks\nFog horns sound through the night",
    metadata={"topic": "coast", "year": 2026},
)


def node_texts(result: Any) -> list[str]:
    return [node.get_content() for node in result.nodes]


def test_llama_index_collection_opens_with_from_params_and_stays_readable_by_chroma_vector_store(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "chroma")
    name = "llama-interop"
    embed_model = LlamaBagOfWords()
    client = chromadb.PersistentClient(path=path)
    try:
        theirs = ChromaVectorStore(chroma_collection=client.get_or_create_collection(name))
        VectorStoreIndex.from_documents(
            [RIVERS, PEAKS],
            storage_context=StorageContext.from_defaults(vector_store=theirs),
            embed_model=embed_model,
            transformations=[LineSplitter()],
        )
        assert client.get_collection(name).count() == 6
    finally:
        client.close()

    ours = LlamaStore.from_params(collection_name=name, persist_dir=path)
    try:
        line = "A delta forms where the river slows"
        dense = ours.query(VectorStoreQuery(query_embedding=bag_of_words(line), similarity_top_k=1))
        assert node_texts(dense) == [line]
        node = dense.nodes[0]
        assert node.ref_doc_id == "doc-rivers"
        assert node.metadata == {"topic": "water", "year": 2020}

        hybrid = ours.query(
            VectorStoreQuery(
                query_str="salmon",
                query_embedding=bag_of_words("salmon"),
                similarity_top_k=1,
                mode=VectorStoreQueryMode.HYBRID,
            )
        )
        assert node_texts(hybrid) == ["Salmon swim upstream to spawn"]
        assert hybrid.nodes[0].ref_doc_id == "doc-rivers"

        text = ours.query(
            VectorStoreQuery(query_str="glaciers", similarity_top_k=2, mode=VectorStoreQueryMode.TEXT_SEARCH)
        )
        assert node_texts(text) == ["Glaciers carve deep valleys"]
        assert text.nodes[0].metadata == {"topic": "mountains", "year": 2022}
        assert text.nodes[0].ref_doc_id == "doc-peaks"

        filtered = ours.query(
            VectorStoreQuery(
                query_embedding=bag_of_words(line),
                similarity_top_k=10,
                filters=MetadataFilters(filters=[MetadataFilter(key="topic", value="mountains")]),
            )
        )
        assert sorted(node_texts(filtered)) == sorted(PEAKS.text.split("\n"))
        assert {n.ref_doc_id for n in filtered.nodes} == {"doc-peaks"}

        ours.delete("doc-rivers")
        assert {n.ref_doc_id for n in ours.get_nodes()} == {"doc-peaks"}
        gone = ours.query(
            VectorStoreQuery(query_str="salmon", similarity_top_k=5, mode=VectorStoreQueryMode.TEXT_SEARCH)
        )
        assert gone.ids == []

        index = VectorStoreIndex.from_vector_store(ours, embed_model=embed_model, transformations=[LineSplitter()])
        index.insert(OURS_DOC)
        ours_hits = ours.query(
            VectorStoreQuery(query_str="lighthouses", similarity_top_k=1, mode=VectorStoreQueryMode.TEXT_SEARCH)
        )
        assert node_texts(ours_hits) == ["Lighthouses guide ships past the rocks"]
    finally:
        ours.client.close()

    client = chromadb.PersistentClient(path=path)
    try:
        collection = client.get_collection(name)
        assert collection.get(where={"ref_doc_id": "doc-rivers"})["ids"] == []
        assert collection.count() == 5
        theirs = ChromaVectorStore(chroma_collection=collection)
        for ours_line in OURS_DOC.text.split("\n"):
            result = theirs.query(VectorStoreQuery(query_embedding=bag_of_words(ours_line), similarity_top_k=1))
            assert node_texts(result) == [ours_line]
            # ChromaVectorStore rebuilds its nodes from `_node_content`: our `_mira_*` keys stay
            # out of the node's metadata.
            assert result.nodes[0].metadata == OURS_DOC.metadata
            assert result.nodes[0].ref_doc_id == "doc-ours"
        retriever = VectorStoreIndex.from_vector_store(theirs, embed_model=embed_model).as_retriever(similarity_top_k=1)
        retrieved = retriever.retrieve("Fog horns sound through the night")
        assert [hit.node.get_content() for hit in retrieved] == ["Fog horns sound through the night"]
        assert retrieved[0].node.ref_doc_id == "doc-ours"
        assert retrieved[0].node.metadata == OURS_DOC.metadata
        # Its own filters and deletes work on what we wrote.
        coast = theirs.query(
            VectorStoreQuery(
                query_embedding=bag_of_words("ships"),
                similarity_top_k=10,
                filters=MetadataFilters(filters=[MetadataFilter(key="topic", value="coast")]),
            )
        )
        assert sorted(node_texts(coast)) == sorted(OURS_DOC.text.split("\n"))
        theirs.delete("doc-ours")
        assert collection.get(where={"ref_doc_id": "doc-ours"})["ids"] == []
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# 5. LlamaIndex's quick start: an EphemeralClient collection.


def test_ephemeral_collection_is_seen_by_ours_and_left_in_the_callers_client_on_close() -> None:
    chroma_client = chromadb.EphemeralClient()
    name = f"quickstart-{uuid.uuid4().hex[:12]}"  # the in-memory engine is shared by the whole process
    chroma_collection = chroma_client.create_collection(name)
    try:
        theirs = ChromaVectorStore(chroma_collection=chroma_collection)
        VectorStoreIndex.from_documents(
            [RIVERS, PEAKS],
            storage_context=StorageContext.from_defaults(vector_store=theirs),
            embed_model=LlamaBagOfWords(),
            transformations=[LineSplitter()],
        )
        before = chroma_collection.get()["ids"]
        assert len(before) == 6

        ours = LlamaStore(chroma_collection=chroma_collection)
        try:
            assert sorted(n.node_id for n in ours.get_nodes()) == sorted(before)
            hits = ours.query(
                VectorStoreQuery(query_str="glaciers", similarity_top_k=1, mode=VectorStoreQueryMode.TEXT_SEARCH)
            )
            assert node_texts(hits) == ["Glaciers carve deep valleys"]
            assert hits.nodes[0].ref_doc_id == "doc-peaks"
            index = VectorStoreIndex.from_vector_store(
                ours, embed_model=LlamaBagOfWords(), transformations=[LineSplitter()]
            )
            index.insert(OURS_DOC)
            count = chroma_collection.count()
            assert count == 8
        finally:
            ours.client.close()

        # Closing our store leaves the caller's client, its collection and every record in place.
        assert chroma_collection.count() == count
        assert chroma_client.get_collection(name).count() == count
        assert set(before) <= set(chroma_client.get_collection(name).get()["ids"])
        result = theirs.query(
            VectorStoreQuery(query_embedding=bag_of_words("Lighthouses guide ships past the rocks"), similarity_top_k=1)
        )
        assert node_texts(result) == ["Lighthouses guide ships past the rocks"]
        # The same collection opens again with from_collection.
        again = LlamaStore.from_collection(chroma_client.get_collection(name))
        try:
            assert len(again.get_nodes()) == count
        finally:
            again.client.close()
        assert chroma_client.get_collection(name).count() == count
    finally:
        chroma_client.delete_collection(name)


# ---------------------------------------------------------------------------------------------
# 6. A write of langchain-chroma while ours is open.


def test_langchain_chroma_write_after_ours_opened_shows_on_full_refresh_only(lc_folder: Path) -> None:
    emb = BagOfWords()
    client = chromadb.PersistentClient(path=str(lc_folder))
    try:
        lc = Chroma(collection_name=NAME, embedding_function=emb, client=client)
        ours = LangChainStore(collection_name=NAME, embedding_function=emb, client=client)
        try:
            assert ours.engine.count() == len(CORPUS)
            lc.add_texts(["Zebras gallop across the savanna"], [{"topic": "animals"}], ids=["late"])
            lc.delete(["lc-01"])
            lc.update_document("lc-02", Document(page_content="Dogs dig holes in the garden", metadata={"topic": "x"}))

            # Documented behaviour: langchain-chroma's writes carry none of our write stamps, so
            # our mirrors are not caught up by them silently (not on reads, not by the cheap
            # refresh(), which asks Chroma for stamped changes only); refresh(full=True) re-reads
            # the collection and shows them.
            for step in ("before any refresh", "after refresh()"):
                assert ours.get(ids=["late"])["ids"] == [], step
                assert ours.keyword_search("zebras", k=3) == [], step
                assert ours.get(ids=["lc-01"])["ids"] == ["lc-01"], step
                assert ours.engine.count() == len(CORPUS), step
                ours.engine.refresh()

            ours.engine.refresh(full=True)
            assert ours.engine.count() == len(CORPUS)
            assert ours.get(ids=["late"])["documents"] == ["Zebras gallop across the savanna"]
            assert ids(ours.keyword_search("zebras", k=3)) == ["late"]
            assert ids(ours.hybrid_search("zebras gallop", k=1)) == ["late"]
            assert ours.get(ids=["lc-01"])["ids"] == []
            assert "lc-01" not in ids(ours.similarity_search(TEXT["lc-01"], k=ALL))
            assert ours.get(ids=["lc-02"])["documents"] == ["Dogs dig holes in the garden"]
            assert ids(ours.similarity_search("Dogs dig holes in the garden", k=1)) == ["lc-02"]
            assert {d.id for d in ours.similarity_search("x", k=ALL, filter={"topic": "x"})} == {"lc-02"}
        finally:
            ours.close()
    finally:
        client.close()


def test_ours_reopened_after_langchain_chroma_wrote_meanwhile_sees_those_writes(lc_folder: Path) -> None:
    """Taking turns: ours opens and closes the folder, langchain-chroma writes there, ours opens it
    again. The reopened store must show the collection as it is now, not as it was.
    """
    emb = BagOfWords()
    ours = LangChainStore(collection_name=NAME, embedding_function=emb, persist_directory=str(lc_folder))
    try:
        assert ours.engine.count() == len(CORPUS)
    finally:
        ours.close()

    with langchain_chroma(lc_folder, emb) as lc:
        lc.add_texts(["Zebras gallop across the savanna"], ids=["late"])
        lc.delete(["lc-01"])

    ours = LangChainStore(collection_name=NAME, embedding_function=emb, persist_directory=str(lc_folder))
    try:
        assert sorted(ours.get()["ids"]) == sorted([*(set(TEXT) - {"lc-01"}), "late"])
        assert ids(ours.keyword_search("zebras", k=3)) == ["late"]
        assert "lc-01" not in ids(ours.similarity_search(TEXT["lc-01"], k=ALL))
    finally:
        ours.close()


# ---------------------------------------------------------------------------------------------
# 7. Embeddings of another dimension.


def test_other_embedding_dimension_is_refused_and_leaves_the_collection_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    write_corpus(path, BagOfWords(DIM), collection_metadata={"owner": "team"})

    def state() -> tuple[Any, ...]:
        client = chromadb.PersistentClient(path=str(path))
        try:
            collection = client.get_collection(NAME)
            records = collection.get(include=["documents", "metadatas", "embeddings"])
            return (
                sorted(c.name for c in client.list_collections()),
                collection.count(),
                collection.metadata,
                collection.configuration_json["hnsw"]["space"],
                records["ids"],
                records["documents"],
                records["metadatas"],
                records["embeddings"].tolist(),
            )
        finally:
            client.close()

    before = state()
    with pytest.raises(EmbeddingMismatchError) as refused:
        LangChainStore(collection_name=NAME, embedding_function=BagOfWords(16), persist_directory=str(path))
    assert "32" in str(refused.value)
    assert "16" in str(refused.value)
    assert state() == before

    # The refusal released the folder: the right embeddings open it.
    ours = LangChainStore(collection_name=NAME, embedding_function=BagOfWords(DIM), persist_directory=str(path))
    try:
        assert ours.engine.count() == len(CORPUS)
    finally:
        ours.close()

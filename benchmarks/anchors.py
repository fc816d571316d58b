"""One small adapter per system, all with the same methods, so ``measure`` times them alike.

Every adapter is used the way that system's own documentation shows, with its defaults (our
store too: no benchmark-specific configuration). Libraries are imported inside the methods,
so a fresh process can time a system's imports on their own (``IMPORTS``).

Methods:
    ingest(data, batch): store every record, ``batch`` records per call (Chroma's
        ``max_batch_size`` for every system: the largest batch its adapters accept).
    persist(): make the store durable and reopenable (close, flush, or save to disk).
    query(vector, k): ids of the top ``k`` by vector.
    filtered_query(vector, k, where): the same, restricted by a Chroma ``where`` filter.
    hybrid_query(text, vector, k, where): dense + BM25 fused (ours only).
    open_cold(folder, dimensions, index=None): a classmethod opening the persisted store in a
        new process (``index``: our FAISS index kind, when the run chose one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from benchmarks.data import Dataset

Vec = NDArray[np.float32]
COLLECTION = "bench"


def _passthrough(table: dict[str, Vec] | None = None, dimensions: int = 384) -> Any:
    from benchmarks.passthrough import PassThroughEmbeddings

    return PassThroughEmbeddings(table or {}, dimensions)


class System:
    """The common interface (see the module docstring)."""

    name: ClassVar[str]
    IMPORTS: ClassVar[tuple[str, ...]]
    hybrid: ClassVar[bool] = False

    def ingest(self, data: Dataset, batch: int) -> None:
        raise NotImplementedError

    def persist(self) -> None:
        """Nothing to do by default: the system is durable once ``ingest`` returns."""

    def close(self) -> None:
        """Release the store (after the measurements)."""

    def describe(self) -> dict[str, object]:
        """What the system chose for its index, reported with the ingest (nothing by default)."""
        return {}

    def query(self, vector: Vec, k: int) -> list[str]:
        raise NotImplementedError

    def filtered_query(self, vector: Vec, k: int, where: dict[str, object]) -> list[str]:
        raise NotImplementedError

    def hybrid_query(self, text: str, vector: Vec, k: int, where: dict[str, object] | None) -> list[str]:
        raise NotImplementedError

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> System:
        raise NotImplementedError


# --------------------------------------------------------------------------- ours
class Mira(System):
    """``mira_vectorstores.langchain.MiraVectorStore``, persistent, default configuration."""

    name = "mira"
    IMPORTS = ("mira_vectorstores.langchain", "benchmarks.passthrough")
    hybrid = True

    def __init__(
        self, folder: Path, table: dict[str, Vec] | None = None, dimensions: int = 384, index: str | None = None
    ) -> None:
        from mira_vectorstores import FaissConfig, StoreConfig
        from mira_vectorstores.langchain import MiraVectorStore

        # Defaults, unless the 1,000,000-record run asks for a given index kind.
        config = None if index is None else StoreConfig(faiss=FaissConfig(index_kind=index))
        self.store = MiraVectorStore(_passthrough(table, dimensions), path=folder, name=COLLECTION, config=config)

    def ingest(self, data: Dataset, batch: int) -> None:
        for s in range(0, data.n, batch):
            self.store.add_texts(data.texts[s : s + batch], data.metadatas[s : s + batch], ids=data.ids[s : s + batch])

    def persist(self) -> None:
        self.store.engine.flush()  # writes the mirrors' snapshot (Chroma already holds every record)

    def describe(self) -> dict[str, object]:
        """The dense index the store chose and calibrated (``HybridStore.stats().index``)."""
        return dict(self.store.engine.stats().index)

    def close(self) -> None:
        self.store.close()

    def query(self, vector: Vec, k: int) -> list[str]:
        return [d.id for d in self.store.similarity_search_by_vector(vector.tolist(), k=k)]  # type: ignore[misc]

    def filtered_query(self, vector: Vec, k: int, where: dict[str, object]) -> list[str]:
        return [d.id for d in self.store.similarity_search_by_vector(vector.tolist(), k=k, filter=where)]  # type: ignore[misc]

    def hybrid_query(self, text: str, vector: Vec, k: int, where: dict[str, object] | None) -> list[str]:
        # The pass-through embeddings map the query text to its precomputed vector. RRF, as the
        # issue's target states (the store's default fusion is weighted min-max).
        return [d.id for d in self.store.hybrid_search(text, k=k, filter=where, fusion="rrf")]  # type: ignore[misc]

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> System:
        return cls(folder, None, dimensions, index)


class MiraRebuild(System):
    """Our engine opened without its mirror files: every mirror is rebuilt from Chroma (cold only)."""

    name = "mira-rebuild"
    IMPORTS = ("mira_vectorstores",)

    def __init__(self, store: Any) -> None:
        self.store = store

    def query(self, vector: Vec, k: int) -> list[str]:
        return [h.id for h in self.store.search(vector=vector, k=k)]

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> System:
        import tempfile

        from mira_vectorstores import FaissConfig, HybridStore, StoreConfig

        # No manifest in this new folder: every mirror is rebuilt. It sits beside the store, so
        # the run's scratch folder takes it away (the probe exits without saving into it).
        empty = Path(tempfile.mkdtemp(prefix="mira-rebuild-", dir=folder.parent))
        config = None if index is None else StoreConfig(faiss=FaissConfig(index_kind=index))
        return cls(HybridStore(COLLECTION, path=folder, embedder=None, mirror_dir=empty, config=config))


# --------------------------------------------------------------------------- Chroma anchors
class RawChroma(System):
    """``chromadb.PersistentClient`` and a collection with Chroma's default configuration."""

    name = "chromadb"
    IMPORTS = ("chromadb",)

    def __init__(self, folder: Path, *, create: bool = True) -> None:
        import chromadb

        self.client = chromadb.PersistentClient(path=str(folder))
        if create:
            self.collection = self.client.create_collection(COLLECTION, embedding_function=None)
        else:
            self.collection = self.client.get_collection(COLLECTION, embedding_function=None)

    def ingest(self, data: Dataset, batch: int) -> None:
        for s in range(0, data.n, batch):
            self.collection.add(
                ids=data.ids[s : s + batch],
                embeddings=data.vectors[s : s + batch],
                documents=data.texts[s : s + batch],
                metadatas=data.metadatas[s : s + batch],  # type: ignore[arg-type]
            )

    def query(self, vector: Vec, k: int) -> list[str]:
        return list(self.collection.query(query_embeddings=vector[None, :], n_results=k)["ids"][0])

    def filtered_query(self, vector: Vec, k: int, where: dict[str, object]) -> list[str]:
        got = self.collection.query(query_embeddings=vector[None, :], n_results=k, where=where)  # type: ignore[arg-type]
        return list(got["ids"][0])

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> System:
        return cls(folder, create=False)


class LangChainChroma(System):
    """``langchain_chroma.Chroma`` (persistent), fed by ``add_texts`` with pass-through embeddings."""

    name = "langchain-chroma"
    IMPORTS = ("langchain_chroma", "benchmarks.passthrough")

    def __init__(self, folder: Path, table: dict[str, Vec] | None = None, dimensions: int = 384) -> None:
        from langchain_chroma import Chroma

        self.store = Chroma(
            COLLECTION, embedding_function=_passthrough(table, dimensions), persist_directory=str(folder)
        )

    def ingest(self, data: Dataset, batch: int) -> None:
        for s in range(0, data.n, batch):
            self.store.add_texts(data.texts[s : s + batch], data.metadatas[s : s + batch], ids=data.ids[s : s + batch])

    def query(self, vector: Vec, k: int) -> list[str]:
        return [d.id for d in self.store.similarity_search_by_vector(vector.tolist(), k=k)]  # type: ignore[misc]

    def filtered_query(self, vector: Vec, k: int, where: dict[str, object]) -> list[str]:
        return [d.id for d in self.store.similarity_search_by_vector(vector.tolist(), k=k, filter=where)]  # type: ignore[misc]

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> System:
        return cls(folder, None, dimensions)


class LlamaIndexChroma(System):
    """LlamaIndex's ``ChromaVectorStore`` over a persistent collection, fed ``TextNode``s with embeddings."""

    name = "llamaindex-chroma"
    IMPORTS = (
        "chromadb",
        "llama_index.core.schema",
        "llama_index.core.vector_stores",
        "llama_index.vector_stores.chroma",
    )

    def __init__(self, folder: Path) -> None:
        import chromadb
        from llama_index.vector_stores.chroma import ChromaVectorStore

        client = chromadb.PersistentClient(path=str(folder))
        self.store = ChromaVectorStore(chroma_collection=client.get_or_create_collection(COLLECTION))

    def ingest(self, data: Dataset, batch: int) -> None:
        from llama_index.core.schema import TextNode

        for s in range(0, data.n, batch):
            nodes = [
                TextNode(
                    id_=data.ids[i], text=data.texts[i], metadata=data.metadatas[i], embedding=data.vectors[i].tolist()
                )
                for i in range(s, min(s + batch, data.n))
            ]
            self.store.add(nodes)

    def _query(self, vector: Vec, k: int, where: dict[str, object] | None) -> list[str]:
        from llama_index.core.vector_stores import MetadataFilter, MetadataFilters, VectorStoreQuery

        filters, options = None, {}
        if where and not any(isinstance(v, bool) for v in where.values()):
            filters = MetadataFilters(filters=[MetadataFilter(key=key, value=value) for key, value in where.items()])  # type: ignore[arg-type]
        elif where:
            options["where"] = where  # MetadataFilter takes no bool value; Chroma's own where= does
        request = VectorStoreQuery(query_embedding=vector.tolist(), similarity_top_k=k, filters=filters)
        return list(self.store.query(request, **options).ids or [])

    def query(self, vector: Vec, k: int) -> list[str]:
        return self._query(vector, k, None)

    def filtered_query(self, vector: Vec, k: int, where: dict[str, object]) -> list[str]:
        return self._query(vector, k, where)

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> System:
        return cls(folder)


# --------------------------------------------------------------------------- FAISS anchors
class LangChainFaiss(System):
    """LangChain community ``FAISS`` (its default: exact ``IndexFlatL2``, in memory; ``save_local`` persists)."""

    name = "langchain-faiss"
    IMPORTS = (
        "langchain_community.vectorstores",
        "langchain_community.docstore.in_memory",
        "faiss",
        "benchmarks.passthrough",
    )

    def __init__(
        self, folder: Path, store: Any = None, table: dict[str, Vec] | None = None, dimensions: int = 384
    ) -> None:
        self.folder = folder
        if store is None:
            import faiss
            from langchain_community.docstore.in_memory import InMemoryDocstore
            from langchain_community.vectorstores import FAISS

            store = FAISS(_passthrough(table, dimensions), faiss.IndexFlatL2(dimensions), InMemoryDocstore(), {})
        self.store = store

    def ingest(self, data: Dataset, batch: int) -> None:
        for s in range(0, data.n, batch):
            self.store.add_texts(data.texts[s : s + batch], data.metadatas[s : s + batch], ids=data.ids[s : s + batch])

    def persist(self) -> None:
        self.store.save_local(str(self.folder))

    def query(self, vector: Vec, k: int) -> list[str]:
        return [d.id for d in self.store.similarity_search_by_vector(vector.tolist(), k=k)]

    def filtered_query(self, vector: Vec, k: int, where: dict[str, object]) -> list[str]:
        # Its default fetch_k (20): FAISS returns 20 candidates, then the filter is applied to them.
        return [d.id for d in self.store.similarity_search_by_vector(vector.tolist(), k=k, filter=where)]

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> System:
        from langchain_community.vectorstores import FAISS

        # Its docstore is a pickle: loading it needs this flag (our own files are never pickles).
        store = FAISS.load_local(str(folder), _passthrough(None, dimensions), allow_dangerous_deserialization=True)
        return cls(folder, store)


class FaissFlat(System):
    """Raw ``faiss.IndexFlatIP``: the physical floor of exact search (a full scan per query).

    It keeps no metadata: a filter is a row mask computed once per filter at ingest, then passed
    as an ``IDSelectorBitmap`` (exact). Persisting writes the index and the ids.
    """

    name = "faiss-flat"
    IMPORTS = ("faiss",)

    def __init__(self, folder: Path, index: Any = None, ids: list[str] | None = None) -> None:
        import faiss

        self.folder = folder
        self.index = index if index is not None else faiss.IndexFlatIP(384)
        self.ids = ids or []
        self._masks: dict[str, tuple[Any, Any]] = {}
        self._metadatas: list[dict[str, object]] = []

    def ingest(self, data: Dataset, batch: int) -> None:
        for s in range(0, data.n, batch):
            self.index.add(data.vectors[s : s + batch])
        self.ids = list(data.ids)
        self._metadatas = data.metadatas

    def persist(self) -> None:
        import faiss

        self.folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(self.folder / "index.faiss"))
        (self.folder / "ids.json").write_text(json.dumps(self.ids))

    def _search(self, vector: Vec, k: int, params: Any = None) -> list[str]:
        _, labels = self.index.search(vector[None, :], k, params=params)
        return [self.ids[i] for i in labels[0] if i >= 0]

    def query(self, vector: Vec, k: int) -> list[str]:
        return self._search(vector, k)

    def filtered_query(self, vector: Vec, k: int, where: dict[str, object]) -> list[str]:
        import faiss

        key = json.dumps(where, sort_keys=True)
        if key not in self._masks:  # once per filter: this is the floor, not a filter engine
            ((field, value),) = where.items()
            mask = np.fromiter((m.get(field) == value for m in self._metadatas), bool, len(self._metadatas))
            bits = np.packbits(mask, bitorder="little")
            self._masks[key] = (bits, faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)))
        params = faiss.SearchParameters()
        params.sel = self._masks[key][1]
        return self._search(vector, k, params)

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> System:
        import faiss

        return cls(folder, faiss.read_index(str(folder / "index.faiss")), json.loads((folder / "ids.json").read_text()))


SYSTEMS: dict[str, type[System]] = {
    s.name: s for s in (Mira, RawChroma, LangChainChroma, LlamaIndexChroma, LangChainFaiss, FaissFlat)
}
COLD_ONLY: dict[str, type[System]] = {MiraRebuild.name: MiraRebuild}


def create(name: str, folder: Path, data: Dataset, *, index: str | None = None) -> System:
    """A new, empty store of system ``name`` in ``folder`` (``index``: our FAISS index kind)."""
    if name == Mira.name:
        return Mira(folder, data.text_vectors(), data.vectors.shape[1], index)
    if name == LangChainChroma.name:
        return LangChainChroma(folder, data.text_vectors(), data.vectors.shape[1])
    if name == LangChainFaiss.name:
        return LangChainFaiss(folder, table=data.text_vectors(), dimensions=data.vectors.shape[1])
    if name == RawChroma.name:
        return RawChroma(folder)
    if name == LlamaIndexChroma.name:
        return LlamaIndexChroma(folder)
    return FaissFlat(folder)

"""MiraVectorStore as the backend of a VectorStoreIndex: retrievers in every mode, a query engine,
in memory and persisted, and a persisted index reopened in a new process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_fakes import HashEmbedding
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from mira_vectorstores.llama_index import MiraVectorStore

Mode = VectorStoreQueryMode
TEXTS = {
    "cats": "Cats are small domesticated felines. A cat purrs when content and sleeps most of the day.",
    "dogs": "Dogs are loyal companions. A dog barks at strangers and loves long walks in the park.",
    "bread": "Sourdough bread needs a starter culture, flour, water and a long slow fermentation.",
    "stocks": "The stock market index fell sharply as investors sold technology shares.",
    "quantum": "Quantum computers use qubits and entanglement to factor very large numbers.",
    "rain": "Tropical rainforests receive heavy rain and host most of the species on the planet.",
}
YEARS = {"cats": 2019, "dogs": 2020, "bread": 2021, "stocks": 2022, "quantum": 2023, "rain": 2024}
# query -> the document every mode must rank first.
QUESTIONS = {"why does a cat purr": "cats", "sourdough starter fermentation": "bread", "stock market shares": "stocks"}
MODES = [Mode.DEFAULT, Mode.SPARSE, Mode.TEXT_SEARCH, Mode.HYBRID, Mode.MMR]
REOPEN_SCRIPT = """
import json, sys
sys.path.insert(0, {helpers!r})
from llama_fakes import HashEmbedding
from llama_index.core import VectorStoreIndex
from mira_vectorstores.llama_index import MiraVectorStore

store = MiraVectorStore.persistent({path!r}, "notes")
index = VectorStoreIndex.from_vector_store(store, embed_model=HashEmbedding(64))
answers = {{}}
for mode in {modes!r}:
    retriever = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=3)
    answers[mode] = {{
        q: [(h.node.node_id, h.node.ref_doc_id, h.score) for h in retriever.retrieve(q)] for q in {questions!r}
    }}
print(json.dumps(answers))
store.client.close()
"""


def documents() -> list[Document]:
    return [Document(id_=key, text=text, metadata={"topic": key, "year": YEARS[key]}) for key, text in TEXTS.items()]


def build(store: MiraVectorStore) -> VectorStoreIndex:
    context = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex.from_documents(documents(), storage_context=context, embed_model=HashEmbedding(64))


@pytest.fixture(params=["in_memory", "persistent"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStoreIndex]:
    store = (
        MiraVectorStore.in_memory() if request.param == "in_memory" else MiraVectorStore.persistent(tmp_path, "notes")
    )
    yield build(store)
    store.client.close()


def answers(index: VectorStoreIndex, mode: Mode) -> dict[str, list[tuple[str, str, float]]]:
    retriever = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=3)
    return {q: [(h.node.node_id, h.node.ref_doc_id, h.score) for h in retriever.retrieve(q)] for q in QUESTIONS}


def test_from_documents_stores_every_node(index: VectorStoreIndex) -> None:
    store = index.vector_store
    assert isinstance(store, MiraVectorStore)
    nodes = store.get_nodes()
    assert sorted(n.ref_doc_id for n in nodes) == sorted(TEXTS)
    assert {n.ref_doc_id: n.metadata["year"] for n in nodes} == YEARS


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
async def test_as_retriever_in_each_mode(index: VectorStoreIndex, mode: Mode) -> None:
    retriever = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=3)
    for question, best in QUESTIONS.items():
        hits = retriever.retrieve(question)
        assert hits[0].node.ref_doc_id == best, (mode, question)
        if mode is not Mode.MMR:  # MMR reorders for diversity; its score stays the similarity
            assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert [h.node.node_id for h in await retriever.aretrieve(question)] == [h.node.node_id for h in hits]
        # The retriever's answer is the store's own answer to the same query.
        direct = index.vector_store.query(
            VectorStoreQuery(
                query_str=question,
                query_embedding=HashEmbedding(64).get_query_embedding(question),
                similarity_top_k=3,
                mode=mode,
            )
        )
        assert [h.node.node_id for h in hits] == direct.ids
    if mode is Mode.DEFAULT:
        assert all(0.0 <= h.score <= 1.0 for h in hits)


def test_as_retriever_with_filters_doc_ids_and_mmr_threshold(index: VectorStoreIndex) -> None:
    recent = MetadataFilters(filters=[MetadataFilter(key="year", value=2022, operator=FilterOperator.GTE)])
    retriever = index.as_retriever(filters=recent, similarity_top_k=10)
    assert sorted(h.node.ref_doc_id for h in retriever.retrieve("why does a cat purr")) == ["quantum", "rain", "stocks"]
    retriever = index.as_retriever(doc_ids=["dogs", "rain"], similarity_top_k=10)
    assert sorted(h.node.ref_doc_id for h in retriever.retrieve("why does a cat purr")) == ["dogs", "rain"]
    retriever = index.as_retriever(
        vector_store_query_mode=Mode.MMR, similarity_top_k=3, vector_store_kwargs={"mmr_threshold": 0.0}
    )
    assert len(retriever.retrieve("why does a cat purr")) == 3


async def test_as_query_engine_with_mock_llm(index: VectorStoreIndex) -> None:
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=2)
    response = engine.query("why does a cat purr")
    assert response.source_nodes[0].node.ref_doc_id == "cats"
    assert "purrs when content" in str(response)  # MockLLM echoes the prompt, context included
    response = await engine.aquery("sourdough starter fermentation")
    assert response.source_nodes[0].node.ref_doc_id == "bread"
    hybrid = index.as_query_engine(llm=MockLLM(), similarity_top_k=2, vector_store_query_mode="hybrid")
    assert hybrid.query("stock market shares").source_nodes[0].node.ref_doc_id == "stocks"


def test_index_insert_and_delete_ref_doc(index: VectorStoreIndex) -> None:
    index.insert(Document(id_="owls", text="Owls hunt at night and hoot from the trees.", metadata={"topic": "owls"}))
    retriever = index.as_retriever(similarity_top_k=1)
    assert retriever.retrieve("owls hoot at night")[0].node.ref_doc_id == "owls"
    index.delete_ref_doc("owls")
    index.delete_ref_doc("cats")
    remaining = {n.ref_doc_id for n in index.vector_store.get_nodes()}
    assert remaining == set(TEXTS) - {"cats"}
    assert retriever.retrieve("owls hoot at night")[0].node.ref_doc_id != "owls"


def test_persistent_index_reopened_in_a_new_process_answers_the_same(tmp_path: Path) -> None:
    store = MiraVectorStore.persistent(tmp_path, "notes")
    index = build(store)
    expected = {mode.value: answers(index, mode) for mode in MODES}
    store.client.close()
    script = REOPEN_SCRIPT.format(
        helpers=str(Path(__file__).parent),
        path=str(tmp_path),
        modes=[m.value for m in MODES],
        questions=list(QUESTIONS),
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    reopened = json.loads(done.stdout.strip().splitlines()[-1])
    for mode in expected:
        for question, hits in expected[mode].items():
            got = reopened[mode][question]
            assert [h[:2] for h in got] == [list(h[:2]) for h in hits], (mode, question)
            assert [h[2] for h in got] == pytest.approx([h[2] for h in hits]), (mode, question)

"""Translations between LangChain's types and the engine's; the adapter has no other logic.

- ``LangChainEmbedder``: a LangChain ``Embeddings`` as an engine ``Embedder``.
- ``to_document``: a ``SearchHit`` or ``Record`` as a ``Document``.
- ``to_relevance``: the one relevance function (LangChain's ``[0, 1]`` convention).
- ``search_options``, ``write_request``: LangChain keyword arguments as
  engine keyword arguments, validated once (``check_list``: a lone str, bytes or dict is never
  taken for a list of its characters or keys).
- ``SearchType`` and ``retriever_fields``: LangChain's ``search_type`` strings as engine enums.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeGuard

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from mira_vectorstores.engine import (
    BoostRule,
    ConfigError,
    FieldBoost,
    FusionMethod,
    InvalidInputError,
    RecencyBoost,
    Record,
    SearchHit,
    SearchMode,
    ThresholdBoost,
    boosts_from_json,
    check_list,
    enum_value,
)

#: Reserved ``Document.metadata`` key marking a raw-object hit: a dict with the object's
#: ``content_type``, ``codec``, ``size`` (bytes) and ``sha256``. Writes may not use it.
MIRA_OBJECT_KEY = "mira_object"

# Fields that identify what an embeddings model computes (not how it is called: retries,
# timeouts or keys must not change the name a store records).
_IDENTITY_FIELDS = ("model", "model_name", "model_id", "deployment", "size", "dimensions")


def check_embeddings(embedding: object) -> Embeddings:
    """``embedding`` if it is an embeddings model (it has ``embed_documents`` and ``embed_query``).

    Raises:
        ConfigError: naming what was given and what is expected.
    """
    if all(callable(getattr(embedding, method, None)) for method in ("embed_documents", "embed_query")):
        return embedding  # type: ignore[return-value]  # duck-typed: any object with both methods
    hint = "; to name the collection, pass name=..." if isinstance(embedding, str) else ""
    msg = (
        "MiraVectorStore's first argument is the embeddings model: a LangChain Embeddings (with embed_documents "
        f"and embed_query), or None for the bundled all-MiniLM-L6-v2; got {type(embedding).__name__}{hint}"
    )
    raise ConfigError(msg)


def document_columns(documents: object) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """Texts, metadatas and ids (``""`` when missing: ``write_request`` fills it) of a list of ``Document``.

    Raises:
        InvalidInputError: for a single ``Document`` (or str) where a list is expected, or an
            item that is not a ``Document``.
    """
    docs = check_list(documents, "documents", of="Documents", single=(Document,))
    for i, doc in enumerate(docs):
        if not isinstance(doc, Document):
            msg = f"documents[{i}] must be a Document, got {type(doc).__name__}; add plain strings with add_texts"
            raise InvalidInputError(msg)
    return [d.page_content for d in docs], [d.metadata for d in docs], [d.id or "" for d in docs]


def embedder_name(embeddings: Embeddings) -> str:
    """A name that is stable across processes for one embeddings class and model.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> embedder_name(DeterministicFakeEmbedding(size=6))
        'langchain:langchain_core.DeterministicFakeEmbedding(size=6)'
    """
    cls = type(embeddings)
    # The top-level package, not the full module path: packages move classes between modules.
    base = f"langchain:{cls.__module__.split('.')[0]}.{cls.__qualname__}"
    parts = []
    for field in _IDENTITY_FIELDS:
        value = getattr(embeddings, field, None)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            parts.append(f"{field}={value}")
    return f"{base}({', '.join(parts)})" if parts else base


class LangChainEmbedder:
    """A LangChain ``Embeddings`` seen as the engine's ``Embedder``.

    The dimension is found by embedding one probe text, once, unless given.
    """

    def __init__(self, embeddings: Embeddings, *, name: str | None = None, dimension: int | None = None) -> None:
        """Wrap ``embeddings``.

        Args:
            embeddings: any LangChain embeddings model.
            name: the name the store records; defaults to ``embedder_name(embeddings)``.
            dimension: the vector length; probed when ``None``.
        """
        self.embeddings = embeddings
        self.name = name or embedder_name(embeddings)
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        """Length of every vector (probed on first use)."""
        if self._dimension is None:
            self._dimension = len(self.embeddings.embed_query("dimension probe"))
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents; shape ``(len(texts), dimension)``."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self.embeddings.embed_documents(list(texts)), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query; shape ``(dimension,)``."""
        return np.asarray(self.embeddings.embed_query(text), dtype=np.float32)


def to_document(item: SearchHit | Record) -> Document:
    """A hit or record as a ``Document``: its id, text and exactly the user's metadata.

    A raw object also gets ``metadata["mira_object"]`` (see ``MIRA_OBJECT_KEY``).
    """
    # The engine made this dict for this hit alone (``user_metadata``): no second copy.
    metadata: dict[str, Any] = item.metadata
    if item.object is not None:
        metadata = {**metadata, MIRA_OBJECT_KEY: dataclasses.asdict(item.object)}
    return Document(id=item.id, page_content=item.document or "", metadata=metadata)


def documents(hits: Sequence[SearchHit]) -> list[Document]:
    """Hits as documents."""
    return [to_document(hit) for hit in hits]


def scored(hits: Sequence[SearchHit], mode: SearchMode | None = None) -> list[tuple[Document, float]]:
    """Hits as documents with their distance (lower is better) for a dense search, as
    langchain-chroma reports it; with the engine's final score (higher is better) otherwise.
    """
    if mode is SearchMode.DENSE:
        return [(to_document(hit), _distance(hit)) for hit in hits]
    return [(to_document(hit), hit.score) for hit in hits]


def relevant(
    hits: Sequence[SearchHit], relevance_score_fn: Callable[[float], float] | None = None
) -> list[tuple[Document, float]]:
    """Hits as documents with their relevance: ``relevance_score_fn(distance)`` when the store
    was given one (langchain-chroma's ``relevance_score_fn``) and the hit has a distance, else
    ``to_relevance``.
    """
    if relevance_score_fn is None:
        return [(to_document(hit), to_relevance(hit)) for hit in hits]
    return [
        (to_document(hit), to_relevance(hit) if hit.scores.distance is None else relevance_score_fn(_distance(hit)))
        for hit in hits
    ]


def _distance(hit: SearchHit) -> float:
    distance = hit.scores.distance
    return float("nan") if distance is None else distance


def to_relevance(hit: SearchHit) -> float:
    """LangChain's relevance of a hit: in ``[0, 1]``, 1 the most relevant, never negative.

    Relevance says how close a document is to the query, in the same units for every mode;
    the rank says where fusion and boosts put it. So:

    - a hybrid hit fused on absolute scales (``FusionMethod.ABSOLUTE``, the default): its
      fused score, in ``[0, 1]`` and on one scale in every query (``FusionConfig``), so a
      threshold keeps what the hybrid ranking ranks, lexical-only matches included;
    - another hit with a dense part (dense, MMR, hybrid fused per query): ``(1 + cosine) / 2``,
      clamped to ``[0, 1]``;
    - a keyword-only hit: ``bm25 / (1 + bm25)``, which keeps BM25's order in ``[0, 1)``;
    - anything else: 0.

    Scores fused per query (min-max's best is always ~1, an RRF score is about ``1/60``) and
    boost factors change the order of the results, not their relevance.
    """
    dense, lexical = hit.scores.dense, hit.scores.lexical
    if hit.scores.fusion is FusionMethod.ABSOLUTE and hit.scores.fused is not None:
        return min(1.0, max(0.0, hit.scores.fused))
    if dense is not None:
        return min(1.0, max(0.0, (1.0 + dense) / 2.0))
    if lexical is not None and lexical > 0:
        return lexical / (1.0 + lexical)
    return 0.0


def as_mode(value: object) -> SearchMode:
    """A ``SearchMode`` from itself or its value, or ``ConfigError`` listing the valid ones."""
    return enum_value(SearchMode, value, "mode")


# LangChain keyword -> engine ``HybridStore.search`` keyword.
_SEARCH_OPTIONS = {
    "filter": "where",
    "where_document": "where_document",
    "mode": "mode",
    "fusion": "fusion",
    "alpha": "alpha",
    "boosts": "boosts",
    "fetch_k": "fetch_k",
    "mmr_lambda": "mmr_lambda",
}


def search_options(
    k: int, options: Mapping[str, Any], *, mode: SearchMode = SearchMode.DENSE, fixed_mode: bool = False
) -> dict[str, Any]:
    """Engine search keywords from a LangChain search call's keywords.

    Args:
        k: results wanted.
        options: the call's ``**kwargs`` (``filter`` is the engine's ``where``).
        mode: the method's default mode.
        fixed_mode: the method decides the mode (``hybrid_search``): ``mode=`` is refused.

    Raises:
        ConfigError: for an unknown keyword (the message lists the valid ones) or mode.
    """
    allowed = sorted(_SEARCH_OPTIONS.keys() - ({"mode"} if fixed_mode else set()))
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        msg = f"unknown search option(s) {unknown}; valid options are {allowed}"
        raise ConfigError(msg)
    out: dict[str, Any] = {"k": k, "mode": mode}
    out.update({_SEARCH_OPTIONS[key]: value for key, value in options.items() if value is not None})
    out["mode"] = as_mode(out["mode"])
    return out


def fixed_options(k: int, options: Mapping[str, Any], mode: SearchMode) -> dict[str, Any]:
    """Engine search keywords for a method that decides the mode (``hybrid_search``)."""
    return search_options(k, options, mode=mode, fixed_mode=True)


def mmr_options(k: int, fetch_k: int, lambda_mult: float, options: Mapping[str, Any]) -> dict[str, Any]:
    """Engine search keywords for LangChain's ``max_marginal_relevance_search`` arguments.

    LangChain's default ``fetch_k`` (20) is below ``k`` for ``k > 20``: the engine then takes
    ``k`` candidates (it always takes at least ``k``).
    """
    return search_options(k, {**options, "fetch_k": fetch_k, "mmr_lambda": lambda_mult})


def needs_vector(query: str | None, options: Mapping[str, Any]) -> TypeGuard[str]:
    """Whether a search for ``query`` with these engine options embeds it (a blank query is
    refused by the engine before any embedding).
    """
    dense_side = options["mode"] is not SearchMode.LEXICAL or options.get("mmr_lambda") is not None
    return dense_side and isinstance(query, str) and bool(query.strip())


def check_metadatas(metadatas: Sequence[Mapping[str, Any] | None] | None) -> None:
    """Refuse metadata using the reserved ``mira_object`` key (it marks raw-object hits)."""
    for i, metadata in enumerate(metadatas or ()):
        if isinstance(metadata, Mapping) and MIRA_OBJECT_KEY in metadata:
            msg = (
                f"metadatas[{i}] uses the reserved key {MIRA_OBJECT_KEY!r}, which marks raw-object hits in "
                "results; rename it (or drop it when re-adding a Document a search returned)"
            )
            raise InvalidInputError(msg)


def write_request(
    texts: Iterable[str],
    metadatas: Sequence[Mapping[str, Any] | None] | None,
    ids: Sequence[str | None] | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Engine ``upsert`` keywords from LangChain's ``add_texts`` arguments.

    Missing ids (``None`` or ``""``, as ``Document.id`` allows) get uuid4 hex ids.

    Raises:
        ConfigError: for a keyword other than ``batch_size``.
        InvalidInputError: for a single str (texts, ids) or dict (metadatas) where a list is
            expected, or metadata using the reserved ``mira_object`` key.
    """
    # LangChain's indexing API passes batch_size; the engine sizes its own Chroma batches.
    unknown = sorted(set(extra) - {"batch_size"})
    if unknown:
        msg = f"unknown write option(s) {unknown}; add_texts/add_documents take texts, metadatas, ids"
        raise ConfigError(msg)
    text_list = check_list(texts, "texts", of="strings")
    metadata_list = None if metadatas is None else check_list(metadatas, "metadatas", of="dicts")
    check_metadatas(metadata_list)
    filled = None if ids is None else [i if i else uuid.uuid4().hex for i in check_list(ids, "ids", of="strings")]
    return {"texts": text_list, "ids": filled, "metadatas": metadata_list}


class SearchType(StrEnum):
    """LangChain's ``search_type`` values, plus ``hybrid`` and ``keyword``."""

    SIMILARITY = "similarity"
    SIMILARITY_SCORE_THRESHOLD = "similarity_score_threshold"
    MMR = "mmr"
    HYBRID = "hybrid"
    KEYWORD = "keyword"


_MODE_OF = {
    SearchType.SIMILARITY: SearchMode.DENSE,
    SearchType.SIMILARITY_SCORE_THRESHOLD: SearchMode.DENSE,
    SearchType.MMR: SearchMode.DENSE,
    SearchType.HYBRID: SearchMode.HYBRID,
    SearchType.KEYWORD: SearchMode.LEXICAL,
}
_RETRIEVER_KWARGS = ("k", "filter", "where_document", "fusion", "alpha", "boosts", "fetch_k", "score_threshold")


def parse_search_type(value: str) -> SearchType:
    """A ``SearchType`` from its string, or ``ConfigError`` listing the valid values."""
    return enum_value(SearchType, value, "search_type")


def retriever_fields(search_type: str, search_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``MiraRetriever`` fields from ``as_retriever``'s ``search_type`` and ``search_kwargs``.

    Raises:
        ConfigError: for an unknown search type or keyword, ``lambda_mult`` outside ``mmr``, or
            ``similarity_score_threshold`` without a numeric ``score_threshold``.
    """
    kind = parse_search_type(search_type)
    allowed = [*_RETRIEVER_KWARGS, "lambda_mult"] if kind is SearchType.MMR else list(_RETRIEVER_KWARGS)
    unknown = sorted(set(search_kwargs) - set(allowed))
    if unknown:
        msg = f"unknown search_kwargs {unknown} for search_type {kind.value!r}; valid keys are {allowed}"
        raise ConfigError(msg)
    fields = {key: value for key, value in search_kwargs.items() if key != "lambda_mult"}
    fields["mode"] = _MODE_OF[kind]
    if kind is SearchType.MMR:
        fields["mmr_lambda"] = search_kwargs.get("lambda_mult", 0.5)
    threshold = search_kwargs.get("score_threshold")
    if kind is SearchType.SIMILARITY_SCORE_THRESHOLD and (
        isinstance(threshold, bool) or not isinstance(threshold, (int, float))
    ):
        msg = (
            "search_type 'similarity_score_threshold' needs search_kwargs['score_threshold'] "
            f"(a relevance in [0, 1]), got {threshold!r}"
        )
        raise ConfigError(msg)
    return fields


def parse_boost_items(items: object) -> object:
    """Turn the dict forms in a list of boost rules into rule objects (others pass through).

    Raises:
        ConfigError: for a single rule or dict where a list is expected.
    """
    if isinstance(items, (Mapping, FieldBoost, ThresholdBoost, RecencyBoost)):
        kind = "dict" if isinstance(items, Mapping) else type(items).__name__
        msg = f"boosts must be a list of rules, got a single {kind}; wrap it in a list: boosts=[rule]"
        raise ConfigError(msg)
    if not isinstance(items, (list, tuple)):
        return items
    parsed: list[BoostRule | object] = []
    for item in items:
        # A rule's dict form is its JSON form; boosts_from_json validates the type tag and fields.
        parsed.append(boosts_from_json(json.dumps([dict(item)]))[0] if isinstance(item, Mapping) else item)
    return parsed

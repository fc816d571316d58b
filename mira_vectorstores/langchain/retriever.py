"""``MiraRetriever``: a LangChain retriever over ``MiraVectorStore`` with typed options."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from pydantic import ConfigDict, Field, InstanceOf, ValidationError, field_validator
from typing_extensions import override

from mira_vectorstores.engine import (
    ConfigError,
    FieldBoost,
    FusionMethod,
    MiraError,
    RecencyBoost,
    SearchMode,
    ThresholdBoost,
)
from mira_vectorstores.langchain import _convert
from mira_vectorstores.langchain.vectorstore import MiraVectorStore

# The search options a call may override: ``retriever.invoke("q", k=3, filter={...})``.
_OVERRIDABLE = (
    "k",
    "mode",
    "fusion",
    "alpha",
    "filter",
    "where_document",
    "boosts",
    "score_threshold",
    "fetch_k",
    "mmr_lambda",
)
#: Answers of the batch being run (query -> documents), found by ``_get_relevant_documents``.
_BATCH_ANSWERS: ContextVar[dict[str, list[Document]] | None] = ContextVar("mira_batch_answers", default=None)


class SearchFields(BaseRetriever):
    """The typed search options of this package's retrievers, checked as ``ConfigError``."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    k: int = Field(default=4, ge=1)
    """Documents returned (>= 1)."""
    mode: SearchMode = SearchMode.HYBRID
    """Dense, lexical (BM25), hybrid, or auto (hybrid for text)."""
    fusion: FusionMethod | None = None
    """How hybrid rankings fuse (absolute, weighted, tm2c2, rrf, dbsf); ``None``: the store's default."""
    alpha: float | None = Field(default=None, ge=0.0, le=1.0)
    """Weight of the dense side in fusion; ``None``: the store's default."""
    filter: dict[str, Any] | None = None
    """Metadata filter in Chroma's ``where`` grammar."""
    where_document: dict[str, Any] | None = None
    """Document filter in Chroma's ``where_document`` grammar."""
    boosts: list[InstanceOf[FieldBoost] | InstanceOf[ThresholdBoost] | InstanceOf[RecencyBoost]] | None = None
    """Boost rules (or their dict forms) replacing the store's defaults; ``[]`` for none."""
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """Drop documents whose relevance is below this."""
    fetch_k: int | None = Field(default=None, ge=1)
    """Candidates per side before fusion, boosts and MMR (at least ``k`` are taken); ``None``: the engine's default."""

    def __init__(self, **data: Any) -> None:
        """Validate the fields.

        Raises:
            ConfigError: for an unknown field or an invalid value (the message names the field
                and what it accepts).
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise config_error(exc, type(self)) from exc

    @field_validator("boosts", mode="before")
    @classmethod
    def _boost_dicts(cls, value: object) -> object:
        return _convert.parse_boost_items(value)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return _convert.as_mode(value)


class MiraRetriever(SearchFields):
    """Retrieves documents from a ``MiraVectorStore``; hybrid (dense + BM25) by default.

    Every search option is a typed field, and ``invoke(query, k=3, ...)`` overrides any of
    them for one call. ``score_threshold`` is a relevance in ``[0, 1]`` (see
    ``_convert.to_relevance``): it means the same in every mode. Setting ``mmr_lambda``
    re-ranks the candidates with maximal marginal relevance. An invalid field, at
    construction or in a call's overrides, raises ``ConfigError`` naming the field and what it
    accepts (not pydantic's ``ValidationError``).

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from mira_vectorstores.langchain import MiraRetriever, MiraVectorStore
        >>> store = MiraVectorStore(DeterministicFakeEmbedding(size=16))
        >>> _ = store.add_texts(["cats purr", "dogs bark", "birds sing"], ids=["c", "d", "b"])
        >>> retriever = MiraRetriever(vectorstore=store, mode="lexical")
        >>> [doc.id for doc in retriever.invoke("do cats purr?")]
        ['c']
        >>> len(MiraRetriever(vectorstore=store).invoke("cats", k=2))
        2
        >>> store.close()
    """

    vectorstore: MiraVectorStore
    """The store searched."""
    mmr_lambda: float | None = Field(default=None, ge=0.0, le=1.0)
    """Re-rank with MMR (1: relevance only, 0: diversity only); ``None``: no MMR."""

    def _for_call(self, overrides: dict[str, Any]) -> MiraRetriever:
        unknown = sorted(set(overrides) - set(_OVERRIDABLE))
        if unknown:
            msg = f"unknown retriever option(s) {unknown}; valid options are {list(_OVERRIDABLE)}"
            raise ConfigError(msg)
        if not overrides:
            return self
        return type(self)(**{**{name: getattr(self, name) for name in type(self).model_fields}, **overrides})

    def _search_kwargs(self) -> dict[str, Any]:
        names = ("mode", "fusion", "alpha", "filter", "where_document", "boosts", "fetch_k", "mmr_lambda")
        options = {name: getattr(self, name) for name in names}
        return {"score_threshold": self.score_threshold, **options}

    @override
    def batch(
        self,
        inputs: list[str],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[list[Document]]:
        """``invoke`` of each query, with their searches answered together by one engine
        ``search_batch`` (one embedding call, one FAISS call for the dense side); callbacks and
        configs run per query as in LangChain's ``batch``.
        """
        call = self._for_call(kwargs)
        try:
            answers = dict(zip(inputs, call._batch_documents(inputs), strict=True))
        except MiraError:
            if not return_exceptions:
                raise
            answers = {}  # each query fails (or not) on its own below
        token = _BATCH_ANSWERS.set(answers)
        try:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        finally:
            _BATCH_ANSWERS.reset(token)

    def _batch_documents(self, queries: list[str]) -> list[list[Document]]:
        options = self._search_kwargs()
        threshold = options.pop("score_threshold")
        engine_options = _convert.search_options(self.k, options, mode=self.mode)
        found = self.vectorstore.engine.search_batch(queries, **engine_options)
        relevance = self.vectorstore._relevance_score_fn
        return [
            [doc for doc, score in _convert.relevant(hits, relevance) if threshold is None or score >= threshold]
            for hits in found
        ]

    @override
    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        answers = _BATCH_ANSWERS.get()
        if answers and query in answers:
            return [doc.model_copy(deep=True) for doc in answers[query]]
        call = self._for_call(kwargs)
        pairs = call.vectorstore.similarity_search_with_relevance_scores(query, call.k, **call._search_kwargs())
        return [doc for doc, _ in pairs]

    @override
    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        call = self._for_call(kwargs)
        pairs = await call.vectorstore.asimilarity_search_with_relevance_scores(query, call.k, **call._search_kwargs())
        return [doc for doc, _ in pairs]


def config_error(exc: ValidationError, model: type[BaseRetriever]) -> MiraError:
    """The error an invalid retriever field raises: the package's own error raised by a
    validator (an unknown mode, say) as it is, else a ``ConfigError`` naming each bad field.
    """
    problems = []
    for error in exc.errors():
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, MiraError):
            return cause
        field = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown field {field!r} (valid fields: {sorted(model.model_fields)})")
        else:
            problems.append(f"{field}: {error['msg']}, got {error.get('input')!r}")
    msg = f"invalid {model.__name__}: {'; '.join(problems)}"
    return ConfigError(msg)

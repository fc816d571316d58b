"""The LangChain adapter (extra ``[langchain]``): ``MiraVectorStore``, ``MiraRetriever`` and
``MiraCollectionsRetriever`` (one ranking over several stores).

Both translate LangChain's types into ``mira_vectorstores.engine`` calls and back; ranking,
filtering and scoring live in the engine.
"""

from __future__ import annotations

from mira_vectorstores.langchain.collections import MiraCollectionsRetriever
from mira_vectorstores.langchain.retriever import MiraRetriever
from mira_vectorstores.langchain.vectorstore import MiraVectorStore

__all__ = ["MiraCollectionsRetriever", "MiraRetriever", "MiraVectorStore"]

"""mira_vectorstores: one hybrid store (Chroma + FAISS + BM25) for LangChain and LlamaIndex.

The package root re-exports the framework-free engine; the adapters live in
``mira_vectorstores.langchain`` and ``mira_vectorstores.llama_index``.
"""

from __future__ import annotations

from mira_vectorstores.engine import *  # noqa: F403 - the root's API is the engine's
from mira_vectorstores.engine import __all__ as _engine_all

__version__ = "0.1.0"
__all__ = [*_engine_all, "__version__"]

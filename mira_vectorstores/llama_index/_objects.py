"""Raw objects through LlamaIndex: the ``get_object`` / ``object_info`` half of ``MiraVectorStore``."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from llama_index.core.schema import BaseNode

from mira_vectorstores.engine import HybridStore, ObjectInfo


class RawObjectsMixin:
    """Reads the raw objects stored with ``client.put_object`` (the wrapped engine's)."""

    if TYPE_CHECKING:
        _engine: HybridStore

    def get_object(self, node: BaseNode | str, *, allow_pickle: bool = False) -> object:
        """The raw object stored (with ``client.put_object``) under this node's id, decoded.

        Args:
            node: a node from ``query`` / ``get_nodes``, or its id.
            allow_pickle: allow unpickling (it runs code: only for stores you trust).

        Raises:
            RecordNotFoundError: the node is not a raw object.
            CorruptedObjectError: the payload is missing or fails its sha256.
            UnsafeDeserializationError: a pickled object without ``allow_pickle=True``.
        """
        return self._engine.get_object(_node_id(node), allow_pickle=allow_pickle)

    async def aget_object(self, node: BaseNode | str, *, allow_pickle: bool = False) -> object:
        """``get_object`` without blocking the event loop."""
        return await asyncio.to_thread(partial(self._engine.get_object, _node_id(node), allow_pickle=allow_pickle))

    def object_info(self, node: BaseNode | str) -> ObjectInfo | None:
        """Content type, codec, size and sha256 of a node's raw object (``None``: not an object)."""
        records = self._engine.get([_node_id(node)])
        return records[0].object if records else None


def _node_id(node: BaseNode | str) -> str:
    return node if isinstance(node, str) else node.node_id

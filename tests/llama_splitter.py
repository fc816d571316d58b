"""A LlamaIndex node parser for tests: one node per non-empty line (an empty document gives none).

LlamaIndex's default splitter needs a tokenizer file, and its core tests patch theirs to split on
newlines; the compatibility and interop tests share this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.node_parser.node_utils import build_nodes_from_splits
from llama_index.core.schema import BaseNode


class LineSplitter(NodeParser):
    """One node per non-empty line; an empty document gives no node."""

    def _parse_nodes(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> list[BaseNode]:
        parsed: list[BaseNode] = []
        for node in nodes:
            lines = [line for line in node.get_content().split("\n") if line]
            parsed.extend(build_nodes_from_splits(lines, node, id_func=self.id_func))
        return parsed

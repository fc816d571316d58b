"""Option types and options several commands share (embedder, headers, JSON filters, boosts, ``--json``).

``click.ParamType`` is generic only from Click 8.4 (the package allows 8.1), so the types here
subclass it unparameterised (``type: ignore[type-arg]``).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass

import click

from mira_vectorstores.engine import BoostRule, ConfigError, MiniLMEmbedder, boosts_from_json


@dataclass(frozen=True)
class EmbedderChoice:
    """What ``--embedder`` names: ``minilm`` (with the backend that runs it), or ``hashing`` with a dimension."""

    kind: str = "minilm"
    dimension: int = 384
    backend: str = "auto"  # a MiniLMEmbedder backend: auto, fp32, onnx, onnx-int8 or torch

    def __str__(self) -> str:
        if self.kind == "hashing":
            return f"hashing:{self.dimension}"
        return _MINILM_SPELLINGS[self.backend]

    def minilm(self) -> MiniLMEmbedder:
        """The MiniLM embedder this choice names (its backend decides its name: int8 is named apart)."""
        return MiniLMEmbedder(backend=self.backend)


#: ``--embedder`` spelling of each MiniLM backend.
_MINILM_SPELLINGS = {
    "auto": "minilm",
    "fp32": "minilm-fp32",
    "onnx": "minilm-onnx",
    "onnx-int8": "minilm-int8",
    "torch": "minilm-torch",
}


def _minilm_backend(text: str) -> str | None:
    """The backend ``text`` names: a spelling above or a name stores record (``all-MiniLM-L6-v2[-int8]``)."""
    for backend, spelling in _MINILM_SPELLINGS.items():
        if text == spelling:
            return backend
    recorded = text.removeprefix("sentence-transformers/")
    # torch and ONNX fp32 share the name all-MiniLM-L6-v2 (same vectors; fp32 runs the faster); int8 has its own.
    for backend in ("fp32", "onnx-int8"):
        if recorded == MiniLMEmbedder(backend=backend).name.lower():
            return backend
    return None


class EmbedderParam(click.ParamType):  # type: ignore[type-arg]
    """``minilm`` (``minilm-int8``, ``minilm-fp32``, ``minilm-torch``, ``minilm-onnx``), ``hashing`` or ``hashing:DIM``;
    also the names stores record (``hashing-DIM``, ``all-MiniLM-L6-v2``, ``all-MiniLM-L6-v2-int8``),
    so an error message's name can be given as it is.
    """

    name = "EMBEDDER"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> EmbedderChoice:
        """Parse an embedder name."""
        if isinstance(value, EmbedderChoice):
            return value
        text = str(value).strip().lower()
        backend = _minilm_backend(text)
        if backend is not None:
            return EmbedderChoice(backend=backend)
        found = re.fullmatch(r"hashing(?:[:-]([1-9]\d{0,5}))?", text)
        if found:
            return EmbedderChoice("hashing", int(found.group(1) or 384))
        self.fail(
            f"{value!r} is not an embedder: use minilm, hashing or hashing:DIM (e.g. hashing:256); "
            "minilm-int8, minilm-fp32, minilm-torch and minilm-onnx choose how MiniLM runs",
            param,
            ctx,
        )


class HeaderParam(click.ParamType):  # type: ignore[type-arg]
    """``NAME=VALUE``."""

    name = "NAME=VALUE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, str]:
        """Split a header."""
        if isinstance(value, tuple):
            return value  # a pair already
        name, sep, text = str(value).partition("=")
        if not sep or not name.strip():
            self.fail(f"--header takes NAME=VALUE, got {value!r}", param, ctx)
        return name.strip(), text


class JsonObject(click.ParamType):  # type: ignore[type-arg]
    """A JSON object given as text (a filter), checked when the command line is read."""

    name = "JSON"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, object]:
        """Parse the JSON text."""
        if isinstance(value, dict):
            return value
        try:
            data = json.loads(str(value))
        except json.JSONDecodeError as exc:
            self.fail(f"not valid JSON ({exc.msg} at column {exc.colno}): {value}", param, ctx)
        if not isinstance(data, dict):
            self.fail(f'must be a JSON object such as \'{{"year": {{"$gte": 2020}}}}\', got: {value}', param, ctx)
        return data


class Boosts(click.ParamType):  # type: ignore[type-arg]
    """A JSON list of boost rules, as ``boosts_from_json`` reads them."""

    name = "JSON"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> list[BoostRule]:
        """Parse and check the rules."""
        if isinstance(value, list):
            return value
        try:
            return boosts_from_json(str(value))
        except json.JSONDecodeError as exc:
            self.fail(f"not valid JSON ({exc.msg} at column {exc.colno}): {value}", param, ctx)
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


class Text(click.ParamType):  # type: ignore[type-arg]
    """Text that is not empty or only whitespace (a query)."""

    name = "TEXT"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Check the text."""
        text = str(value)
        if not text.strip():
            self.fail("is empty; give the text to search for", param, ctx)
        return text


WHERE_HELP = 'Metadata filter (Chroma\'s where, JSON), e.g. \'{"year": {"$gte": 2020}}\'.'
WHERE_DOCUMENT_HELP = 'Document filter (JSON), e.g. \'{"$contains": "FAISS"}\'.'

where_option = click.option("--where", type=JsonObject(), help=WHERE_HELP)
where_document_option = click.option("--where-document", type=JsonObject(), help=WHERE_DOCUMENT_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr.  [default: when stderr is a terminal]",
)


def show_progress(flag: bool | None) -> bool:
    """Whether to draw a progress bar: ``--progress`` / ``--no-progress``, else when stderr is a terminal."""
    return sys.stderr.isatty() if flag is None else flag

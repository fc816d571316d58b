"""The error hierarchy: one base, and each leaf also inherits the matching builtin.

So ``except ValueError`` keeps working for callers that do not know this package, while
``except MiraError`` catches everything the store raises on purpose.
"""

from __future__ import annotations


class MiraError(Exception):
    """Base class of every error raised by mira_vectorstores on purpose."""


class ConfigError(MiraError, ValueError):
    """A configuration value or option is invalid (the message lists the valid ones)."""


class InvalidInputError(MiraError, ValueError):
    """A write or search argument is invalid; nothing was written."""


class DimensionMismatchError(InvalidInputError):
    """A vector has another dimension than the collection's."""


class FilterError(InvalidInputError):
    """A ``where`` / ``where_document`` filter is malformed (the message names the bad part)."""


class EmbeddingMismatchError(MiraError, ValueError):
    """The store was built with another embedder (name or dimension) than the one given."""


class RecordNotFoundError(MiraError, KeyError):
    """A record id that must exist does not."""

    def __str__(self) -> str:
        # KeyError quotes its argument; show the message as written.
        return str(self.args[0]) if self.args else ""


class IndexOutOfSyncError(MiraError, RuntimeError):
    """A mirror disagrees with Chroma in a way a reconcile could not repair."""


class StorageError(MiraError, RuntimeError):
    """Chroma refused or failed an operation."""


class StoreUnavailableError(StorageError, ConnectionError):
    """The Chroma server cannot be reached (the message names host and port)."""


class ObjectCodecError(MiraError, TypeError):
    """An object cannot be encoded or decoded with the chosen codec."""


class CorruptedObjectError(MiraError, ValueError):
    """A stored payload is missing or its sha256 no longer matches."""


class UnsafeDeserializationError(MiraError, PermissionError):
    """Reading a pickled object needs ``allow_pickle=True`` (unpickling runs code)."""


class StoreLockedError(MiraError, RuntimeError):
    """Another process holds the embedded store's folder open for writing.

    Attributes:
        pid: the holder's process id, when it could be read.
        path: the store's folder.
    """

    def __init__(self, message: str, *, pid: int | None, path: str) -> None:
        super().__init__(message)
        self.pid = pid
        self.path = path


class WriteOutcomeUnknownError(StoreUnavailableError):
    """The server failed during a write: some of its records may have landed.

    Whatever landed carries its stamp, so every process (the writer included) shows it once it
    catches up with the server; retrying the same write is safe (upserts are idempotent).
    """


class StoreCorruptedError(StorageError):
    """Chroma cannot read the collection (after an unclean shutdown, typically), or a repair
    could not recover every record; the message names the cause and the fix.

    Attributes:
        path: the store's folder.
        name: the collection.
        unrecovered: ids whose vector no surviving source holds (empty when not known).
    """

    def __init__(self, message: str, *, path: str, name: str, unrecovered: list[str] | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.name = name
        self.unrecovered = unrecovered or []

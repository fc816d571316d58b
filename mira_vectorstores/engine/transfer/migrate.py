"""Moving a store to another embedder: re-embed into a new collection, then switch atomically.

1. The target collection is ``<store name>--<embedder>``. Its state records the collection it is
   built from and a stamp ``since`` taken when the first run began (``migrating_from`` /
   ``migrating_since``), so a killed run resumes: records already in the target are skipped.
2. Records are copied in batches: text, metadata and raw objects as they are, vectors made by the
   new embedder (an unchanged text re-copied later is not embedded again).
3. The last pass holds this process's writes off: it copies what is new or changed since
   ``since`` (every write after it carries a later stamp) and deletes what the source lost.
4. The switch: the store's alias (``aliases.py``) now names the target, in one atomic write;
   this store object serves the target from then on, and every later open of the name does too.
   The source collection stays, untouched, until dropped (``HybridStore.drop_collection``).
5. On a server, other processes learn of the switch at their next catch-up and refuse writes
   from then on (``HybridStore._check_writable``); what they wrote to the old collection before
   that is copied over after two refresh intervals, unless the new collection holds a later version.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import xxhash
from tqdm import tqdm

from mira_vectorstores.engine import reserved
from mira_vectorstores.engine.config import SERVER_REFRESH_INTERVAL
from mira_vectorstores.engine.embeddings import Embedder
from mira_vectorstores.engine.errors import ConfigError
from mira_vectorstores.engine.mirrors import catch_up
from mira_vectorstores.engine.storage.aliases import Alias
from mira_vectorstores.engine.transfer import operations
from mira_vectorstores.engine.types import MigrationReport

if TYPE_CHECKING:
    from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
    from mira_vectorstores.engine.replica import Replica
    from mira_vectorstores.engine.storage.objects import ObjectStore
    from mira_vectorstores.engine.store import HybridStore

FROM, SINCE = "migrating_from", "migrating_since"


def target_name(name: str, embedder: str) -> str:
    """The collection a migration of store ``name`` to ``embedder`` builds."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", embedder.rsplit("/", 1)[-1]).strip("-._")[:60]
    suffix = xxhash.xxh3_64_hexdigest(embedder.encode())[:6]  # two embedders of one slug stay apart
    return f"{name[:400]}--{slug or 'embedder'}-{suffix}"


def migrate(store: HybridStore, new_embedder: Embedder, *, batch_size: int, progress: bool) -> MigrationReport:
    """What ``HybridStore.migrate_embeddings`` does (module docstring)."""
    started = time.perf_counter()
    _check(store, new_embedder, batch_size)
    source = store.collection
    target = store._sibling(target_name(store.name, new_embedder.name), new_embedder)
    try:
        # Embedded and in memory, this process stamps every write, each later than the last; on a
        # server, another writer's stamp may lag behind its write by up to the catch-up window.
        window = catch_up.WINDOW if store._replica.shared else 0
        since = _begin(target, source, store._replica.high_water - window)
        reused = target.count()
        copied = _first_pass(store, target, batch_size, progress=progress)
        with store._writer:  # the last pass and the switch: no write of this process between them
            if store._replica.shared:
                store.refresh()
            last = store._replica.high_water - window
            copied.update(_last_pass(store, target, since, batch_size))
            old, old_objects = store._adopt(target, Alias(store.name, target.collection, source, new_embedder.name))
    except BaseException:
        if not target.closed:
            target.close()
        raise
    try:
        if old.shared:
            copied.update(_trail(old, old_objects, store, last, batch_size))
    finally:
        old.close()
    state = store._replica.storage.state()
    store._replica.storage.set_state({k: v for k, v in state.items() if k not in (FROM, SINCE)})
    return MigrationReport(
        name=store.name,
        source=source,
        target=store.collection,
        embedder=new_embedder.name,
        embedded=len(copied),
        reused=reused,
        seconds=time.perf_counter() - started,
        switched=True,
    )


def _check(store: HybridStore, new_embedder: Embedder, batch_size: int) -> None:
    methods = ("embed_documents", "embed_query")
    if not all(callable(getattr(new_embedder, m, None)) for m in methods) or not isinstance(
        getattr(new_embedder, "name", None), str
    ):
        msg = f"new_embedder must be an Embedder (name, dimension, embed_documents, embed_query), got {new_embedder!r}"
        raise ConfigError(msg)
    if store.embedder is not None and store.embedder.name == new_embedder.name:
        msg = f"store {store.name!r} already uses embedder {new_embedder.name!r}; nothing to migrate"
        raise ConfigError(msg)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        msg = f"batch_size must be an int >= 1, got {batch_size!r}"
        raise ConfigError(msg)
    with store._frozen() as mirrors:
        if mirrors is None:
            return
        docs = mirrors.records.docs
        textless = [i for i, row in mirrors.records.row_of.items() if docs[row] is None]
    if textless:
        msg = (
            f"store {store.name!r} has {len(textless)} records without text (e.g. {textless[0]!r}): a new "
            "embedder cannot embed them again; give them texts (update) or delete them first"
        )
        raise ConfigError(msg)


def _begin(target: HybridStore, source: str, since: int) -> int:
    """The stamp the migration copies changes after: the one recorded by an earlier run, or ``since``."""
    storage = target._replica.storage
    state = storage.state()
    if state.get(FROM) is None:
        if target.count():
            msg = (
                f"collection {target.collection!r} exists and was not made by a migration of {source!r}; "
                f"drop it first (HybridStore.drop_collection({target.collection!r}))"
            )
            raise ConfigError(msg)
        storage.set_state({**state, FROM: source, SINCE: since})
        return since
    if state[FROM] != source:
        msg = f"collection {target.collection!r} is being built from {state[FROM]!r}, not {source!r}; drop it first"
        raise ConfigError(msg)
    recorded = state.get(SINCE)
    return recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else 0


def _first_pass(store: HybridStore, target: HybridStore, batch_size: int, *, progress: bool) -> set[str]:
    """Copy every record the target lacks, a batch at a time (writes go on between batches)."""
    with store._frozen() as mirrors:
        todo = [] if mirrors is None else list(mirrors.records.row_of)
    done = target._live_ids()
    todo = [i for i in todo if i not in done]
    copied: set[str] = set()
    with tqdm(total=len(todo), unit="rec", desc="migrate", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            copied.update(_copy(store, target, batch))
            bar.update(len(batch))
    return copied


def _last_pass(store: HybridStore, target: HybridStore, since: int, batch_size: int) -> set[str]:
    """Copy what is new or changed since ``since`` and delete what the source lost (the caller
    holds the source's writes off).
    """
    with store._frozen() as mirrors:
        live = {} if mirrors is None else mirrors.records.row_of
        metas = None if mirrors is None else mirrors.records.metas
        done = target._live_ids()
        changed = [i for i, row in live.items() if i not in done or _stamp(metas, row) > since]
        gone = [i for i in done if i not in live]
    copied: set[str] = set()
    for start in range(0, len(changed), batch_size):
        copied.update(_copy(store, target, changed[start : start + batch_size]))
    if gone:
        target.delete(gone)
    return copied


def _copy(store: HybridStore, target: HybridStore, ids: Sequence[str]) -> list[str]:
    """Copy these records (those still live) into the target, embedded by its embedder (a text the
    target holds already is not embedded again); returns the ids copied.
    """
    with store._frozen() as mirrors:
        if mirrors is None:
            return []
        rows = [operations.source_row(store.objects, mirrors, i) for i in ids if i in mirrors.records.row_of]
    operations.write_rows(target, rows, reembed=True)
    return [r.id for r in rows]


def _trail(old: Replica, objects: ObjectStore, store: HybridStore, since: int, batch_size: int) -> list[str]:
    """On a server, the writes other processes made to the old collection after the last pass,
    before they learnt of the switch (at their next catch-up: ``HybridStore.refresh``), copied
    over, unless the new collection holds a later version; returns the ids copied.
    """
    time.sleep(2 * (store.config.refresh_interval or SERVER_REFRESH_INTERVAL) + 0.5)
    old.catch_up()
    mirrors, target = old.mirrors, store._replica.mirrors
    if mirrors is None or target is None:
        return []
    rows, metas = mirrors.records.row_of, mirrors.records.metas
    newer = [i for i, row in rows.items() if _stamp(metas, row) > max(since, _stamp_of(target, i))]
    deleted = [i for i, stamp in old.storage.tombstones_after(since) if i not in rows and stamp > _stamp_of(target, i)]
    copied: list[str] = []
    for start in range(0, len(newer), batch_size):
        batch = [operations.source_row(objects, mirrors, i) for i in newer[start : start + batch_size]]
        operations.write_rows(store, batch, reembed=True)
        copied += [r.id for r in batch]
    if deleted:
        store.delete(deleted)
    return copied


def _stamp_of(mirrors: Mirrors, record_id: str) -> int:
    row = mirrors.records.row_of.get(record_id)
    return 0 if row is None else _stamp(mirrors.records.metas, row)


def _stamp(metas: Sequence[dict[str, object]] | None, row: int) -> int:
    value = None if metas is None else metas[row].get(reserved.STAMP)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

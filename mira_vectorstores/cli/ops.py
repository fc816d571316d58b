"""Looking after stores: stats, collections, export / import, backup / restore, migrate, doctor."""

from __future__ import annotations

from pathlib import Path

import click

from mira_vectorstores.cli.app import (
    CliFailure,
    Settings,
    cli,
    confirm,
    examples,
    open_store,
    shared_options,
    store_exists,
)
from mira_vectorstores.cli.output import emit, emit_json, emit_table, note, plural
from mira_vectorstores.cli.params import (
    EmbedderChoice,
    EmbedderParam,
    json_option,
    progress_option,
    show_progress,
    where_option,
    yes_option,
)
from mira_vectorstores.engine import CollectionInfo, HybridStore


@cli.command(epilog=examples("mira-vs stats --name notes", "mira-vs --host localhost --port 8000 stats --json"))
@json_option
@shared_options
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """What a store holds and how it is doing: records, embedder, index, disk use and health."""
    with open_store(settings) as store:
        report = store.stats().as_dict()
    emit(report, as_json=as_json)


def _collections(settings: Settings) -> list[CollectionInfo]:
    if settings.host is None and not Path(settings.path).is_dir():
        msg = f"no store folder {settings.path}; create a store with `{settings.command('ingest FILE')}`"
        raise CliFailure(msg)
    return HybridStore.collections(**settings.place)


@cli.group(
    invoke_without_command=True,
    epilog=examples("mira-vs collections", "mira-vs --path ./data collections --json", "mira-vs collections drop old"),
)
@json_option
@shared_options
@click.pass_context
def collections(ctx: click.Context, as_json: bool) -> None:
    """List the collections of the folder (or server): records, embedder, and the store name that
    opens each after a migration. 'collections drop NAME' drops one.
    """
    if ctx.invoked_subcommand is not None:
        return
    found = _collections(ctx.ensure_object(Settings))
    if as_json:
        emit_json([info.as_dict() for info in found])
    elif found:
        emit_table(
            ["name", "records", "embedder", "opened as"], [(i.name, i.records, i.embedder, i.alias) for i in found]
        )
    else:
        note("no collections")


@collections.command("drop", epilog=examples("mira-vs collections drop notes", "mira-vs collections drop notes --yes"))
@click.argument("collection", metavar="NAME")
@yes_option
@shared_options
@click.pass_obj
def drop(settings: Settings, collection: str, yes: bool) -> None:
    """Drop a collection and its records, by its own name (as the collections command lists it)."""
    found = _collections(settings)
    info = next((i for i in found if i.name == collection), None)
    if info is None:
        alias = next((i.name for i in found if i.alias == collection), None)
        opens = f"; store {collection!r} opens collection {alias!r}" if alias else ""
        msg = f"no collection {collection!r} in {settings.where()}{opens} (see `{settings.command('collections')}`)"
        raise CliFailure(msg)
    if not yes:
        confirm(f"Drop collection {collection!r} and its {plural(info.records, 'record')}?", refused="nothing dropped")
    HybridStore.drop_collection(collection, **settings.place)
    click.echo(f"dropped collection {collection!r} ({plural(info.records, 'record')})")


@cli.command(
    epilog=examples(
        "mira-vs export notes.parquet --name notes", "mira-vs export recent.jsonl --where '{\"year\": 2025}'"
    )
)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@where_option
@json_option
@progress_option
@shared_options
@click.pass_obj
def export(
    settings: Settings, file: Path, where: dict[str, object] | None, as_json: bool, progress: bool | None
) -> None:
    """Write a store's records (texts, metadata, vectors, raw objects) to a .parquet or .jsonl file."""
    with open_store(settings) as store:
        report = store.export(file, where=where, progress=show_progress(progress))
    emit(report.as_dict(), as_json=as_json)


@cli.command(
    "import", epilog=examples("mira-vs import notes.parquet --name notes", "mira-vs import old.jsonl --reembed")
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--reembed", is_flag=True, help="Embed the texts again with --embedder (the file's vectors are another's)."
)
@json_option
@progress_option
@shared_options
@click.pass_obj
def import_(settings: Settings, file: Path, reembed: bool, as_json: bool, progress: bool | None) -> None:
    """Upsert the records of an export file into a store (creates the store).

    A file made with another embedder is refused unless --reembed.
    """
    existed = store_exists(settings, settings.name)
    with open_store(settings, create=True) as store:
        try:
            report = store.import_(file, reembed=reembed, progress=show_progress(progress))
        except BaseException:
            if not existed and store.count() == 0:
                store.drop()  # made by this command for a file it refused: leave nothing behind
            raise
    emit(report.as_dict(), as_json=as_json)


@cli.command(epilog=examples("mira-vs backup backups/notes-2026-01-01 --name notes"))
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@json_option
@progress_option
@shared_options
@click.pass_obj
def backup(settings: Settings, folder: Path, as_json: bool, progress: bool | None) -> None:
    """Copy a store, consistent at one point in time, to a new (or empty) folder."""
    with open_store(settings) as store:
        report = store.backup(folder, progress=show_progress(progress))
    emit(report.as_dict(), as_json=as_json)


@cli.command(epilog=examples("mira-vs restore backups/notes-2026-01-01", "mira-vs restore backups/x --name copy"))
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace a store of that name that holds records.")
@json_option
@progress_option
@shared_options
@click.pass_obj
def restore(settings: Settings, folder: Path, overwrite: bool, as_json: bool, progress: bool | None) -> None:
    """Restore a backup as a store: named as backed up, or --name."""
    store = HybridStore.restore(
        folder,
        settings.name if "name" in settings.given else None,
        **settings.place,
        embedder=settings.build_embedder(),
        overwrite=overwrite,
        progress=show_progress(progress),
    )
    with store:
        emit({"name": store.name, "records": store.count(), "source": str(folder)}, as_json=as_json)


@cli.command(
    epilog=examples("mira-vs migrate --to hashing:256 --name notes", "mira-vs --embedder hashing migrate --to minilm")
)
@click.option("--to", "target", type=EmbedderParam(), required=True, help="The new embedder.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True, help="Records per batch.")
@json_option
@progress_option
@shared_options
@click.pass_obj
def migrate(settings: Settings, target: EmbedderChoice, batch_size: int, as_json: bool, progress: bool | None) -> None:
    """Re-embed a store with another embedder (open it with its current one: --embedder).

    The records are embedded into a new collection, which the store name then opens; a run that
    was interrupted resumes where it stopped. The old collection stays until dropped.
    """
    with open_store(settings) as store:
        embedder = settings.build_embedder(target)
        report = store.migrate_embeddings(embedder, batch_size=batch_size, progress=show_progress(progress))
    emit(report.as_dict(), as_json=as_json)
    if report.switched and not as_json:
        note(
            f"open {report.name!r} with --embedder {target} (or MIRA_VS_EMBEDDER={target}) from now on; "
            f"drop the old collection with `{settings.command(f'collections drop {report.source}')}`"
        )


@cli.command(epilog=examples("mira-vs doctor --name notes", "mira-vs doctor --repair --json"))
@click.option("--repair", is_flag=True, help="Fix what can be fixed (mirrors, orphaned payloads).")
@json_option
@shared_options
@click.pass_obj
def doctor(settings: Settings, repair: bool, as_json: bool) -> None:
    """Check that Chroma, the mirrors and the raw objects agree; exit code 1 when problems remain."""
    with open_store(settings) as store:
        report = store.doctor(repair=repair)
    emit(report.as_dict(), as_json=as_json)
    if not report.ok:
        hint = "" if repair else f"; fix them with `{settings.command(f'doctor --repair --name {settings.name}')}`"
        msg = f"{settings.name!r} has problems{hint}"
        raise CliFailure(msg)

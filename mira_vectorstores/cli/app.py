"""The ``mira-vs`` group: the options every command shares, opening a store, and the one error handler.

Every command carries the shared options too (``shared_options``), so they may come before or
after the command name; each value given lands in one ``Settings`` object (``ctx.obj``), the
command's after the group's, so a value given after the command wins.
"""

from __future__ import annotations

import logging
import shlex
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from mira_vectorstores import __version__
from mira_vectorstores.cli.params import EmbedderChoice, EmbedderParam, HeaderParam
from mira_vectorstores.engine import (
    CachedEmbedder,
    Embedder,
    EmbeddingMismatchError,
    HashingEmbedder,
    HybridStore,
    MiraError,
    ServerConfig,
    StorageError,
    StoreLockedError,
)

DEFAULT_PATH = "./mira_data"
F = TypeVar("F", bound=Callable[..., object])
_HINTS: dict[type[MiraError], str] = {
    EmbeddingMismatchError: (
        "mira-vs: pass the store's embedder with --embedder (minilm, hashing:DIM or the name above), "
        "or re-embed the store with mira-vs migrate --to EMBEDDER"
    ),
    StoreLockedError: "mira-vs: with the folder served by chroma run, pass --host localhost --port 8000",
}


class CliFailure(click.ClickException):
    """A failure the command line reports itself (exit code 1), e.g. a store that does not exist."""

    exit_code = 1


@dataclass
class Settings:
    """The shared options of one invocation (the defaults until an option is given)."""

    path: str = DEFAULT_PATH
    name: str = "mira"
    host: str | None = None
    port: int = 8000
    ssl: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    tenant: str = "default_tenant"
    database: str = "default_database"
    embedder: EmbedderChoice = field(default_factory=EmbedderChoice)
    debug: bool = False
    #: the options given on the command line (an environment variable does not override them)
    given: set[str] = field(default_factory=set)

    def take(self, name: str, value: object, source: ParameterSource | None) -> None:
        """Record an option's value unless it is the default, or the environment's under a given one."""
        if source in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
            return
        if source is not ParameterSource.COMMANDLINE and name in self.given:
            return
        if name == "header":
            self.headers.update(dict(value))  # type: ignore[call-overload]  # pairs from HeaderParam
        else:
            setattr(self, name, value)
        if source is ParameterSource.COMMANDLINE:
            self.given.add(name)

    @property
    def server(self) -> ServerConfig | None:
        """The server's connection settings (``None`` for an embedded store)."""
        if self.host is None:
            return None
        return ServerConfig(ssl=self.ssl, headers=self.headers, tenant=self.tenant, database=self.database)

    @property
    def place(self) -> dict[str, Any]:
        """Where the stores live, as ``HybridStore``'s keyword arguments (``path``, ``host``, ``port``, ``server``)."""
        return {"path": self.path, "host": self.host, "port": self.port, "server": self.server}

    def where(self) -> str:
        """Where the stores live, for messages."""
        if self.host is None:
            return f"the folder {self.path}"
        return f"the server {self.host}:{self.port} (tenant {self.tenant}, database {self.database})"

    def command(self, rest: str) -> str:
        """A ``mira-vs`` command line for a hint, with the location options this one used."""
        if self.host is not None:
            location = f"--host {shlex.quote(self.host)} --port {self.port} "
        else:
            location = "" if self.path == DEFAULT_PATH else f"--path {shlex.quote(self.path)} "
        return f"mira-vs {location}{rest}"

    def build_embedder(self, choice: EmbedderChoice | None = None) -> Embedder:
        """The embedder ``choice`` names (default ``--embedder``); MiniLM is cached on disk for an embedded store."""
        choice = choice or self.embedder
        if choice.kind == "hashing":
            return HashingEmbedder(choice.dimension)
        if self.host is not None:
            return choice.minilm()
        return CachedEmbedder(choice.minilm(), path=Path(self.path) / "mira" / "embedding-cache.sqlite")


def _remember(ctx: click.Context, param: click.Parameter, value: object) -> None:
    name = param.name or ""
    settings = ctx.ensure_object(Settings)
    settings.take(name, value, ctx.get_parameter_source(name))
    if name == "debug" and settings.debug:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("mira_vectorstores").setLevel(logging.DEBUG)


def _shared(*decls: str, **attrs: Any) -> Callable[[F], F]:
    return click.option(*decls, callback=_remember, expose_value=False, **attrs)


_SHARED_OPTIONS = (
    _shared("--path", metavar="DIR", default=DEFAULT_PATH, show_default=True, help="Folder of the embedded stores."),
    _shared("--name", metavar="NAME", default="mira", show_default=True, help="The store (a Chroma collection)."),
    _shared("--host", metavar="HOST", help="A Chroma server (chroma run) instead of the embedded folder."),
    _shared(
        "--port",
        metavar="PORT",
        type=click.IntRange(1, 65535),
        default=8000,
        show_default=True,
        help="The server's port.",
    ),
    _shared("--ssl", is_flag=True, help="HTTPS to the server."),
    _shared("--header", type=HeaderParam(), multiple=True, help="Sent with every request (token auth); repeatable."),
    _shared("--tenant", metavar="TENANT", default="default_tenant", show_default=True, help="The server's tenant."),
    _shared("--database", metavar="DB", default="default_database", show_default=True, help="The server's database."),
    _shared(
        "--embedder",
        type=EmbedderParam(),
        default="minilm",
        envvar="MIRA_VS_EMBEDDER",
        show_envvar=True,
        show_default=True,
        help=(
            "The store's embedder: minilm (the bundled all-MiniLM-L6-v2: int8 for a new store, an existing "
            "store's own kind; minilm-int8 / minilm-fp32 / minilm-torch / minilm-onnx choose), "
            "or hashing / hashing:DIM (no model)."
        ),
    ),
    _shared("--debug", is_flag=True, help="Show tracebacks and debug logs."),
)


def shared_options(command: F) -> F:
    """Add the shared options (``--path``, ``--name``, server, ``--embedder``, ``--debug``) to a command."""
    for option in reversed(_SHARED_OPTIONS):
        command = option(command)
    return command


def examples(*lines: str) -> str:
    """An ``epilog`` of example command lines, which ``--help`` prints as written (not re-wrapped)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


@click.group(
    invoke_without_command=True,  # no command: the help, with exit code 0
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=examples(
        "mira-vs demo --sample",
        "mira-vs ingest docs/ --name notes",
        'mira-vs search "vector databases" --name notes -k 5',
        "mira-vs COMMAND --help",
    ),
)
@click.version_option(__version__, "--version", prog_name="mira-vs", message="%(prog)s %(version)s")
@shared_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """mira-vs: a hybrid vector store (Chroma + FAISS + BM25) on the command line.

    The options below may also come after the command name; a value given there wins.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def open_store(settings: Settings, *, create: bool = False, name: str | None = None) -> HybridStore:
    """Open the store ``--name`` (or ``name``); one that does not exist is an error unless ``create``.

    Raises:
        CliFailure: when the store does not exist (naming where, and how to create one).
    """
    name = name or settings.name
    if settings.host is None and not create and not Path(settings.path).is_dir():
        raise CliFailure(_missing_message(settings, name))
    try:
        return HybridStore(name, **settings.place, embedder=settings.build_embedder(), create=create)
    except StorageError as exc:
        if create or store_exists(settings, name):
            raise
        raise CliFailure(_missing_message(settings, name)) from exc


def store_exists(settings: Settings, name: str) -> bool:
    """Whether store ``name`` exists (``True`` when that cannot be told: the caller's error stands)."""
    if settings.host is None and not Path(settings.path).is_dir():
        return False
    try:
        found = HybridStore.collections(**settings.place)
    except MiraError:
        return True
    return any(name in (info.name, info.alias) for info in found)


def _missing_message(settings: Settings, name: str) -> str:
    return (
        f"store {name!r} does not exist in {settings.where()}; list the stores there with "
        f"`{settings.command('collections')}`, or create one with `{settings.command(f'ingest FILE --name {name}')}`"
    )


def confirm(question: str, *, refused: str) -> None:
    """Ask on stderr; anything but yes stops the command.

    Raises:
        CliFailure: ``refused``, when the answer is not yes (or stdin has none).
    """
    try:
        agreed = click.confirm(question, err=True)
    except click.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        agreed = False
    if not sys.stdin.isatty():
        click.echo(err=True)  # the answer was not echoed: end the question's line
    if not agreed:
        msg = f"{refused}: not confirmed (answer y, or pass --yes)"
        raise CliFailure(msg)


def run(argv: Sequence[str] | None = None) -> int:
    """Run ``mira-vs`` and turn every expected failure into one ``error:`` line on stderr.

    Exit codes: 0 success, 1 a failure (any ``MiraError``, ``OSError``, a refused prompt), 2 a
    usage error (an unknown option, a bad value), 130 interrupted. ``--debug`` adds the traceback.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    settings = Settings()
    try:
        result = cli.main(
            None if argv is None else list(argv), prog_name="mira-vs", standalone_mode=False, obj=settings
        )
    except click.Abort as exc:  # Click's form of KeyboardInterrupt / EOFError
        if _interrupted(exc):
            return _fail(settings, exc, "interrupted", 130)
        return _fail(settings, exc, "aborted", 1)
    except KeyboardInterrupt as exc:
        return _fail(settings, exc, "interrupted", 130)
    except click.UsageError as exc:
        see = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
        return _fail(settings, exc, exc.format_message() + see, exc.exit_code)
    except click.ClickException as exc:
        return _fail(settings, exc, exc.format_message(), exc.exit_code)
    except (MiraError, OSError) as exc:
        if _interrupted(exc):  # raised while unwinding from Ctrl-C (closing the store): still an interrupt
            return _fail(settings, exc, "interrupted", 130)
        hint = next((text for kind, text in _HINTS.items() if isinstance(exc, kind)), None)
        return _fail(settings, exc, f"{exc} ({hint})" if hint else str(exc), 1)
    return result if isinstance(result, int) else 0


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a ``KeyboardInterrupt`` was being handled."""
    seen: BaseException | None = exc.__context__
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__context__
    return False


def _fail(settings: Settings, exc: BaseException, message: str, code: int) -> int:
    if settings.debug:
        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"error: {' '.join(message.split())}", err=True)
    return code

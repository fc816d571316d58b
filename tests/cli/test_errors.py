"""Errors: one ``error:`` line on stderr, exit 2 for usage errors, 1 for failures, 130 when interrupted;
a traceback only with --debug. Also the installed ``mira-vs`` script and every command's --help.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from cli_runner import Cli, cli_env, ingest_in_process

import mira_vectorstores
from mira_vectorstores.cli import cli as group
from mira_vectorstores.cli import main

USAGE_ERRORS = {
    "unknown option": (["search", "x", "--bogus"], "No such option '--bogus'"),
    "unknown command": (["serch", "x"], "No such command 'serch'"),
    "bad JSON in --where": (["search", "x", "--where", "{year: 1}"], "Invalid value for '--where': not valid JSON"),
    "--where not an object": (["get", "--where", "[1]"], "Invalid value for '--where': must be a JSON object"),
    "k 0": (["search", "x", "-k", "0"], "Invalid value for '-k': 0 is not in the range x>=1"),
    "empty query": (["search", "  "], "Invalid value for 'QUERY': is empty"),
    "missing file": (["ingest", "nope.txt"], "Invalid value for 'PATHS...': Path 'nope.txt' does not exist"),
    "missing import file": (["import", "nope.parquet"], "Invalid value for 'FILE': File 'nope.parquet' does not exist"),
    "bad embedder": (["--embedder", "bert", "stats"], "'bert' is not an embedder: use minilm, hashing or hashing:DIM"),
    "bad header": (["stats", "--header", "no-equals"], "--header takes NAME=VALUE, got 'no-equals'"),
    "bad boost rule": (["search", "x", "--boost", '[{"type": "nope"}]'], "boost rule type must be one of"),
    "delete without ids": (["delete"], "give the ids to delete, --where or --where-document"),
    "overlap >= size": (["ingest", ".", "--chunk-size", "50", "--chunk-overlap", "50"], "--chunk-overlap"),
    "bad eval modes": (["eval", ".", "--modes", "dense,bm25"], "Invalid value for '--modes'"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_exit_2_with_one_line(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    args, expected = USAGE_ERRORS[case]
    assert main(args) == 2  # the entry point itself, in-process: one process per case costs ~1.5 s
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    assert expected in err
    assert err.rstrip().endswith("--help)")  # names where to look


def test_a_usage_error_is_one_line_from_the_real_process(cli: Cli) -> None:
    run = cli.run("search", "x", "--where", "{year: 1}")
    assert "Invalid value for '--where': not valid JSON" in run.failed(2)


@pytest.fixture(scope="module")
def store(workdir: Path) -> str:
    (workdir / "one.txt").write_text("the only record", encoding="utf-8")
    ingest_in_process(workdir, "errors", workdir / "one.txt")
    return "errors"


def test_a_mistyped_store_name_is_a_failure_naming_how_to_create_one(cli: Cli, store: str) -> None:
    line = cli.run("search", "x", "--name", "erors").failed(1)
    assert "store 'erors' does not exist in the folder ./mira_data" in line
    assert "`mira-vs collections`" in line
    assert "`mira-vs ingest FILE --name erors`" in line


def test_bad_filter_operator_and_embedder_mismatch_are_failures(cli: Cli, store: str) -> None:
    bad_operator = cli.run("search", "x", "--name", store, "--where", '{"n": {"$between": [1, 2]}}')
    assert "unknown operator '$between'" in bad_operator.failed(1)
    mismatch = cli.run("search", "x", "--name", store, "--embedder", "hashing:64")
    line = mismatch.failed(1)
    assert "--embedder" in line
    assert "mira-vs migrate" in line


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "search", "x", "--path", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)")
    assert "in open_store" in err
    assert err.splitlines()[-1].startswith("error: store 'mira' does not exist in the folder")
    assert not (tmp_path / "nowhere").exists()  # a read creates nothing


def test_a_locked_store_fails_and_ctrl_c_exits_130(cli: Cli, store: str) -> None:
    waiting = cli.start("delete", "--where", '{"source": "one.txt"}', "--name", store, stdin=True)
    assert waiting.stderr is not None
    question = ""
    deadline = time.monotonic() + 60
    while "[y/N]" not in question and time.monotonic() < deadline:
        char = waiting.stderr.read(1)
        if not char:  # it exited instead of asking
            break
        question += char
    assert "Delete 1 record from 'errors'? [y/N]" in question
    try:
        locked = cli.run("get", "--name", store)  # the prompt holds the embedded folder
        line = locked.failed(1)
        assert f"is open in another process (pid {waiting.pid})" in line
        assert "--host localhost --port 8000" in line
    finally:
        waiting.send_signal(signal.SIGINT)
        out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 130, err
    assert err.strip().splitlines()[-1] == "error: interrupted", err
    assert "Traceback" not in err
    assert "deleted" not in out


def test_the_installed_script_runs() -> None:
    script = Path(sys.executable).parent / "mira-vs"
    version = subprocess.run([script, "--version"], capture_output=True, text=True, env=cli_env(), check=False)
    assert version.returncode == 0
    assert version.stdout == f"mira-vs {mira_vectorstores.__version__}\n"
    assert version.stderr == ""


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("Usage: mira-vs [OPTIONS] [COMMAND] [ARGS]...")
    for command in group.commands:
        assert f"  {command} " in listing
    assert main([]) == 0
    assert capsys.readouterr().out == listing


def _all_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = [("mira-vs", group)]
    for name, command in group.commands.items():
        found.append((f"mira-vs {name}", command))
        if isinstance(command, click.Group):
            found.extend((f"mira-vs {name} {sub}", c) for sub, c in command.commands.items())
    return found


@pytest.mark.parametrize(("path", "command"), _all_commands(), ids=[p for p, _ in _all_commands()])
def test_every_help_has_an_example_and_no_markup(path: str, command: click.Command) -> None:
    with click.Context(command, info_name=path) as ctx:
        text = command.get_help(ctx)
    examples = text.split("Examples:\n", 1)[1].splitlines()
    assert examples
    assert all(line.startswith("    mira-vs") for line in examples)  # as written: not re-wrapped
    assert "``" not in text
    assert "--path DIR" in text  # the shared options, on every command
    assert "--embedder" in text

"""Reading files into documents (``cli/sources.py``), in-process: every format, skips and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mira_vectorstores.cli.sources import Columns, SourceError, SourceFile, count, discover, read


def docs_of(path: Path, columns: Columns | None = None) -> list[tuple[str, str, dict[str, object]]]:
    source = SourceFile(path, path.name)
    found = [(d.id, d.text, d.metadata) for d in read(source, columns or Columns())]
    assert count(source) == len(found)
    return found


def test_discover_walks_folders_in_order_and_skips_hidden_and_unknown(tmp_path: Path) -> None:
    for name in ["b.md", "a.txt", "sub/c.jsonl", ".git/x.txt", "sub/.hidden.txt", "image.png", "Makefile"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = discover([tmp_path, tmp_path / "a.txt"])
    assert [f.name for f in found.files] == ["a.txt", "b.md", "sub/c.jsonl", "a.txt"]
    assert dict(found.skipped) == {".png": 1, "(no suffix)": 1}


def test_a_beir_folder_gives_its_corpus_only(tmp_path: Path) -> None:
    for name in ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"]:
        (tmp_path / "scifact" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "scifact" / name).write_text("")
    assert [f.name for f in discover([tmp_path]).files] == ["scifact/corpus.jsonl"]


def test_json_fields_ids_and_metadata(tmp_path: Path) -> None:
    rows = [
        {"_id": "d1", "title": "Title", "text": "body", "metadata": {"year": 2020}, "lang": "en"},
        {"id": 5, "page_content": "lc document", "metadata": {"source": "web"}},
        {"content": "no id", "metadata": "a string"},
    ]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    assert docs_of(path) == [
        ("d1", "Title. body", {"source": "rows.json", "lang": "en", "year": 2020}),
        ("5", "lc document", {"source": "web"}),  # the record's own metadata wins
        ("rows.json:3", "no id", {"source": "rows.json", "metadata": "a string"}),
    ]
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"id": "x", "text": "one object"}))
    assert docs_of(single) == [("x", "one object", {"source": "one.json"})]


def test_csv_cells_become_numbers_and_empty_cells_no_value(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('key,body,n,f,zip,empty\nk1,"multi\nline",12,-1.5,01234,\n,no key,0,1e3,x,\n', encoding="utf-8")
    assert docs_of(path, Columns(text="body", id="key")) == [
        ("k1", "multi\nline", {"source": "t.csv", "n": 12, "f": -1.5, "zip": "01234"}),
        ("t.csv:4", "no key", {"source": "t.csv", "n": 0, "f": "1e3", "zip": "x"}),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"text": "ok"}\n{"text": oops}\n', "bad.jsonl:2: invalid JSON (Expecting value, column 10)"),
        ("bad.json", "[1, 2,]", "bad.json:1: invalid JSON"),
        (
            "notext.jsonl",
            '{"id": 1, "body": "x"}\n',
            "no text field; expected one of text, content, page_content, found id, body",
        ),
        ("list.jsonl", "[1, 2]\n", "expected a JSON object with a text field, got list"),
        (
            "nocol.csv",
            "id,body\n1,x\n",
            "no column 'text' (columns: id, body); name the text column with --text-column",
        ),
        ("latin.txt", b"caf\xe9!", "not UTF-8 text (invalid continuation byte at byte 3); save it as UTF-8"),
    ],
)
def test_bad_files_name_the_file_and_the_fix(tmp_path: Path, name: str, content: str | bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SourceError, match="^" + str(path).replace("\\", "\\\\")) as caught:
        list(read(SourceFile(path, name), Columns()))
    assert message in caught.value.format_message()
    assert caught.value.exit_code == 1

"""Tests of ``engine/mirrors/lexical.py``: query tokens as bm25s makes them, and scores by row."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from mira_vectorstores.engine.config import LexicalConfig
from mira_vectorstores.engine.mirrors.lexical import LexicalIndex

QUERIES = [
    "The cats are running!",
    "running runners ran; RUN",
    "a I of the",
    "",
    "x y z",
    "Zürich naïve café — 42 co-op e-mail x2",
    "cats cats cats",
    "  tabs\tand\nnewlines  ",
    "über Straße",
]


@pytest.mark.parametrize(
    "config",
    [LexicalConfig(), LexicalConfig(stemmer=None, stopwords=None), LexicalConfig(stemmer="german", stopwords="de")],
    ids=["english", "plain", "german"],
)
@pytest.mark.parametrize("query", QUERIES)
def test_query_tokens_are_exactly_bm25s_tokens(config: LexicalConfig, query: str) -> None:
    index = LexicalIndex(config)
    stemmer = index._stemmer.stemWords if index._stemmer else None
    expected = bm25s.tokenize(
        [query], stopwords=config.stopwords or [], stemmer=stemmer, return_ids=False, show_progress=False
    )[0]
    assert index.query_tokens(query) == expected


def _index(docs: list[str | None], alive: list[bool]) -> LexicalIndex:
    index = LexicalIndex(LexicalConfig())
    index.rebuild(docs, np.array(alive))
    return index


def test_scores_of_every_row_and_of_some_rows_agree() -> None:
    docs = ["cats purr softly", "dogs bark loudly", "cats and dogs", "birds sing"]
    every = _index(docs, [True, True, True, True])
    some = _index([*docs[:2], None, docs[3]], [True, True, True, True])
    full = every.scores("cats dogs", 4)
    assert full.dtype == np.float32
    assert full.shape == (4,)
    partial = some.scores("cats dogs", 4)
    assert partial[2] == 0.0
    assert (full[[0, 1]] > 0).all()
    assert (partial[[0, 1]] > 0).all()


def test_dead_rows_score_zero_and_a_query_without_words_scores_nothing() -> None:
    index = _index(["cats purr", "cats nap", "dogs bark"], [True, False, True])
    scores = index.scores("cats", 3)
    assert scores[1] == 0.0
    assert scores[0] > 0
    assert not index.scores("the a of", 3).any()

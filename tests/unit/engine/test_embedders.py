"""Tests of the all-MiniLM-L6-v2 backends (``engine/embeddings.py``, ``engine/onnx_minilm.py``).

One real ONNX export is made into a temporary cache (module fixture, some seconds); the cache
tests then swap the exporter for a copy of that file with a counter, so they run no export.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores.engine import embeddings, onnx_minilm
from mira_vectorstores.engine.embeddings import MINILM_INT8_NAME, MINILM_NAME, MiniLMBackend, MiniLMEmbedder
from mira_vectorstores.engine.errors import ConfigError

TEXTS = [
    "",
    "cats",
    "Aspirin lowers the risk of a second heart attack in adults.",
    "Ünïcödé, punctuation — and numbers: 3.14!",
    " ".join(f"protein{i % 50} binds receptor{i % 7}" for i in range(200)),  # ~1,400 tokens: truncated at 256
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[onnx_minilm.Exported]:
    """The real fp32 export, made once into a temporary cache folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(onnx_minilm.CACHE_ENV, str(tmp_path_factory.mktemp("onnx-cache")))
        yield onnx_minilm.ensure_exported(quantized=False)


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return MiniLMEmbedder(backend="torch").embed_documents(TEXTS)


@pytest.fixture
def fresh_runners(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test loads its own models (the per-process cache would hide a backend choice)."""
    monkeypatch.setattr(embeddings, "_runners", {})


@pytest.fixture
def fake_export(exported: onnx_minilm.Exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """An empty cache folder whose exporter copies the real export and records each call."""
    calls: list[Path] = []

    def copy(folder: Path, target: Path) -> None:
        calls.append(target)
        shutil.copyfile(exported.path, target)

    monkeypatch.setenv(onnx_minilm.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(onnx_minilm, "_export_fp32", copy)
    return calls


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    products: np.ndarray = np.einsum("ij,ij->i", a.astype(np.float64), b.astype(np.float64))
    return products


# ----------------------------------------------------------------------------- vectors
def test_onnx_vectors_match_pytorch(
    exported: onnx_minilm.Exported, torch_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(onnx_minilm.CACHE_ENV, str(exported.path.parent))
    vectors = onnx_minilm.OnnxMiniLM(quantized=False).embed(TEXTS, batch_size=2)  # 2: padding across batches
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # The bound that lets ONNX fp32 keep the name all-MiniLM-L6-v2 (benchmarks: min 0.99999 on SciFact).
    assert _cosines(vectors, torch_vectors).min() >= 0.9999


def test_batching_by_length_keeps_the_input_order(
    exported: onnx_minilm.Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(onnx_minilm.CACHE_ENV, str(exported.path.parent))
    model = onnx_minilm.OnnxMiniLM(quantized=False)
    together = model.embed(TEXTS[::-1], batch_size=64)
    one_by_one = np.stack([model.embed([t], batch_size=1)[0] for t in TEXTS[::-1]])
    assert _cosines(together, one_by_one).min() >= 0.99999


def test_int8_is_quantised_close_to_fp32_and_named_apart(
    exported: onnx_minilm.Exported, torch_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(onnx_minilm.CACHE_ENV, str(exported.path.parent))
    model = onnx_minilm.OnnxMiniLM(quantized=True)
    assert model.path.stat().st_size < exported.path.stat().st_size / 3  # int8 weights, not a copy
    cosines = _cosines(model.embed(TEXTS, batch_size=64), torch_vectors)
    assert cosines.min() >= 0.95  # close (per-channel: 0.987 minimum on SciFact) but not identical
    assert cosines.min() < 0.99999
    assert MiniLMEmbedder(backend="onnx-int8").name == MINILM_INT8_NAME != MINILM_NAME


def test_int8_vectors_do_not_depend_on_batch_mates(
    exported: onnx_minilm.Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Dynamic quantisation scales a call's activations as a whole: batched, a text's vector moved
    # with its batch-mates (cosine 0.989 to itself alone). One text per call keeps it fixed.
    monkeypatch.setenv(onnx_minilm.CACHE_ENV, str(exported.path.parent))
    model = onnx_minilm.OnnxMiniLM(quantized=True)
    together = model.embed(TEXTS, batch_size=64)
    alone = np.stack([model.embed([t], batch_size=64)[0] for t in TEXTS])
    np.testing.assert_array_equal(together, alone)


# ----------------------------------------------------------------------------- the cache
def test_export_is_cached_and_reused(fake_export: list[Path]) -> None:
    first = onnx_minilm.ensure_exported(quantized=False)
    modified = first.path.stat().st_mtime_ns
    second = onnx_minilm.ensure_exported(quantized=False)
    assert len(fake_export) == 1
    assert second == first
    assert second.path.stat().st_mtime_ns == modified
    assert not list(first.path.parent.glob("*.tmp")), "no temporary file is left behind"


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "lose the manifest", "garble the manifest"])
def test_a_damaged_cache_file_is_exported_again(fake_export: list[Path], damage: str) -> None:
    entry = onnx_minilm.ensure_exported(quantized=False)
    if damage == "flip a byte":
        with entry.path.open("r+b") as handle:
            handle.seek(entry.path.stat().st_size // 2)
            byte = handle.read(1)
            handle.seek(-1, 1)
            handle.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "truncate":
        with entry.path.open("r+b") as handle:
            handle.truncate(1000)
    elif damage == "lose the manifest":
        entry.manifest.unlink()
    else:
        entry.manifest.write_text("{not json")
    onnx_minilm.ensure_exported(quantized=False)
    assert len(fake_export) == 2
    assert onnx_minilm._is_valid(entry)


def test_concurrent_first_uses_export_once(fake_export: list[Path]) -> None:
    threads = [threading.Thread(target=onnx_minilm.ensure_exported, kwargs={"quantized": False}) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake_export) == 1


def test_the_cache_folder_follows_the_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(onnx_minilm.CACHE_ENV, str(tmp_path / "models"))
    assert onnx_minilm.cache_folder() == tmp_path / "models"
    monkeypatch.delenv(onnx_minilm.CACHE_ENV)
    assert onnx_minilm.cache_folder().parts[-2:] == ("mira_vectorstores", "models")


# ----------------------------------------------------------------------------- backends and names
def _unavailable(*, quantized: bool) -> onnx_minilm.OnnxMiniLM:
    msg = "onnxruntime is not installed (test)"
    raise onnx_minilm.OnnxUnavailableError(msg)


@pytest.mark.usefixtures("fresh_runners")
def test_fp32_falls_back_to_pytorch_when_onnx_cannot_load(
    torch_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(onnx_minilm, "OnnxMiniLM", _unavailable)
    embedder = MiniLMEmbedder(backend="fp32")
    np.testing.assert_allclose(embedder.embed_documents(TEXTS[:3]), torch_vectors[:3], atol=1e-5)
    assert isinstance(embeddings._runners[MiniLMBackend.FP32], embeddings._TorchMiniLM)
    assert "runs on PyTorch instead" in caplog.text
    assert embedder.name == MINILM_NAME


@pytest.mark.usefixtures("fresh_runners")
def test_auto_without_onnxruntime_runs_pytorch_under_the_fp32_name(
    torch_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(onnx_minilm, "available", lambda: False)
    embedder = MiniLMEmbedder()
    assert (embedder.runs_on, embedder.name) == (MiniLMBackend.TORCH, MINILM_NAME)
    assert "not installed" in caplog.text
    np.testing.assert_allclose(embedder.embed_documents(TEXTS[:2]), torch_vectors[:2], atol=1e-5)


@pytest.mark.usefixtures("fresh_runners")
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "auto"])
def test_an_onnx_backend_that_cannot_run_is_an_error(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # auto chose int8 (its name says so): falling back to fp32 vectors under that name would mix them.
    monkeypatch.setattr(onnx_minilm, "OnnxMiniLM", _unavailable)
    with pytest.raises(ConfigError, match=r"onnxruntime is not installed.*backend='fp32'"):
        MiniLMEmbedder(backend=backend).embed_query("x")


@pytest.mark.usefixtures("fresh_runners")
def test_auto_runs_int8_on_onnx(exported: onnx_minilm.Exported, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(onnx_minilm.CACHE_ENV, str(exported.path.parent))
    embedder = MiniLMEmbedder()
    assert embedder.embed_query("cats").shape == (384,)
    assert embedder.name == MINILM_INT8_NAME
    assert isinstance(embeddings._runners[MiniLMBackend.ONNX_INT8], onnx_minilm.OnnxMiniLM)


def test_names_say_which_vectors_a_store_gets() -> None:
    names = {b.value: MiniLMEmbedder(backend=b).name for b in MiniLMBackend}
    # torch and ONNX fp32 give the same vectors (cosine >= 0.9999), so stores built with either keep opening.
    assert names == {
        "auto": MINILM_INT8_NAME,
        "fp32": MINILM_NAME,
        "onnx": MINILM_NAME,
        "torch": MINILM_NAME,
        "onnx-int8": MINILM_INT8_NAME,
    }


def test_only_auto_follows_a_stored_name() -> None:
    auto = MiniLMEmbedder(batch_size=8)
    fp32 = auto.for_stored(MINILM_NAME)
    assert fp32 is not None
    assert (fp32.backend, fp32.name, fp32._batch_size) == (MiniLMBackend.FP32, MINILM_NAME, 8)
    assert auto.for_stored(MINILM_INT8_NAME) is None  # already its name
    assert auto.for_stored("hashing-384") is None
    assert MiniLMEmbedder(backend="onnx-int8").for_stored(MINILM_NAME) is None  # an explicit choice stays
    cached = embeddings.CachedEmbedder(auto)
    follows = embeddings.embedder_for_stored(cached, MINILM_NAME)
    assert isinstance(follows, embeddings.CachedEmbedder)
    assert follows.name == MINILM_NAME
    assert follows._memory is cached._memory  # one cache; its keys hold the name
    assert cached.name == MINILM_INT8_NAME  # the original is unchanged


@pytest.mark.parametrize(
    ("options", "message"), [({"backend": "gpu"}, "backend must be one of"), ({"batch_size": 0}, ">= 1")]
)
def test_bad_options_are_config_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MiniLMEmbedder(**options)  # type: ignore[arg-type]


def test_no_texts_loads_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_runner", lambda backend: pytest.fail(f"loaded {backend}"))
    assert MiniLMEmbedder().embed_documents([]).shape == (0, 384)


# ----------------------------------------------------------------------------- stores built with fp32
def test_a_store_built_with_fp32_keeps_fp32_under_the_default_embedder(tmp_path: Path) -> None:
    from mira_vectorstores import EmbeddingMismatchError, HybridStore

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3, 384)).astype(np.float32)
    old = HybridStore.persistent(tmp_path / "db", "old", embedder=MiniLMEmbedder(backend="fp32"))
    old.add(["a", "b", "c"], ids=["1", "2", "3"], vectors=vectors)  # no model loaded: vectors given
    old.close()

    reopened = HybridStore.persistent(tmp_path / "db", "old")  # the default embedder ("auto")
    try:
        assert reopened.embedder is not None
        assert reopened.embedder.name == MINILM_NAME
        assert reopened.count() == 3
        reopened.backup(tmp_path / "backup")
    finally:
        reopened.close()
    restored = HybridStore.restore(tmp_path / "backup", "copy", path=tmp_path / "db")
    try:
        assert restored.embedder is not None
        assert restored.embedder.name == MINILM_NAME
    finally:
        restored.close()

    new = HybridStore.persistent(tmp_path / "db", "new")
    try:
        assert new.embedder is not None
        assert new.embedder.name == MiniLMEmbedder().name  # int8 where onnxruntime is installed
    finally:
        new.close()
    with pytest.raises(EmbeddingMismatchError, match="was built with embedder 'all-MiniLM-L6-v2'"):
        HybridStore.persistent(tmp_path / "db", "old", embedder=MiniLMEmbedder(backend="onnx-int8"))

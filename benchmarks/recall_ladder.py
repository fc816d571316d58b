"""What the calibration's sample says against fresh queries, per efSearch step, on a grown index.

    python -m benchmarks.recall_ladder [--n 1000000]

Grows the store's dense mirror (``FaissMirror``, default ``FaissConfig``: calibration on) over
``--n`` vectors of the speed benchmark's distribution (``data.py``, seed 7: the same vectors as
``python -m benchmarks.run --n 1000000``), in Chroma-sized batches of 5,461 as the store receives
them, so it recalibrates as it grows exactly as in the store (the choices are logged). Then, on
the final index, for each wide ``efSearch`` step: the recall@10 of the calibration's own sample
(``calibration.sample_queries``) and of 1,000 fresh draws of the distribution, with their standard
errors, and the p50 of one query (100 fresh queries). ~8 min at 1,000,000 on 2 cores; prints only.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

import faiss
import numpy as np

from benchmarks.data import _Mixture
from mira_vectorstores.engine.config import FaissConfig
from mira_vectorstores.engine.mirrors import calibration
from mira_vectorstores.engine.mirrors.dense import FaissMirror

STEPS = (512, 768, 1024, 1536, 2048, 3072, 4096)
BATCH = 5_461


def main(argv: Sequence[str] | None = None) -> int:
    """Grow the mirror, then print sample and fresh recall per step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    rng = np.random.default_rng(7)
    mixture = _Mixture.make(rng)
    vectors, _ = mixture.draw(rng, args.n)
    fresh, _ = mixture.draw(np.random.default_rng(99), 1_000)
    started = time.perf_counter()
    mirror = FaissMirror(vectors.shape[1], FaissConfig())
    for start in range(0, args.n, BATCH):
        mirror.append(vectors[start : start + BATCH], min(args.n, start + BATCH))
    print(f"built in {time.perf_counter() - started:.0f} s: {mirror.describe()}", flush=True)
    index = mirror._index
    fresh_truth = calibration.exact_top_k(mirror.vectors, fresh, calibration.K)
    sample = calibration.sample_queries(index, mirror.vectors)
    sample_truth = calibration.exact_top_k(mirror.vectors, sample, calibration.K)
    print("| efSearch | sample recall@10 (SE) | fresh recall@10 (SE) | p50, ms |\n| ---: | ---: | ---: | ---: |")
    for ef in STEPS:
        on_sample = calibration._recalls(index, sample, sample_truth, ef)
        on_fresh = calibration._recalls(index, fresh, fresh_truth, ef)
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = ef
        times = []
        for query in fresh[:100]:
            tick = time.perf_counter()
            index.search(query.reshape(1, -1), calibration.K, params=params)
            times.append(time.perf_counter() - tick)
        print(
            f"| {ef:,} | {on_sample.mean():.4f} ({calibration._standard_error(on_sample):.4f})"
            f" | {on_fresh.mean():.4f} ({calibration._standard_error(on_fresh):.4f}) | {1e3 * np.median(times):.2f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

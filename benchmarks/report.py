"""Targets, the printed / Markdown table, and the PNG plot of a benchmark run's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

OURS = "mira"
ANCHOR = "langchain-chroma"  # the anchor every target is stated against
ANCHORS = ("chromadb", "langchain-chroma", "llamaindex-chroma", "langchain-faiss", "faiss-flat")
FILTERS = ("10%", "1%")
TARGET_N = 100_000  # the issue states its targets at this size

# (figure key, label, unit, "lower" or "higher" is better); ratios are always ours / anchor.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("ingest_per_s", "ingest, records/s (add calls)", "higher"),
    ("ingest_persist_per_s", "ingest + persist, records/s", "higher"),
    ("query_p50_ms", "query k=10 p50, ms", "lower"),
    ("query_p95_ms", "query k=10 p95, ms", "lower"),
    ("query_recall", "query recall@10", "higher"),
    ("filtered_10%_p50_ms", "filter 10% p50, ms", "lower"),
    ("filtered_10%_p95_ms", "filter 10% p95, ms", "lower"),
    ("filtered_10%_recall", "filter 10% recall@10", "higher"),
    ("filtered_1%_p50_ms", "filter 1% p50, ms", "lower"),
    ("filtered_1%_p95_ms", "filter 1% p95, ms", "lower"),
    ("filtered_1%_recall", "filter 1% recall@10", "higher"),
    ("hybrid_none_p50_ms", "hybrid p50, ms", "lower"),
    ("hybrid_10%_p50_ms", "hybrid + filter 10% p50, ms", "lower"),
    ("hybrid_1%_p50_ms", "hybrid + filter 1% p50, ms", "lower"),
    ("cold_s", "cold: open + 1st query, s", "lower"),
    ("cold_open_s", "cold: open, s", "lower"),
    ("cold_first_query_s", "cold: 1st query, s", "lower"),
    ("cold_import_s", "cold: imports, s", "lower"),
    ("cold_rss_mb", "cold: process peak RSS, MB", "lower"),
    ("peak_rss_delta_mb", "ingest+queries: peak RSS over data, MB", "lower"),
    ("peak_rss_delta_bytes_per_record", "ingest+queries: peak RSS over data per record, bytes", "lower"),
    ("cold_rss_bytes_per_record", "cold: process peak RSS per record, bytes", "lower"),
    ("rebuild_cold_s", "rebuild mirrors from Chroma + 1st query, s", "lower"),
)
# The figures every system reports (the smoke test checks them); ours adds OURS_ONLY_FIGURES.
COMMON_FIGURES = tuple(key for key, _, _ in ROWS if not key.startswith(("hybrid_", "rebuild_")))
OURS_ONLY_FIGURES = ("hybrid_none_p50_ms", "hybrid_10%_p50_ms", "hybrid_1%_p50_ms", "rebuild_cold_s")


def targets(systems: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """The issue's targets, each with our value, the reference, the ratio and whether it is met."""
    ours, anchor = systems.get(OURS), systems.get(ANCHOR)
    if ours is None or anchor is None:
        return []
    out: list[dict[str, Any]] = []

    def add(name: str, value: float, reference: float, limit: float, *, at_most: bool, extra: bool = True) -> None:
        ratio = value / reference if reference else float("inf")
        met = (ratio <= limit if at_most else ratio >= limit) and extra
        out.append(
            {
                "target": name,
                "ours": value,
                "reference": reference,
                "ratio": ratio,
                "limit": f"{'<=' if at_most else '>='} {limit:g}x",
                "met": met,
            }
        )

    recall = ours["query_recall"]
    add(
        f"unfiltered p50 vs {ANCHOR} (recall {recall:.3f} >= 0.98)",
        ours["query_p50_ms"],
        anchor["query_p50_ms"],
        0.3,
        at_most=True,
        extra=recall >= 0.98,
    )
    for f in FILTERS:
        recall = ours[f"filtered_{f}_recall"]
        add(
            f"filter {f} p50 vs {ANCHOR} (recall {recall:.3f} = 1.0)",
            ours[f"filtered_{f}_p50_ms"],
            anchor[f"filtered_{f}_p50_ms"],
            0.1,
            at_most=True,
            extra=recall == 1.0,
        )
    for f in FILTERS:
        add(
            f"hybrid + filter {f} p50 vs our dense + filter {f}",
            ours[f"hybrid_{f}_p50_ms"],
            ours[f"filtered_{f}_p50_ms"],
            2.0,
            at_most=True,
        )
    add(f"cold start vs {ANCHOR}", ours["cold_s"], anchor["cold_s"], 1.0, at_most=True)
    add("rebuild from Chroma / cold start (speed-up)", ours["rebuild_cold_s"], ours["cold_s"], 10.0, at_most=False)
    add(f"ingest records/s vs {ANCHOR} add_texts", ours["ingest_per_s"], anchor["ingest_per_s"], 1.0, at_most=False)
    return out


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def markdown(run: dict[str, Any]) -> str:
    """One Markdown table per N: every figure of every system, with ours / anchor ratios, then the targets."""
    lines: list[str] = []
    for n, result in run["runs"].items():
        systems = result["systems"]
        names = [OURS, *(a for a in ANCHORS if a in systems)]
        sel = ", ".join(f"{k}: {v:.2%}" for k, v in result["dataset"]["selectivity"].items())
        lines += [f"#### N = {int(n):,} ({result['dataset']['queries']} queries, filters {sel})", ""]
        lines.append("| figure | " + " | ".join(names) + " |")
        lines.append("| --- | " + " | ".join("---:" for _ in names) + " |")
        for key, label, _ in ROWS:
            if not any(key in systems.get(s, {}) for s in names):
                continue
            ours = systems.get(OURS, {}).get(key)
            cells = [_fmt(ours)]
            for anchor in names[1:]:
                value = systems[anchor].get(key)
                ratio = f" ({ours / value:.2g}x)" if ours is not None and value and "recall" not in key else ""
                cells.append(_fmt(value) + ratio)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        if not result["targets"]:
            lines.append("")
            continue
        stated = "" if int(n) == TARGET_N else f"; the targets are stated for N = {TARGET_N:,}"
        lines += [
            "",
            f"| target (N = {int(n):,}{stated}) | ours | reference | ratio | limit | |",
            "| --- | ---: | ---: | ---: | --- | --- |",
        ]
        for t in result["targets"]:
            lines.append(
                f"| {t['target']} | {_fmt(t['ours'])} | {_fmt(t['reference'])} | {t['ratio']:.3g}x | "
                f"{t['limit']} | {'met' if t['met'] else '**missed**'} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(run: dict[str, Any], path: Path) -> None:
    """A few bar charts of ours / anchor ratios (log scale; below 1 means we are better).

    A dashed line marks the target where there is one (stated against langchain-chroma).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    panels = [
        ("query_p50_ms", "unfiltered query p50", 0.3),
        ("filtered_10%_p50_ms", "filter 10% p50", 0.1),
        ("filtered_1%_p50_ms", "filter 1% p50", 0.1),
        ("cold_s", "cold start (open + 1st query)", 1.0),
        ("ingest_s", "ingest time (add calls)", 1.0),
        ("cold_rss_mb", "opened store: peak RSS", None),
    ]
    ns = list(run["runs"])
    anchors = [a for a in ANCHORS if any(a in run["runs"][n]["systems"] for n in ns)]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.3))
    width = 0.8 / max(1, len(ns))
    colors = ["#4c72b0", "#dd8452", "#55a868"]
    for ax, (key, title, target) in zip(axes, panels, strict=True):
        for j, n in enumerate(ns):
            systems = run["runs"][n]["systems"]
            ratios = []
            for a in anchors:
                ours, ref = systems[OURS].get(key), systems.get(a, {}).get(key)
                ratios.append(ours / ref if ours and ref else float("nan"))
            xs = [i + (j - (len(ns) - 1) / 2) * width for i in range(len(anchors))]
            ax.bar(xs, ratios, width, label=f"N={int(n):,}", color=colors[j % len(colors)])
        ax.axhline(1.0, color="black", linewidth=0.8)
        if target is not None and target != 1.0:
            ax.axhline(target, color="#c44e52", linewidth=1.0, linestyle="--")
        ax.set_yscale("log")
        low, high = ax.get_ylim()
        ax.set_ylim(min(low, 0.5), max(high, 2.0))
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(anchors)))
        ax.set_xticklabels(anchors, rotation=45, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    axes[0].set_ylabel("mira / anchor (log; < 1: mira better)", fontsize=8)
    axes[-1].legend(fontsize=7)
    fig.suptitle(
        f"mira_vectorstores vs anchors, same run ({run['date'][:10]}, {run['machine']['cpus']} CPUs)", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)

"""Charts of a compression report (matplotlib, imported only when plotting).

``plot_report(rows, "out.png")`` draws, per language, bars grouped by
tokenizer in one panel per metric: bytes per token; parity (tokens /
English tokens) when the corpus is parallel; the share of byte-fragment
tokens; the proportion of continued words (languages written with spaces).
A panel whose metric no row has is left out.  Languages are sorted by
Qwen's bytes per token (the first tokenizer's if Qwen is absent), best
compression first.
"""
from __future__ import annotations

import os
import pathlib
from typing import Sequence

from ..errors import PlotError

__all__ = ["PlotError", "plot_report", "PLOT_FORMATS"]

PLOT_FORMATS = (".png", ".svg")
# Colour-blind-safe qualitative palette (Okabe & Ito), Qwen first.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotError("--plot needs matplotlib: pip install 'qtok[report]'") from None
    matplotlib.use("Agg")   # files only: never open a window or need a display
    import matplotlib.pyplot as plt
    return plt


def _grouped_bars(ax, codes: list[str], tokenizers: list[str], value: dict, ylabel: str) -> None:
    width = 0.8 / len(tokenizers)
    for k, tok in enumerate(tokenizers):
        xs = [i + (k - (len(tokenizers) - 1) / 2) * width for i in range(len(codes))]
        ys = [value.get((tok, c)) for c in codes]
        ax.bar([x for x, y in zip(xs, ys) if y is not None], [y for y in ys if y is not None],
               width=width * 0.95, label=tok, color=_COLOURS[k % len(_COLOURS)], zorder=2)
    ax.set_ylabel(ylabel)
    ax.set_xlim(-0.6, len(codes) - 0.4)
    ax.grid(axis="y", color="#dddddd", zorder=0)
    ax.spines[["top", "right"]].set_visible(False)


def plot_report(rows: Sequence[dict], path: str | os.PathLike, *, corpus: str | None = None) -> None:
    """Save the chart of ``rows`` (as returned by ``compression_report``) to a .png or .svg."""
    path = pathlib.Path(path)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise PlotError(f"{path}: the chart is written as PNG or SVG: name the file *.png or *.svg")
    if not rows:
        raise PlotError("nothing to plot: the report has no rows")
    tokenizers = list(dict.fromkeys(r["tokenizer"] for r in rows))
    names = {r["code"]: r["name"] for r in rows}

    def values(field: str, scale: float = 1.0) -> dict:
        return {(r["tokenizer"], r["code"]): r[field] * scale for r in rows
                if r[field] is not None}
    bpt = values("bytes_per_token")
    lead = "qwen" if "qwen" in tokenizers else tokenizers[0]
    codes = sorted(names, key=lambda c: -(bpt.get((lead, c)) or 0.0))
    panels = [
        (bpt, "UTF-8 bytes per token (higher is better)", "Compression by language", None),
        (values("parity"), "tokens / English tokens (lower is better)",
         "Tokenization parity on the same content", 1.0),
        (values("fragment_share", 100), "% of tokens (lower is better)",
         "Tokens that are byte fragments of a character", None),
        (values("continued_share", 100), "% of words (lower is better)",
         "Proportion of continued words (two or more tokens)", None),
    ]
    panels = [p for p in panels if p[0]]

    plt = _pyplot()
    # SVG keeps its text as text (searchable, smaller) instead of glyph outlines.
    with plt.rc_context({"svg.fonttype": "none", "font.size": 10}):
        _draw(plt, path, codes, names, tokenizers, panels, lead, corpus)


def _draw(plt, path, codes, names, tokenizers, panels, lead, corpus) -> None:
    width = min(30.0, max(10.0, 0.32 * len(codes) * (1 + 0.35 * len(tokenizers))))
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, 4.2 * len(panels) + 1.2),
                             squeeze=False, sharex=True)
    axes = axes[:, 0]
    labels = [f"{names[c]} ({c})" for c in codes]
    where = f" — {corpus}" if corpus else ""
    for k, (ax, (value, ylabel, title, reference)) in enumerate(zip(axes, panels)):
        _grouped_bars(ax, codes, tokenizers, value, ylabel)
        ax.set_title(title + (where if k == 0 else ""), loc="left", fontsize=13,
                     fontweight="bold")
        if reference is not None:
            ax.axhline(reference, color="#444444", linestyle="--", linewidth=1, zorder=3)
            ax.annotate("English = 1", xy=(1.0, reference), xycoords=("axes fraction", "data"),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=9,
                        color="#444444")
    axes[0].legend(title="tokenizer", frameon=False, ncols=min(len(tokenizers), 4), loc="upper right")
    axes[-1].set_xticks(range(len(codes)), labels, rotation=55, ha="right", rotation_mode="anchor",
                        fontsize=9)
    axes[-1].set_xlabel(f"language, sorted by {lead}'s bytes per token")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=150)
    except OSError as exc:
        raise PlotError(f"{path}: cannot write the chart ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)

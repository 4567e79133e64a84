"""Plots as self-contained HTML figures: matplotlib (Agg) PNGs embedded as data URIs, nothing fetched when viewed.

Shared by the report's leaderboard plots (``report.html``) and the per-run item plots (``report.item_plots``).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any


def png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure(uri: str, caption: str) -> str:
    return f'<figure><img src="{uri}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def radar(models: dict[str, dict[str, float]]) -> str:
    """MT-Bench's 8 categories per model, on the 1-10 scale (FastChat's radar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    categories = sorted({c for cats in models.values() for c in cats})
    angles = np.linspace(0, 2 * np.pi, len(categories), endpoint=False).tolist()
    fig, ax = plt.subplots(figsize=(5, 5), subplot_kw={"polar": True})
    for model, cats in models.items():
        values = [cats.get(c, 0.0) for c in categories]
        ax.plot(angles + angles[:1], values + values[:1], label=model)
        ax.fill(angles + angles[:1], values + values[:1], alpha=0.1)
    ax.set_xticks(angles)
    ax.set_xticklabels(categories, fontsize=8)
    ax.set_ylim(0, 10)
    ax.legend(loc="upper right", bbox_to_anchor=(1.35, 1.1), fontsize=7)
    return png(fig)


def bars(title: str, items: Sequence[tuple[str, float, Sequence[float] | None]], xlabel: str,
          reference: float | None = None, second: Sequence[tuple[str, float]] | None = None) -> str:
    """Horizontal bars with 95% CI whiskers; ``second`` draws a comparison bar per label (e.g. a baseline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _, _ in items]
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(labels) * (2 if second else 1)))
    height = 0.4 if second else 0.7
    offsets = [i + (height / 2 if second else 0) for i in range(len(labels))]
    errors = [[max(0.0, v - ci[0]) if ci else 0.0 for _, v, ci in items],
              [max(0.0, ci[1] - v) if ci else 0.0 for _, v, ci in items]]
    ax.barh(offsets, [v for _, v, _ in items], height=height, xerr=errors, color="#1f77b4", capsize=3,
            label="value")
    if second:
        ax.barh([i - height / 2 for i in range(len(labels))], [v for _, v in second], height=height, color="#bbbbbb",
                label="longer-reply baseline")
        ax.legend(fontsize=7)
    if reference is not None:
        ax.axvline(reference, color="#888", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    return png(fig)

"""ROC plot for `menwei eval verify --plot` (matplotlib, imported lazily, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gateway.eval import metrics


def plot_roc(
    genuine: metrics.FloatArray, impostor: metrics.FloatArray, path: Path, title: str
) -> None:
    """Write the ROC (TAR against log FAR) to a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    far, tar = metrics.roc_curve(genuine, impostor)
    floor = 0.5 / max(impostor.size, 1)
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.step(np.maximum(far, floor), tar, where="post")
    axes.set_xscale("log")
    axes.set_xlim(floor, 1.0)
    lowest = float(tar[far == 0].max())  # TAR at zero false accepts
    axes.set_ylim(max(0.0, np.floor(lowest * 20) / 20 - 0.05), 1.005)
    axes.set_xlabel(f"false accept rate (floor {floor:.1e}: zero false accepts)")
    axes.set_ylabel("true accept rate")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)

"""Figures lessons draw again and again: training curves, image grids, confusion matrices."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def history(hist, metrics: tuple[str, ...] | None = None, title: str | None = None):
    """Plot each metric of a Keras ``History`` (or its ``.history`` dict), train beside validation.

    Returns the figure so a lesson can save or tweak it.
    """
    logs = getattr(hist, "history", hist)
    if not logs:
        raise ValueError("the history is empty: was the model trained?")
    names = metrics or tuple(k for k in logs if not k.startswith("val_") and k != "learning_rate")
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        if name not in logs:
            raise KeyError(f"no {name!r} in the history; it has {', '.join(logs)}")
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], "o-", label="train")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images, labels=None, class_names=None, ncols: int = 8, cmap: str = "gray", size: float = 1.3):
    """Show images in a grid, each titled with its label (or class name)."""
    images = np.asarray(images)
    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * (labels is not None)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        ax.imshow(img.squeeze(), cmap=None if img.ndim == 3 and img.shape[-1] == 3 else cmap)
        if labels is not None:
            label = labels[i]
            ax.set_title(class_names[int(label)] if class_names is not None else str(label), fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, class_names=None, normalize: bool = True, title: str | None = None):
    """Draw the confusion matrix (rows: true class, columns: predicted), row-normalized by default."""
    y_true = np.asarray(y_true).ravel().astype(int)
    y_pred = np.asarray(y_pred).ravel().astype(int)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    k = int(max(y_true.max(), y_pred.max()) + 1) if class_names is None else len(class_names)
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    fig, ax = plt.subplots(figsize=(0.55 * k + 2, 0.55 * k + 1.5))
    im = ax.imshow(shown, cmap="Blues")
    names = class_names if class_names is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            value = f"{shown[i, j]:.2f}" if normalize else str(shown[i, j])
            ax.text(j, i, value, ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > shown.max() / 2 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig, counts

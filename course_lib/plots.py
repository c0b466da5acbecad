"""Figures lessons draw again and again: training curves, image grids, confusion matrices,
and a window sliding over a grid (convolution, padding, stride, pooling)."""
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


def _grid(ax, values, title, *, height, shade=None, box=None, fill="white"):
    """Draw a 2-D array as labelled squares, top-aligned in an axes `height` squares high
    (so that every panel's squares have one size); `shade` marks cells (padding), `box`
    is (row, col, height, width), drawn in bold and filled."""
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            colour = "#e6e6e6" if shade is not None and shade[r, c] else fill
            if box and box[0] <= r < box[0] + box[2] and box[1] <= c < box[1] + box[3]:
                colour = "#9ecae1"
            ax.add_patch(plt.Rectangle((c, r), 1, 1, facecolor=colour, edgecolor="grey", lw=0.8))
            v = values[r, c]
            ax.text(c + 0.5, r + 0.5, f"{v:g}" if float(v).is_integer() else f"{v:.1f}", ha="center", va="center")
    if box:
        ax.add_patch(plt.Rectangle((box[1], box[0]), box[3], box[2], fill=False, edgecolor="#08519c", lw=2.5))
    ax.set_xlim(-0.05, cols + 0.05)
    ax.set_ylim(height + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def sliding_window(x, output, at, window, *, kernel=None, padding=0, stride=1, title=None):
    """A window sliding over a 2-D input: the input (its zero padding shaded), the kernel
    if there is one, and the output, with the window that makes output[at] and that
    value highlighted. The caller computes `output` (with Keras, say); this only draws.

    window: the window's size, an int or (rows, cols); padding: rings of zeros around x.
    """
    x, output = np.asarray(x, dtype=float), np.asarray(output, dtype=float)
    if x.ndim != 2 or output.ndim != 2:
        raise ValueError(f"x and output must be 2-D arrays, got shapes {x.shape} and {output.shape}")
    fh, fw = (window, window) if np.ndim(window) == 0 else window
    r, c = at
    if not (0 <= r < output.shape[0] and 0 <= c < output.shape[1]):
        raise ValueError(f"at={at} is outside the output, whose shape is {output.shape}")
    padded = np.pad(x, padding)
    shade = np.pad(np.zeros(x.shape, dtype=bool), padding, constant_values=True)
    panels = [(padded, "input" + (f", padded by {padding}" if padding else ""),
               dict(shade=shade, box=(r * stride, c * stride, fh, fw)))]
    if kernel is not None:
        panels.append((np.asarray(kernel, dtype=float), "kernel", dict(fill="#fdd0a2")))
    panels.append((output, "output" + (f", stride {stride}" if stride != 1 else ""), dict(box=(r, c, 1, 1))))
    widths = [p[0].shape[1] for p in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(0.55 * sum(widths) + 1.2 * len(panels), 0.55 * padded.shape[0] + 0.8),
                             gridspec_kw={"width_ratios": widths})
    for ax, (values, name, style) in zip(axes, panels):
        _grid(ax, values, name, height=padded.shape[0], **style)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig

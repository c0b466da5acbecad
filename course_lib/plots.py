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
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * (labels is not None)), squeeze=False
    )
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
            ax.text(
                j,
                i,
                value,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shown[i, j] > shown.max() / 2 else "black",
            )
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
    panels = [
        (
            padded,
            "input" + (f", padded by {padding}" if padding else ""),
            dict(shade=shade, box=(r * stride, c * stride, fh, fw)),
        )
    ]
    if kernel is not None:
        panels.append((np.asarray(kernel, dtype=float), "kernel", dict(fill="#fdd0a2")))
    panels.append((output, "output" + (f", stride {stride}" if stride != 1 else ""), dict(box=(r, c, 1, 1))))
    widths = [p[0].shape[1] for p in panels]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(0.55 * sum(widths) + 1.2 * len(panels), 0.55 * padded.shape[0] + 0.8),
        gridspec_kw={"width_ratios": widths},
    )
    for ax, (values, name, style) in zip(axes, panels):
        _grid(ax, values, name, height=padded.shape[0], **style)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _layout(nodes: list[str], edges: list[tuple[str, str]], gap: float) -> dict[str, tuple[float, int]]:
    """(x, row) of every node: rows by the longest path from a source; in a row, each node
    as close as `gap` allows to the mean x of the nodes that feed it, so that a chain
    stays straight and branches sit side by side."""
    parents = {n: [a for a, b in edges if b == n] for n in nodes}
    row: dict[str, int] = {}

    def level(n, seen=()):
        if n in seen:
            raise ValueError(f"the graph has a cycle through {n!r}")
        if n not in row:
            row[n] = max((level(p, seen + (n,)) + 1 for p in parents[n]), default=0)
        return row[n]

    for n in nodes:
        level(n)
    x: dict[str, float] = {}
    for r in range(max(row.values()) + 1):
        members = [n for n in nodes if row[n] == r]
        wanted = {n: float(np.mean([x[p] for p in parents[n]])) if parents[n] else 0.0 for n in members}
        members.sort(key=lambda n: wanted[n])
        placed = [wanted[members[0]]]
        for n in members[1:]:
            placed.append(max(wanted[n], placed[-1] + gap))
        shift = np.mean([wanted[n] for n in members]) - np.mean(placed)
        x.update({n: p + shift for n, p in zip(members, placed)})
    return {n: (x[n], row[n]) for n in nodes}


def graph(edges, labels=None, *, edge_labels=None, colors=None, title=None, box_width: float = 2.6):
    """A small directed acyclic graph drawn top to bottom, one box per node.

    edges: (source, target) pairs of node names; labels: text shown in a node's box
    (default: its name), also fixing the order of nodes side by side; edge_labels: text
    beside an arrow, keyed by (source, target); colors: a box's fill colour, keyed by node.
    """
    edges = [tuple(e) for e in edges]
    labels, edge_labels, colors = labels or {}, edge_labels or {}, colors or {}
    nodes = list(dict.fromkeys([*labels, *(n for e in edges for n in e)]))
    if not nodes:
        raise ValueError("the graph has no nodes")
    lines = max(str(labels.get(n, n)).count("\n") + 1 for n in nodes)
    row_height = 0.45 * lines + 0.9
    xy = {n: (x, -r * row_height) for n, (x, r) in _layout(nodes, edges, box_width + 0.4).items()}
    xs, ys = [p[0] for p in xy.values()], [p[1] for p in xy.values()]
    width, rows = max(xs) - min(xs) + box_width + 0.6, round(-min(ys) / row_height) + 1
    fig, ax = plt.subplots(figsize=(max(3.0, 1.1 * width), 0.55 + 0.75 * row_height * rows))
    for a, b in edges:
        (x0, y0), (x1, y1) = xy[a], xy[b]
        ax.annotate(
            "",
            xy=(x1, y1 + 0.22 * lines + 0.12),
            xytext=(x0, y0 - 0.22 * lines - 0.12),
            arrowprops=dict(arrowstyle="-|>", color="#555555", lw=1.0, shrinkA=0, shrinkB=0),
        )
        if (a, b) in edge_labels:
            ax.text(
                (x0 + x1) / 2 + 0.08,
                (y0 + y1) / 2,
                edge_labels[(a, b)],
                fontsize=8,
                color="#b2182b",
                ha="left",
                va="center",
            )
    for n, (x, y) in xy.items():
        ax.text(
            x,
            y,
            str(labels.get(n, n)),
            ha="center",
            va="center",
            fontsize=8.5,
            linespacing=1.25,
            bbox=dict(boxstyle="round,pad=0.35", facecolor=colors.get(n, "#deebf7"), edgecolor="#3182bd"),
        )
    ax.set_xlim(min(xs) - box_width / 2 - 0.3, max(xs) + box_width / 2 + 0.3)
    ax.set_ylim(min(ys) - row_height / 2, max(ys) + row_height / 2)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


_LAYER_COLOURS = {
    "Conv2D": "#c6dbef",
    "BatchNormalization": "#fdd0a2",
    "Add": "#c7e9c0",
    "Concatenate": "#c7e9c0",
    "InputLayer": "#f0f0f0",
    "Dense": "#dadaeb",
}


def _layer_label(layer) -> str:
    kind = type(layer).__name__
    if kind == "Conv2D":
        kind += f" {layer.filters} × {'×'.join(map(str, layer.kernel_size))}"
        if tuple(layer.strides) != (1, 1):
            kind += f", stride {layer.strides[0]}"
    elif kind == "Activation":
        kind = layer.activation.__name__
    elif kind == "Dense":
        kind += f" {layer.units}"
    elif "Pooling" in kind and hasattr(layer, "pool_size"):
        kind += f" {'×'.join(map(str, layer.pool_size))}"
    shape = layer.output.shape if kind != "InputLayer" else layer.batch_shape
    return f"{kind}\n{' × '.join(str(d) for d in shape[1:])}"


def model_graph(model, title=None):
    """A functional Keras model as a graph of its layers: kind, settings and output shape in
    each box, so that branches (Inception) and shortcuts (ResNet) show."""
    names = {layer.name for layer in model.layers}
    edges = []
    for layer in model.layers:
        for node in layer._inbound_nodes:
            edges += [(p.operation.name, layer.name) for p in node.parent_nodes if p.operation.name in names]
    labels = {layer.name: _layer_label(layer) for layer in model.layers}
    colors = {layer.name: _LAYER_COLOURS.get(type(layer).__name__, "#deebf7") for layer in model.layers}
    return graph(edges, labels, colors=colors, title=title)


def dropout_network(sizes=(4, 6, 6, 2), rate=0.5, seed=0):
    """A fully connected network as circles and lines, beside the same network in one
    training step of dropout: the dropped hidden units crossed out, with their
    connections gone. Input and output units are never dropped."""
    if len(sizes) < 3:
        raise ValueError("dropout needs at least one hidden layer: give sizes like (4, 6, 2)")
    rng = np.random.default_rng(seed)
    kept = [np.ones(n, bool) if i in (0, len(sizes) - 1) else rng.random(n) >= rate for i, n in enumerate(sizes)]
    for mask in kept:  # at least one unit per layer, or the picture shows a cut network
        mask[rng.integers(len(mask))] |= not mask.any()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, masks, title in [
        (axes[0], [np.ones(n, bool) for n in sizes], "standard network"),
        (axes[1], kept, f"one training step of dropout, rate {rate:g}"),
    ]:
        ys = [np.linspace(-(n - 1) / 2, (n - 1) / 2, n) for n in sizes]
        for i in range(len(sizes) - 1):
            for a in np.flatnonzero(masks[i]):
                for b in np.flatnonzero(masks[i + 1]):
                    ax.plot([i, i + 1], [ys[i][a], ys[i + 1][b]], color="#9e9e9e", lw=0.7, zorder=1)
        for i, (y, mask) in enumerate(zip(ys, masks)):
            ax.scatter(np.full(len(y), i)[mask], y[mask], s=260, c="#6baed6", edgecolors="#08519c", zorder=2)
            ax.scatter(np.full(len(y), i)[~mask], y[~mask], s=260, c="white", edgecolors="#bdbdbd", zorder=2)
            ax.scatter(np.full(len(y), i)[~mask], y[~mask], s=140, c="#d62728", marker="x", zorder=3)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(-0.4, len(sizes) - 0.6)
        ax.axis("off")
    fig.tight_layout()
    return fig

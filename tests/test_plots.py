import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_lib import plots  # noqa: E402


def test_history_draws_one_panel_per_metric_with_validation():
    logs = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]}
    fig = plots.history(logs)
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    with pytest.raises(ValueError, match="empty"):
        plots.history({})
    with pytest.raises(KeyError, match="no 'auc'"):
        plots.history(logs, metrics=("auc",))


def test_confusion_matrix_counts():
    fig, counts = plots.confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], normalize=False)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match="4 labels but y_pred has 3"):
        plots.confusion_matrix([0, 1, 1, 2], [0, 1, 2])


def test_image_grid_titles_with_class_names():
    fig = plots.image_grid(np.zeros((3, 8, 8)), labels=[0, 1, 0], class_names=["cat", "dog"], ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["cat", "dog", "cat"]
    with pytest.raises(ValueError):
        plots.image_grid(np.zeros((0, 8, 8)))


def test_sliding_window_highlights_the_window_that_makes_the_chosen_output():
    x, kernel = np.arange(25).reshape(5, 5), np.ones((3, 3))
    out = np.zeros((3, 3))
    fig = plots.sliding_window(x, out, at=(1, 2), window=3, kernel=kernel, padding=1, stride=2)
    inputs, weights, output = fig.axes
    assert len([t for t in inputs.texts]) == 49, "5 x 5 with one ring of zeros"
    bold = [p for p in inputs.patches if p.get_linewidth() > 2]
    assert [(b.get_y(), b.get_x(), b.get_height(), b.get_width()) for b in bold] == [(2, 4, 3, 3)]
    assert [t.get_text() for t in weights.texts] == ["1"] * 9
    assert [(p.get_y(), p.get_x()) for p in output.patches if p.get_linewidth() > 2] == [(1, 2)]
    assert "stride 2" in output.get_title()
    with pytest.raises(ValueError, match="outside the output"):
        plots.sliding_window(x, out, at=(3, 0), window=3)


def _boxes(fig):
    """{text: (x, y)} of the boxed labels in a graph figure."""
    return {t.get_text(): t.get_position() for t in fig.axes[0].texts if t.get_bbox_patch() is not None}


def test_graph_keeps_a_chain_straight_and_puts_branches_side_by_side():
    edges = [("x", "a"), ("x", "b"), ("a", "a2"), ("a2", "sum"), ("b", "sum"), ("sum", "out")]
    fig = plots.graph(edges, edge_labels={("b", "sum"): "shortcut"})
    at = _boxes(fig)
    assert set(at) == {"x", "a", "b", "a2", "sum", "out"}
    assert at["a"][1] == at["b"][1] > at["a2"][1] > at["sum"][1] > at["out"][1], "rows by longest path"
    assert at["a"][0] == at["a2"][0] != at["b"][0], "a chain keeps its column; branches are apart"
    assert at["sum"][0] == at["out"][0]
    assert [t.get_text() for t in fig.axes[0].texts if t.get_text() and t.get_bbox_patch() is None] == ["shortcut"]
    with pytest.raises(ValueError, match="cycle"):
        plots.graph([("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="no nodes"):
        plots.graph([])


def test_model_graph_draws_every_layer_of_a_branching_model_with_its_shape():
    keras = pytest.importorskip("keras")
    inputs = keras.Input(shape=(8, 8, 3))
    left = keras.layers.Conv2D(4, 3, padding="same", name="left")(inputs)
    right = keras.layers.Conv2D(4, 1, strides=1, name="right")(inputs)
    model = keras.Model(inputs, keras.layers.Add(name="sum")([left, right]))
    labels = sorted(_boxes(plots.model_graph(model)))
    assert labels == [
        "Add\n8 × 8 × 4",
        "Conv2D 4 × 1×1\n8 × 8 × 4",
        "Conv2D 4 × 3×3\n8 × 8 × 4",
        "InputLayer\n8 × 8 × 3",
    ]


def test_dropout_network_drops_hidden_units_only_and_their_connections():
    fig = plots.dropout_network((3, 8, 8, 2), rate=0.5, seed=1)
    full, thinned = fig.axes
    assert len(full.lines) == 3 * 8 + 8 * 8 + 8 * 2
    dropped = np.concatenate([c.get_offsets() for c in thinned.collections[2::3]])  # the red crosses, per layer
    assert len(dropped) > 0 and set(np.asarray(dropped)[:, 0]) <= {1.0, 2.0}, "only hidden layers lose units"
    kept = [8 - int(np.sum(np.asarray(dropped)[:, 0] == layer)) for layer in (1, 2)]
    assert len(thinned.lines) == 3 * kept[0] + kept[0] * kept[1] + kept[1] * 2
    with pytest.raises(ValueError, match="hidden layer"):
        plots.dropout_network((3, 2))

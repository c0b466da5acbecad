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

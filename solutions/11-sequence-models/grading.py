"""Hidden tests of lesson 11: padding and windows in NumPy, a stacked bidirectional classifier, a forecaster.

`pad_and_truncate` and `make_windows` are NumPy-only: the student's answers run in a
process where no other library exists; the reference is keras.utils.pad_sequences, or
NumPy written here. The model builder is rebuilt here from its config and weights. The
forecaster is trained in the student's kernel by a driver, with a fixed seed, on
windows of real series prepared here; its forecasts are judged here against the naive
forecast (next value = last value).
"""

import keras
import numpy as np

from autograder.hidden import array, close, driver, equal, integer, raises, shape, test, true, unchanged_call
from autograder.student import Ref
from course_lib import datasets

# ------------------------------------------------------------------ pad_and_truncate


@test("test_pad_and_truncate", numpy_only=True)
def pad_and_truncate_on_the_visible_examples(student, rng):
    seqs = [[1, 2, 3], [4, 5, 6, 7, 8], [9]]
    got = student.call("pad_and_truncate", seqs, 4)
    close(got, [[0, 1, 2, 3], [5, 6, 7, 8], [0, 0, 0, 9]], "pad_and_truncate(seqs, 4)")
    true(
        isinstance(got, np.ndarray) and got.dtype == np.int32,
        f"pad_and_truncate(seqs, 4) should return an int32 NumPy array, got "
        f"{got.dtype if isinstance(got, np.ndarray) else type(got).__name__}",
    )
    close(
        student.call("pad_and_truncate", seqs, 4, padding="post", truncating="post"),
        [[1, 2, 3, 0], [4, 5, 6, 7], [9, 0, 0, 0]],
        "pad_and_truncate(seqs, 4, 'post', 'post')",
    )
    close(student.call("pad_and_truncate", [[1, 2, 3]], 2, truncating="post"), [[1, 2]], "truncating='post'")
    close(student.call("pad_and_truncate", [[7]], 3, value=-1), [[-1, -1, 7]], "value=-1")


@test("test_pad_and_truncate", numpy_only=True)
def pad_and_truncate_matches_keras_pad_sequences(student, rng):
    for trial in range(40):
        n = int(rng.integers(1, 7))
        seqs = [[int(v) for v in rng.integers(1, 100, size=int(rng.integers(0, 13)))] for _ in range(n)]
        maxlen = int(rng.integers(1, 11))
        padding, truncating = (str(v) for v in rng.choice(["pre", "post"], size=2))
        value = int(rng.choice([0, -1, 7]))
        expected = keras.utils.pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=value)
        got = unchanged_call(
            student, "pad_and_truncate", seqs, maxlen, padding=padding, truncating=truncating, value=value
        )
        close(
            got,
            expected,
            f"pad_and_truncate({seqs}, {maxlen}, padding={padding!r}, truncating={truncating!r}, value={value})",
        )
        true(
            isinstance(got, np.ndarray) and got.dtype == np.int32,
            f"pad_and_truncate should return an int32 NumPy array (trial {trial + 1})",
        )
    a, b = rng.integers(1, 100, size=3), rng.integers(1, 100, size=1)
    close(student.call("pad_and_truncate", [a, b], 2), [a[1:], [0, b[0]]], "pad_and_truncate of NumPy arrays")
    c = int(rng.integers(1, 100))
    close(student.call("pad_and_truncate", [[], [c]], 2), [[0, 0], [0, c]], "an empty sequence")
    for bad in [dict(padding="middle"), dict(truncating="both")]:
        raises(
            "ValueError",
            lambda: student.call("pad_and_truncate", [[1, 2]], 3, **bad),
            f"pad_and_truncate([[1, 2]], 3, **{bad})",
        )


# ---------------------------------------------------------------------- make_windows


def _windows(series, window, horizon):
    n = len(series) - window - horizon + 1
    x = np.array([series[i : i + window] for i in range(n)]).reshape(max(n, 0), window)
    y = np.array([series[i + window + horizon - 1] for i in range(n)]).reshape(max(n, 0))
    return x, y


def _pair(got, what):
    true(isinstance(got, (tuple, list)) and len(got) == 2, f"{what} should return a pair (inputs, targets)")
    return got


@test("test_make_windows", numpy_only=True)
def make_windows_on_the_visible_examples(student, rng):
    inputs, targets = _pair(student.call("make_windows", np.arange(6.0), 3), "make_windows(0..5, 3)")
    close(inputs, [[0, 1, 2], [1, 2, 3], [2, 3, 4]], "make_windows(0..5, 3) inputs")
    close(targets, [3, 4, 5], "make_windows(0..5, 3) targets")
    inputs, targets = _pair(student.call("make_windows", np.arange(6.0), 3, horizon=2), "make_windows(0..5, 3, 2)")
    close(inputs, [[0, 1, 2], [1, 2, 3]], "make_windows(0..5, 3, horizon=2) inputs")
    close(targets, [4, 5], "make_windows(0..5, 3, horizon=2) targets")


@test("test_make_windows", numpy_only=True)
def make_windows_on_new_series(student, rng):
    for trial in range(25):
        length = int(rng.integers(1, 40))
        series = rng.normal(size=length).cumsum()
        window, horizon = int(rng.integers(1, 8)), int(rng.integers(1, 5))
        what = f"make_windows(series of {length}, window={window}, horizon={horizon})"
        got_x, got_y = _pair(unchanged_call(student, "make_windows", series, window, horizon=horizon), what)
        expected_x, expected_y = _windows(series, window, horizon)
        close(got_x, expected_x, what + " inputs")
        close(got_y, expected_y, what + " targets")
    values = [int(v) for v in rng.integers(-50, 50, size=int(rng.integers(4, 9)))]
    got_x, got_y = _pair(student.call("make_windows", values, 2), "make_windows of a list")
    expected_x, expected_y = _windows(np.array(values, dtype=float), 2, 1)
    close(got_x, expected_x, "make_windows of a list (inputs)")
    close(got_y, expected_y, "make_windows of a list (targets)")


# ------------------------------------------------------- build_stacked_bidirectional


def _layer_kinds(model):
    kinds = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inner = getattr(layer, "forward_layer", None)
        kinds.append(type(layer).__name__ + (f"({type(inner).__name__})" if inner is not None else ""))
    return kinds


def _reference(vocab, classes, embed, units):
    return keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab, embed, mask_zero=True),
            keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True)),
            keras.layers.Bidirectional(keras.layers.GRU(units)),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype=float)


@test("test_build_stacked_bidirectional", seconds=180)
def stacked_bidirectional_visible_case(student, rng):
    got = student.model("build_stacked_bidirectional", 1000, 4)
    equal(_layer_kinds(got), ["Embedding", "Bidirectional(LSTM)", "Bidirectional(GRU)", "Dense"], "the layer types")
    shape(
        _numpy(got(np.array([[5, 9, 2, 0], [1, 2, 3, 4], [7, 0, 0, 0]]))),
        (3, 4),
        "the output for 3 texts of 4 tokens and 4 classes",
    )
    equal(integer(got.count_params(), "count_params()"), 67716, "parameters of build_stacked_bidirectional(1000, 4)")


@test("test_build_stacked_bidirectional", seconds=180)
def stacked_bidirectional_matches_a_reference(student, rng):
    # (vocab, classes, embed_dim, units, whether to run the forward checks too)
    for vocab, classes, embed, units, forward in [(50, 3, 8, 5, True), (300, 2, 16, 12, True), (120, 7, 4, 9, False)]:
        case = f"build_stacked_bidirectional({vocab}, {classes}, embed_dim={embed}, units={units})"
        got = student.model("build_stacked_bidirectional", vocab, classes, embed_dim=embed, units=units)
        reference = _reference(vocab, classes, embed, units)
        equal(_layer_kinds(got), _layer_kinds(reference), f"layer types of {case}")
        equal(integer(got.count_params(), "count_params()"), reference.count_params(), f"parameters of {case}")
        mine = [layer for layer in got.layers if not isinstance(layer, keras.layers.InputLayer)]
        for layer, theirs in zip(mine, reference.layers):
            equal(
                integer(layer.count_params(), "count_params()"),
                theirs.count_params(),
                f"parameters of the {type(theirs).__name__} layer of {case}",
            )
        lstm_wrapper = mine[1]
        true(bool(lstm_wrapper.forward_layer.return_sequences), "the bidirectional LSTM must return sequences.")
        if not forward:
            continue
        tokens = rng.integers(1, vocab, size=(2, 6))
        out = _numpy(got(tokens))
        shape(out, (2, classes), f"the output shape of {case} for 2 texts of 6 tokens")
        close(out.sum(axis=1), np.ones(2), f"the class probabilities of each text (sum), {case}", atol=1e-5)
        try:
            reference.set_weights(got.get_weights())
        except ValueError:
            true(False, f"the weights of {case} do not fit the layers the docstring specifies")
        close(
            out,
            _numpy(reference(tokens)),
            f"the output of {case}, against the specified layers with your weights",
            atol=1e-5,
        )
        zeros = np.zeros((2, 3), dtype=tokens.dtype)
        padded = _numpy(
            got(np.concatenate([np.concatenate([zeros, tokens], axis=1), np.concatenate([tokens, zeros], axis=1)]))
        )
        close(padded[:2], out, f"the output of {case} for pre-padded tokens (is the padding masked?)", atol=1e-5)
        close(padded[2:], out, f"the output of {case} for post-padded tokens (is the padding masked?)", atol=1e-5)


# -------------------------------------------------------------------- fit_forecaster


@driver
def forecast(fit_forecaster, x_train, y_train, x_test, seed):
    """Train the student's forecaster with a fixed seed; return its forecasts for x_test."""
    import keras

    keras.utils.set_random_seed(seed)
    model = fit_forecaster(x_train, y_train)
    return model.predict(x_test, verbose=0)


def _split_windows(values, split, window):
    """Windows of a series standardized on its training part: (x_train, y_train, x_test, y_test), float32."""
    mu, sigma = values[:split].mean(), values[:split].std()
    z = ((values - mu) / sigma).astype("float32")
    view_train = np.lib.stride_tricks.sliding_window_view(z[:split], window + 1)
    view_test = np.lib.stride_tricks.sliding_window_view(z[split - window :], window + 1)
    return (
        np.ascontiguousarray(view_train[:, :window]),
        np.ascontiguousarray(view_train[:, window]),
        np.ascontiguousarray(view_test[:, :window]),
        np.ascontiguousarray(view_test[:, window]),
    )


def _judge_forecaster(student, label, values, split, window, seed):
    x_tr, y_tr, x_te, y_te = _split_windows(values, split, window)
    pred = student.run(forecast, Ref("fit_forecaster"), x_tr, y_tr, x_te, seed)
    pred = np.ravel(array(pred, f"{label}: predict's result"))
    true(pred.size == len(x_te), f"{label}: predict gave {pred.size} values for {len(x_te)} windows.")
    true(bool(np.all(np.isfinite(pred))), f"{label}: the forecasts are not all finite.")
    naive = float(np.mean(np.abs(x_te[:, -1] - y_te)))
    yours = float(np.mean(np.abs(pred - y_te)))
    true(
        yours < naive,
        f"{label}: your forecaster's test MAE ({yours:.3f}, standardized) does not beat the naive "
        "forecast (next value = last value).",
    )


@test("test_fit_forecaster", seconds=240)
def forecaster_beats_naive_on_sunspots_1930_2008(student, rng):
    sunspots, years = datasets.series("sunspots")
    split = int(np.searchsorted(years, 1930))
    _judge_forecaster(student, "sunspots 1930-2008, window 12", sunspots, split, 12, seed=5)


@test("test_fit_forecaster", seconds=240)
def forecaster_beats_naive_on_earlier_sunspots(student, rng):
    _judge_forecaster(
        student, "sunspots, train to 1879, test 1880-1969", datasets.series("sunspots")[0][:270], 180, 9, seed=21
    )


@test("test_fit_forecaster", seconds=240)
def forecaster_beats_naive_on_el_nino(student, rng):
    _judge_forecaster(
        student, "El Nino sea temperature, monthly, test 2001-2010", datasets.series("elnino")[0], 612, 18, seed=21
    )

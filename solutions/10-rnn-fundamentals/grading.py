"""Hidden tests of lesson 10: a SimpleRNN, one LSTM step and one GRU step in NumPy, parameter counts
and output shapes of recurrent layers.

Every exercise here is NumPy-only: the student's answers run in a process where no
other library exists. References are Keras's own recurrent layers with the same
weights, computed here.
"""

import keras
import numpy as np

from autograder.hidden import Failed, close, equal, integer, raises, shape, test, true

ZEROS = {
    "kernel_initializer": "zeros",
    "recurrent_initializer": "zeros",
}  # weights are set below; skip slow initializers


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _right(got, expected, what: str) -> None:
    """An exact answer of a hidden case, judged without telling the expected value."""
    if got != expected:
        raise Failed(f"{what}: {got!r} is wrong")


# ------------------------------------------------------------------------ exercise 1

XS = np.array([[1.0, 1.0], [2.0, 1.0], [1.0, 3.0]])  # the course notes' worked example: x_1, x_2, x_3


@test("test_simple_rnn_forward", numpy_only=True)
def simple_rnn_on_the_worked_examples(student, rng):
    ones = np.ones((2, 2))
    example = student.call("simple_rnn_forward", XS[None], ones, ones, np.zeros(2), activation="linear")
    shape(example, (1, 3, 2), "simple_rnn_forward on the worked example (shape (batch, timesteps, units))")
    close(example, [[[2, 2], [7, 7], [18, 18]]], "hidden states of the worked example")

    x = rng.normal(size=(1, 2, 2))  # 1 sequence, 2 steps, 2 features
    K = rng.normal(size=(2, 3)) * 0.6
    R = rng.normal(size=(3, 3)) * 0.4
    b = rng.normal(size=3) * 0.1
    h1 = np.tanh(x[:, 0] @ K + b)
    h2 = np.tanh(x[:, 1] @ K + h1 @ R + b)
    close(
        student.call("simple_rnn_forward", x, K, R, b),
        np.stack([h1, h2], axis=1),
        "simple_rnn_forward with tanh on 2 steps",
    )
    start = rng.normal(size=(1, 3))
    got = np.asarray(
        shape(student.call("simple_rnn_forward", x, K, R, b, h0=start), (1, 2, 3), "simple_rnn_forward with h0 given")
    )
    close(got[:, 0], np.tanh(x[:, 0] @ K + start @ R + b), "the first state when h0 is given")
    got = np.asarray(
        shape(
            student.call("simple_rnn_forward", x, K, R, b, activation="relu"),
            (1, 2, 3),
            "simple_rnn_forward with activation='relu'",
        )
    )
    close(got[:, 0], np.maximum(x[:, 0] @ K + b, 0), "the first state with activation='relu'")


@test("test_simple_rnn_forward", numpy_only=True)
def simple_rnn_matches_keras(student, rng):
    for batch, steps, n_in, units, act, with_h0 in [
        (4, 5, 3, 6, "tanh", False),
        (2, 9, 7, 4, "tanh", True),
        (3, 4, 2, 5, "relu", False),
        (1, 12, 5, 8, "linear", True),
        (6, 1, 4, 3, "tanh", True),
        (5, 7, 1, 2, "relu", True),
    ]:
        x = rng.normal(size=(batch, steps, n_in)).astype("float32")
        layer = keras.layers.SimpleRNN(units, activation=act, return_sequences=True, **ZEROS)
        layer.build((None, steps, n_in))
        weights = [
            (rng.normal(size=(n_in, units)) * 0.6).astype("float32"),
            (rng.normal(size=(units, units)) * 0.4).astype("float32"),
            (rng.normal(size=units) * 0.3).astype("float32"),
        ]
        layer.set_weights(weights)
        h0 = rng.normal(size=(batch, units)).astype("float32") if with_h0 else None
        expected = _numpy(layer(x, initial_state=[h0]) if with_h0 else layer(x))
        got = student.call("simple_rnn_forward", x, *weights, h0=h0, activation=act)
        close(
            got,
            expected,
            f"simple_rnn_forward(activation={act!r}) on x of shape {x.shape}{' with h0' if with_h0 else ''}",
            rtol=1e-4,
            atol=1e-5,
        )
    raises(
        "ValueError",
        lambda: student.call(
            "simple_rnn_forward",
            np.zeros((1, 2, 2)),
            np.ones((2, 2)),
            np.ones((2, 2)),
            np.zeros(2),
            activation="softsign",
        ),
        "simple_rnn_forward(activation='softsign')",
    )


# ------------------------------------------------------------------------ exercise 2


@test("test_lstm_step", numpy_only=True)
def lstm_step_with_simple_weights(student, rng):
    units, n_in = 2, 3
    x_t = np.array([[1.0, 0.0, -1.0]])
    zeros_h = np.zeros((1, units))
    K, R, b = np.zeros((n_in, 4 * units)), np.zeros((units, 4 * units)), np.zeros(4 * units)
    result = student.call("lstm_step", x_t, zeros_h, zeros_h, K, R, b)
    true(isinstance(result, tuple) and len(result) == 2, "lstm_step should return a pair (h_t, c_t).")
    h_t, c_t = result
    shape(h_t, (1, units), "h_t")
    shape(c_t, (1, units), "c_t")
    close(c_t, [[0.0, 0.0]], "c_t with all weights 0 and c_prev = 0")
    c_prev = rng.uniform(-4.0, 4.0, size=(1, units))
    result = student.call("lstm_step", x_t, zeros_h, c_prev, K, R, b)
    true(isinstance(result, tuple) and len(result) == 2, "lstm_step should return a pair (h_t, c_t).")
    h_t, c_t = result
    close(c_t, 0.5 * c_prev, "c_t with all weights 0")
    close(h_t, 0.5 * np.tanh(0.5 * c_prev), "h_t with all weights 0")
    b_forget = b.copy()
    b_forget[units : 2 * units] = 30.0  # forget gate fully open, all others at 0.5
    result = student.call("lstm_step", x_t, zeros_h, c_prev, K, R, b_forget)
    true(isinstance(result, tuple) and len(result) == 2, "lstm_step should return a pair (h_t, c_t).")
    close(result[1], c_prev, "c_t with a huge forget-gate bias (the second block)", atol=1e-6)


@test("test_lstm_step", numpy_only=True)
def lstm_step_matches_keras(student, rng):
    for batch, n_in, units in [(3, 4, 5), (1, 2, 3), (6, 7, 2), (2, 1, 8)]:
        kernel = (rng.normal(size=(n_in, 4 * units)) * 0.7).astype("float32")
        recurrent = (rng.normal(size=(units, 4 * units)) * 0.5).astype("float32")
        bias = (rng.normal(size=4 * units) * 0.5).astype("float32")
        x = rng.normal(size=(batch, 5, n_in)).astype("float32")
        h0 = rng.normal(size=(batch, units)).astype("float32")
        c0 = (rng.normal(size=(batch, units)) * 2.0).astype("float32")

        one_step = keras.layers.LSTM(units, return_state=True, **ZEROS)
        one_step.build((None, 1, n_in))
        one_step.set_weights([kernel, recurrent, bias])
        _, h_keras, c_keras = one_step(x[:, :1], initial_state=[h0, c0])
        result = student.call("lstm_step", x[:, 0], h0, c0, kernel, recurrent, bias)
        true(isinstance(result, tuple) and len(result) == 2, "lstm_step should return a pair (h_t, c_t).")
        h_t, c_t = result
        close(h_t, _numpy(h_keras), f"h_t for batch {batch}, n_in {n_in}, units {units}", rtol=1e-4, atol=1e-5)
        close(c_t, _numpy(c_keras), f"c_t for batch {batch}, n_in {n_in}, units {units}", rtol=1e-4, atol=1e-5)

        sequence = keras.layers.LSTM(units, return_sequences=True, **ZEROS)
        sequence.build((None, 5, n_in))
        sequence.set_weights([kernel, recurrent, bias])
        expected = _numpy(sequence(x))
        h, c = np.zeros((batch, units)), np.zeros((batch, units))
        for t in range(5):
            result = student.call("lstm_step", x[:, t], h, c, kernel, recurrent, bias)
            true(isinstance(result, tuple) and len(result) == 2, "lstm_step should return a pair (h_t, c_t).")
            h, c = (np.asarray(shape(v, (batch, units), f"the states after step {t + 1} of 5")) for v in result)
            close(
                h,
                expected[:, t],
                f"h_{t + 1} after running lstm_step over 5 steps (batch {batch}, units {units})",
                rtol=1e-4,
                atol=1e-5,
            )


# ------------------------------------------------------------------------ exercise 3


@test("test_gru_step", numpy_only=True)
def gru_step_with_simple_weights(student, rng):
    units, n_in = 2, 3
    x_t = np.array([[1.0, 0.0, -1.0]])
    h_prev = rng.uniform(-1.0, 1.0, size=(1, units))
    K, R, b = np.zeros((n_in, 3 * units)), np.zeros((units, 3 * units)), np.zeros((2, 3 * units))
    h_t = student.call("gru_step", x_t, h_prev, K, R, b)
    shape(h_t, (1, units), "h_t")
    close(h_t, 0.5 * h_prev, "h_t with all weights 0")
    b_keep = b.copy()
    b_keep[0, :units] = 30.0  # update gate fully open: keep the old state
    close(
        student.call("gru_step", x_t, h_prev, K, R, b_keep),
        h_prev,
        "h_t with a huge update-gate bias (first block of row 0)",
        atol=1e-6,
    )
    b_candidate = b.copy()
    b_candidate[1, 2 * units :] = [2.0, -2.0]  # recurrent bias of the candidate block, scaled by r = 0.5
    close(
        student.call("gru_step", x_t, h_prev, K, R, b_candidate),
        0.5 * h_prev + 0.5 * np.tanh(0.5 * np.array([[2.0, -2.0]])),
        "h_t with a recurrent bias on the candidate",
    )


@test("test_gru_step", numpy_only=True)
def gru_step_matches_keras(student, rng):
    for batch, n_in, units in [(3, 4, 5), (1, 2, 3), (6, 7, 2), (2, 1, 8)]:
        kernel = (rng.normal(size=(n_in, 3 * units)) * 0.7).astype("float32")
        recurrent = (rng.normal(size=(units, 3 * units)) * 0.5).astype("float32")
        bias = (rng.normal(size=(2, 3 * units)) * 0.5).astype("float32")
        x = rng.normal(size=(batch, 5, n_in)).astype("float32")
        h0 = rng.normal(size=(batch, units)).astype("float32")

        one_step = keras.layers.GRU(units, return_state=True, **ZEROS)
        one_step.build((None, 1, n_in))
        one_step.set_weights([kernel, recurrent, bias])
        _, h_keras = one_step(x[:, :1], initial_state=[h0])
        close(
            student.call("gru_step", x[:, 0], h0, kernel, recurrent, bias),
            _numpy(h_keras),
            f"h_t for batch {batch}, n_in {n_in}, units {units}",
            rtol=1e-4,
            atol=1e-5,
        )

        sequence = keras.layers.GRU(units, return_sequences=True, **ZEROS)
        sequence.build((None, 5, n_in))
        sequence.set_weights([kernel, recurrent, bias])
        expected = _numpy(sequence(x))
        h = np.zeros((batch, units))
        for t in range(5):
            h = np.asarray(
                shape(
                    student.call("gru_step", x[:, t], h, kernel, recurrent, bias),
                    (batch, units),
                    f"the state after step {t + 1} of 5",
                )
            )
            close(
                h,
                expected[:, t],
                f"h_{t + 1} after running gru_step over 5 steps (batch {batch}, units {units})",
                rtol=1e-4,
                atol=1e-5,
            )


# ------------------------------------------------------------------------ exercise 5


@test("test_rnn_param_count", numpy_only=True)
def parameter_counts_match_keras(student, rng):
    for args, kwargs, expected, what in [
        (("SimpleRNN", 16, 8), {}, 400, "rnn_param_count('SimpleRNN', 16, 8)"),
        (("LSTM", 3, 2), {}, 72, "rnn_param_count('LSTM', 3, 2)"),
        (("GRU", 3, 2), {}, 63, "rnn_param_count('GRU', 3, 2)"),
        (("GRU", 3, 2), {"reset_after": False}, 54, "rnn_param_count('GRU', 3, 2, reset_after=False)"),
        (("GRU", 32, 14), {"bidirectional": True}, 9216, "rnn_param_count('GRU', 32, 14, bidirectional=True)"),
    ]:
        equal(integer(student.call("rnn_param_count", *args, **kwargs), what), expected, what)
    for _ in range(4):
        units, input_dim = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        for kind in ("SimpleRNN", "LSTM", "GRU"):
            for bidirectional in (False, True):
                for reset_after in (True, False) if kind == "GRU" else (True,):
                    options = {"reset_after": reset_after} if kind == "GRU" else {}
                    layer = getattr(keras.layers, kind)(units, **options, **ZEROS)
                    if bidirectional:
                        layer = keras.layers.Bidirectional(layer)
                    layer.build((None, None, input_dim))
                    what = (
                        f"rnn_param_count({kind!r}, {units}, {input_dim}, bidirectional={bidirectional}, "
                        f"reset_after={reset_after})"
                    )
                    got = student.call(
                        "rnn_param_count", kind, units, input_dim, bidirectional=bidirectional, reset_after=reset_after
                    )
                    _right(integer(got, what), layer.count_params(), what)


# ------------------------------------------------------------------------ exercise 6


def _as_tuples(shapes, what):
    true(
        isinstance(shapes, (list, tuple)) and all(isinstance(s, (list, tuple)) for s in shapes),
        f"{what}: rnn_output_shapes should return a list of shape tuples.",
    )
    return [tuple(integer(d, what) for d in s) for s in shapes]


@test("test_rnn_output_shapes", numpy_only=True)
def output_shapes_match_keras(student, rng):
    for args, kwargs, expected, what in [
        (("GRU", 4, 7, 5), {}, [(4, 5)], "the default GRU's output"),
        (("SimpleRNN", 4, 7, 5), {"return_sequences": True}, [(4, 7, 5)], "SimpleRNN with return_sequences=True"),
        (
            ("LSTM", 4, 7, 5),
            {"return_sequences": True, "return_state": True},
            [(4, 7, 5), (4, 5), (4, 5)],
            "LSTM with return_sequences and return_state",
        ),
        (("GRU", 2, 24, 32), {"bidirectional": True}, [(2, 64)], "Bidirectional(GRU(32))"),
    ]:
        equal(_as_tuples(student.call("rnn_output_shapes", *args, **kwargs), what), expected, what)
    for kind in ("SimpleRNN", "LSTM", "GRU"):
        batch, timesteps, units, features = (int(v) for v in rng.integers(1, 9, size=4))
        x = keras.Input(batch_shape=(batch, timesteps, features))  # symbolic: Keras infers the shapes only
        for return_sequences in (False, True):
            for return_state in (False, True):
                for bidirectional in (False, True):
                    layer = getattr(keras.layers, kind)(
                        units, return_sequences=return_sequences, return_state=return_state, **ZEROS
                    )
                    if bidirectional:
                        layer = keras.layers.Bidirectional(layer)
                    result = layer(x)
                    expected = [tuple(r.shape) for r in result] if return_state else [tuple(result.shape)]
                    what = (
                        f"rnn_output_shapes({kind!r}, {batch}, {timesteps}, {units}, return_sequences="
                        f"{return_sequences}, return_state={return_state}, bidirectional={bidirectional})"
                    )
                    got = student.call(
                        "rnn_output_shapes",
                        kind,
                        batch,
                        timesteps,
                        units,
                        return_sequences=return_sequences,
                        return_state=return_state,
                        bidirectional=bidirectional,
                    )
                    _right(_as_tuples(got, what), expected, what)

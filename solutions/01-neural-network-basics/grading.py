"""Hidden tests of lesson 01: activations, their slopes, a Dense layer and losses, all in NumPy.

Every exercise here is NumPy-only: the student's answers run in a process where no
other library exists. References are Keras's own definitions, computed here.
"""

import keras
import numpy as np

from autograder.hidden import close, driver, raises, test, true


def _keras(fn, *arrays, **kwargs):
    """A Keras function on float64 inputs, as float64 NumPy, and a tolerance fit for the backend's precision."""
    out = keras.ops.convert_to_numpy(fn(*(keras.ops.convert_to_tensor(a, dtype="float64") for a in arrays), **kwargs))
    tol = {"rtol": 1e-6, "atol": 1e-9} if out.dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    return out.astype(np.float64), tol


@driver
def without_overflow(fn, *args, **kwargs):
    """Call fn with NumPy's overflow and invalid-value warnings raised as errors."""
    import numpy as np

    with np.errstate(over="raise", invalid="raise"):
        try:
            return {"value": np.asarray(fn(*args, **kwargs), dtype=float), "overflow": False}
        except FloatingPointError:
            return {"value": None, "overflow": True}


def stable(student, name, *args, **kwargs):
    from autograder.student import Ref

    reply = student.run(without_overflow, Ref(name), *args, **kwargs)
    true(
        isinstance(reply, dict) and not reply.get("overflow"),
        f"`{name}` overflowed or produced an invalid value on large inputs (keep the argument of np.exp at or below 0)",
    )
    return reply["value"]


ACTIVATIONS = [
    ("sigmoid", {}),
    ("relu", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.05}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("softplus", {}),
    ("softmax", {}),
]


@test("test_activations", numpy_only=True)
def activations_match_keras(student, rng):
    x = np.array([-2.0, 0.0, 3.0])
    close(student.call("leaky_relu", x, negative_slope=0.1), [-0.2, 0.0, 3.0], "leaky_relu([-2, 0, 3], 0.1)")
    for shape in [(7,), (4, 5), (2, 3, 4)]:
        x = rng.normal(0.0, 3.0, size=shape)
        for name, kwargs in ACTIVATIONS:
            expected, tol = _keras(getattr(keras.activations, name), x, **kwargs)
            close(
                student.call(name, x, **kwargs),
                expected,
                f"{name}{kwargs or ''} on a random array of shape {shape}",
                **tol,
            )
        for axis in range(len(shape)):
            expected, tol = _keras(keras.activations.softmax, x, axis=axis)
            close(student.call("softmax", x, axis=axis), expected, f"softmax(axis={axis}) on shape {shape}", **tol)


@test("test_activations", numpy_only=True)
def activations_are_stable(student, rng):
    big = np.array([[-1000.0, -50.0, 0.0], [50.0, 1000.0, 999.0]]) * rng.uniform(0.9, 1.1)
    for name in ("sigmoid", "relu", "leaky_relu", "elu", "selu", "softplus", "softmax"):
        true(np.all(np.isfinite(stable(student, name, big))), f"`{name}` is not finite on inputs near +-1000")
    close(
        stable(student, "softplus", big),
        np.where(big > 0, big, 0.0) + np.log1p(np.exp(-np.abs(big))),
        "softplus near +-1000",
    )
    close(np.sum(stable(student, "softmax", big, axis=0), axis=0), np.ones(3), "softmax(axis=0) column sums")
    shifted = big * 0.001 + 7.0
    close(
        stable(student, "softmax", shifted),
        _keras(keras.activations.softmax, shifted)[0],
        "softmax of shifted scores",
        rtol=1e-5,
        atol=1e-7,
    )


def _slope(name, x, **kwargs):
    """Central difference of keras.activations.<name> at x, with a step fit for the backend's precision."""
    fn = getattr(keras.activations, name)
    exact = _keras(fn, np.zeros(1))[1]["atol"] == 1e-9  # the backend computes in float64
    h = 1e-5 if exact else 1e-2
    slope = (_keras(fn, x + h, **kwargs)[0] - _keras(fn, x - h, **kwargs)[0]) / (2 * h)
    return slope, ({"rtol": 1e-5, "atol": 1e-6} if exact else {"rtol": 1e-3, "atol": 1e-3})


DERIVATIVES = [
    ("sigmoid_grad", "sigmoid", {}),
    ("tanh_grad", "tanh", {}),
    ("relu_grad", "relu", {}),
    ("leaky_relu_grad", "leaky_relu", {}),
    ("leaky_relu_grad", "leaky_relu", {"negative_slope": 0.3}),
    ("elu_grad", "elu", {}),
    ("elu_grad", "elu", {"alpha": 1.7}),
]


@test("test_derivatives", numpy_only=True)
def slopes_match_finite_differences(student, rng):
    for shape in [(9,), (3, 4), (2, 2, 5)]:
        x = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.05, 5.0, size=shape)  # away from the kinks
        for name, activation, kwargs in DERIVATIVES:
            expected, tol = _slope(activation, x, **kwargs)
            close(student.call(name, x, **kwargs), expected, f"{name}{kwargs or ''} on shape {shape}", **tol)
    close(
        student.call("relu_grad", np.array([0.0, -0.0])), [0.0, 0.0], "relu_grad at 0 (the slope there is taken as 0)"
    )
    close(student.call("sigmoid_grad", np.array([0.0])), [0.25], "sigmoid_grad(0)")
    far = np.array([-1000.0, 1000.0])
    for name, expected in [("sigmoid_grad", [0.0, 0.0]), ("tanh_grad", [0.0, 0.0]), ("elu_grad", [0.0, 1.0])]:
        close(stable(student, name, far), expected, f"{name}([-1000, 1000])")


@test("test_dense_forward", numpy_only=True)
def dense_forward_matches_a_keras_dense_layer(student, rng):
    cases = [
        ((4, 3, 2), "linear"),
        ((5, 6, 4), "sigmoid"),
        ((3, 8, 5), "tanh"),
        ((6, 4, 3), "relu"),
        ((2, 7, 6), "softmax"),
        ((1, 5, 1), "relu"),
        ((8, 2, 3), "sigmoid"),
        ((3, 3, 10), "softmax"),
    ]
    for (batch, n_in, units), act in cases:
        x = rng.normal(size=(batch, n_in)).astype("float32")
        W = rng.normal(size=(n_in, units)).astype("float32")
        b = rng.normal(size=units).astype("float32")
        layer = keras.layers.Dense(units, activation=act)
        layer.build((None, n_in))
        layer.set_weights([W, b])
        close(
            student.call("dense_forward", x, W, b, activation=act),
            keras.ops.convert_to_numpy(layer(x)),
            f"dense_forward(activation={act!r}) with x {x.shape} and W {W.shape}",
            rtol=1e-4,
            atol=1e-5,
        )
    x, W, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    close(student.call("dense_forward", x, W, b), x @ W + b, "dense_forward with the default activation")
    raises(
        "ValueError",
        lambda: student.call("dense_forward", x, W, b, activation="no_such_activation"),
        "dense_forward(activation='no_such_activation')",
    )


def _softmax_rows(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _compare_loss(student, name, keras_name, y_true, y_pred, tol=None):
    expected, default = _keras(getattr(keras.losses, keras_name), y_true, y_pred)
    close(
        student.call(name, y_true, y_pred),
        expected,
        f"{name} on y_pred of shape {np.shape(y_pred)}",
        **(tol or {"rtol": 1e-4, "atol": 1e-6 if default["atol"] == 1e-9 else 1e-5}),
    )


@test("test_losses", numpy_only=True)
def regression_losses_match_keras(student, rng):
    for shape in [(6, 4), (3, 7), (5,), (2, 3, 4)]:
        a, b = rng.normal(size=shape) * 3.0, rng.normal(size=shape) * 3.0
        _compare_loss(student, "mse", "mean_squared_error", a, b)
        _compare_loss(student, "mae", "mean_absolute_error", a, b)
        _compare_loss(student, "mape", "mean_absolute_percentage_error", a, b)
        _compare_loss(
            student,
            "msle",
            "mean_squared_logarithmic_error",
            rng.uniform(-0.5, 20.0, size=shape),
            rng.uniform(-0.5, 20.0, size=shape),
        )
    with_zero = np.array([[0.0, 2.0, -1.5], [4.0, 0.0, 1.0]])
    _compare_loss(student, "mape", "mean_absolute_percentage_error", with_zero, rng.normal(size=(2, 3)))


@test("test_losses", numpy_only=True)
def classification_losses_match_keras(student, rng):
    for shape in [(8, 3), (5, 1), (4,)]:
        labels = rng.integers(0, 2, size=shape).astype(float)
        _compare_loss(
            student, "binary_crossentropy", "binary_crossentropy", labels, rng.uniform(0.01, 0.99, size=shape)
        )
        _compare_loss(
            student,
            "binary_crossentropy",
            "binary_crossentropy",
            rng.uniform(0, 1, size=shape),
            rng.uniform(0.01, 0.99, size=shape),
        )
    edge_true, edge_pred = np.array([[1.0, 0.0, 1.0, 0.0]]), np.array([[0.0, 1.0, 1.0, 0.0]])
    exact = _keras(keras.losses.binary_crossentropy, edge_true, edge_pred)[1]["atol"] == 1e-9
    _compare_loss(
        student,
        "binary_crossentropy",
        "binary_crossentropy",
        edge_true,
        edge_pred,
        tol={"rtol": 1e-4 if exact else 2e-2, "atol": 1e-6},
    )  # float32 rounds the clipping
    for batch, classes in [(6, 3), (4, 10), (1, 5)]:
        labels = rng.integers(0, classes, size=batch)
        one_hot = np.eye(classes)[labels]
        probs = _softmax_rows(rng.normal(size=(batch, classes)) * 2.0)
        unnormalized = rng.uniform(0.1, 1.0, size=(batch, classes))
        _compare_loss(student, "categorical_crossentropy", "categorical_crossentropy", one_hot, probs)
        _compare_loss(student, "categorical_crossentropy", "categorical_crossentropy", one_hot, unnormalized)
        _compare_loss(
            student,
            "categorical_crossentropy",
            "categorical_crossentropy",
            _softmax_rows(rng.normal(size=(batch, classes))),
            probs,
        )
        _compare_loss(student, "sparse_categorical_crossentropy", "sparse_categorical_crossentropy", labels, probs)
        _compare_loss(
            student, "sparse_categorical_crossentropy", "sparse_categorical_crossentropy", labels, unnormalized
        )
        _compare_loss(student, "categorical_hinge", "categorical_hinge", one_hot, rng.normal(size=(batch, classes)) * 2)
    for shape in [(6, 4), (3, 1), (5,)]:
        scores = rng.normal(size=shape) * 2.0
        plus_minus = rng.choice([-1.0, 1.0], size=shape)
        for name in ("hinge", "squared_hinge"):
            _compare_loss(student, name, name, plus_minus, scores)
            _compare_loss(student, name, name, (plus_minus > 0).astype(float), scores)


@test("test_cost_profit_loss", numpy_only=True)
def cost_profit_loss_on_new_demand(student, rng):
    for shape, cost, profit in [((20,), 1.0, 9.0), ((4, 6), 2.5, 3.0), ((3, 2, 5), 0.5, 12.0), ((50,), 1.0, 1.0)]:
        y_true = rng.uniform(0, 100, size=shape)
        y_pred = y_true + rng.normal(0, 10, size=shape)
        expected = np.sum(np.where(y_pred > y_true, cost * (y_pred - y_true), profit * (y_true - y_pred)))
        got = student.call("cost_profit_loss", y_true, y_pred, cost=cost, profit=profit)
        true(np.ndim(got) == 0, f"cost_profit_loss should return one number, got shape {np.shape(got)}")
        close(got, expected, f"cost_profit_loss on shape {shape}, cost={cost}, profit={profit}", rtol=1e-8)
    same = rng.uniform(0, 50, size=(7,))
    close(student.call("cost_profit_loss", same, same.copy()), 0.0, "cost_profit_loss of equal arrays")
    over, under = rng.uniform(1, 5), rng.uniform(1, 5)
    close(student.call("cost_profit_loss", [5.0], [5.0 + over]), over, "over-predicting with the default cost")
    close(
        student.call("cost_profit_loss", [8.0], [8.0 - under]), 9.0 * under, "under-predicting with the default profit"
    )

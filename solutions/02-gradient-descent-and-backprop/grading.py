"""Hidden tests of lesson 02: gradient descent, the backward pass and a numerical gradient, all in NumPy.

Every exercise here is NumPy-only: the student's answers run in a process where no
other library exists. Their arguments include functions (the gradient, the loss), which
cannot cross the channel, so small drivers build those functions from data inside the
student's process and return what the student's code made of them. References are
NumPy written here and Keras's own SGD optimizer and automatic differentiation.
"""

import keras
import numpy as np

from autograder.hidden import close, driver, shape, test, true
from autograder.student import Ref

# ------------------------------------------------------------------ gradient descent


@driver
def descend(gradient_descent, matrix, target, w0, lr, steps, **kwargs):
    """gradient_descent on the gradient A (w - target) (A a matrix, or element-wise for a vector or a number).

    Returns the trajectory and the starting value w0 as it is after the call.
    """
    import numpy as np

    matrix, target = np.asarray(matrix, dtype=float), np.asarray(target, dtype=float)

    def grad(w):
        shifted = np.asarray(w, dtype=float) - target
        return matrix @ shifted if matrix.ndim == 2 else matrix * shifted

    path = gradient_descent(grad, w0, lr, steps, **kwargs)
    return {"path": path, "start": w0}


def _descent(matrix, target, w0, lr, steps, decay=0.0, momentum=0.0):
    """The reference trajectory, in NumPy: (steps + 1, n)."""
    matrix = np.asarray(matrix, dtype=float)
    w = np.atleast_1d(np.array(w0, dtype=float))
    v, path = np.zeros_like(w), [w.copy()]
    for i in range(steps):
        g = matrix @ (w - target) if matrix.ndim == 2 else matrix * (w - target)
        v = momentum * v - lr / (1.0 + decay * i) * g
        w = w + v
        path.append(w.copy())
    return np.array(path)


def _keras_descent(matrix, target, w0, lr, steps, decay, momentum):
    """The same run with keras.optimizers.SGD(momentum) and an InverseTimeDecay schedule."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=momentum)
    variable = keras.Variable(np.asarray(w0, dtype="float32"))
    path = [np.asarray(w0, dtype=float)]
    for _ in range(steps):
        g = matrix @ (keras.ops.convert_to_numpy(variable).astype(float) - target)
        optimizer.apply([keras.ops.convert_to_tensor(g.astype("float32"))], [variable])
        path.append(keras.ops.convert_to_numpy(variable).astype(float))
    return np.array(path)


def _path(student, what, matrix, target, w0, lr, steps, **kwargs):
    reply = student.run(descend, Ref("gradient_descent"), matrix, target, w0, lr, steps, **kwargs)
    true(isinstance(reply, dict) and reply.get("path") is not None, f"{what}: None came back (a missing `return`?)")
    return reply


@test("test_gradient_descent", numpy_only=True)
def descent_on_the_lessons_examples(student, rng):
    one_d = ([[2.0]], [3.0])  # grad_1d: 2 (w - 3)
    path = _path(student, "gradient_descent(grad_1d, 0.0, 0.1, 3)", *one_d, 0.0, 0.1, 3)["path"]
    shape(path, (4, 1), "gradient_descent(grad_1d, 0.0, 0.1, 3) (every point, the start included, one row each)")
    close(np.asarray(path)[:, 0], [0.0, 0.6, 1.08, 1.464], "plain gradient descent on (w - 3)**2")
    path = _path(student, "momentum=0.5", *one_d, 0.0, 0.1, 2, momentum=0.5)["path"]
    close(path, [[0.0], [0.6], [1.38]], "gradient descent on (w - 3)**2 with momentum=0.5 (v = momentum * v - lr * g)")
    path = _path(student, "decay=1.0", *one_d, 0.0, 0.1, 2, decay=1.0)["path"]
    close(path, [[0.0], [0.6], [0.84]], "gradient descent on (w - 3)**2 with decay=1.0 (the first step uses lr itself)")
    ravine = np.array([1.0, 25.0])
    path = _path(student, "the ravine", ravine, np.zeros(2), [-9.0, 1.5], 0.03, 5)["path"]
    shape(path, (6, 2), "the trajectory on the ravine")
    close(
        path, _descent(ravine, np.zeros(2), [-9.0, 1.5], 0.03, 5), "the trajectory on the ravine", rtol=1e-8, atol=1e-10
    )
    path = _path(student, "a scalar start", 2.0, 0.0, 5.0, 0.25, 4)["path"]
    close(path, [[5.0], [2.5], [1.25], [0.625], [0.3125]], "a scalar start (gradient 2 w from w0 = 5.0)")
    start = rng.normal(size=2)
    reply = _path(student, "a start array", 1.0, 0.0, start.copy(), 0.5, 3, momentum=0.9)
    close(
        reply["start"],
        start,
        "the caller's starting array after gradient_descent (do not modify w0 in place)",
        rtol=0,
        atol=0,
    )


@test("test_gradient_descent", numpy_only=True)
def descent_matches_numpy_and_keras_sgd(student, rng):
    for n, steps, lr, decay, beta in [
        (3, 25, 0.05, 0.0, 0.0),
        (4, 30, 0.04, 0.05, 0.9),
        (2, 15, 0.1, 0.2, 0.5),
        (1, 10, 0.3, 0.0, 0.7),
    ]:
        m = rng.normal(size=(n, n))
        a = m @ m.T / n + np.eye(n)
        target = rng.normal(size=n)
        w0 = rng.normal(size=n) * 3
        what = f"the trajectory on a random quadratic (n={n}, lr={lr}, decay={decay}, momentum={beta})"
        got = _path(student, what, a, target, w0, lr, steps, decay=decay, momentum=beta)["path"]
        close(got, _descent(a, target, w0, lr, steps, decay, beta), what, rtol=1e-8, atol=1e-10)
        close(
            got,
            _keras_descent(a, target, w0, lr, steps, decay, beta),
            f"{what}, compared with keras.optimizers.SGD and InverseTimeDecay",
            rtol=1e-4,
            atol=1e-4,
        )


# --------------------------------------------------------------------- the backward pass


@driver
def backprop(backward, x, y, params):
    """backward(x, y, params), and params as they are after the call."""
    grads = backward(x, y, params)
    return {"grads": grads, "params": params}


def _keras_gradients(x, y, params):
    """Gradients from Keras: one SGD(learning_rate=1.0) step changes each weight by minus its gradient."""
    d, m = params["W1"].shape
    k = params["W2"].shape[1]
    model = keras.Sequential(
        [keras.Input(shape=(d,)), keras.layers.Dense(m, activation="tanh"), keras.layers.Dense(k, activation="sigmoid")]
    )
    order = ["W1", "b1", "W2", "b2"]
    model.set_weights([params[name].astype("float32") for name in order])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="binary_crossentropy")
    model.train_on_batch(x.astype("float32"), y.astype("float32"))
    return {"d" + name: params[name] - new.astype(float) for name, new in zip(order, model.get_weights())}


def _numpy_gradients(x, y, params):
    hidden = np.tanh(x @ params["W1"] + params["b1"])
    p = 1 / (1 + np.exp(-(hidden @ params["W2"] + params["b2"])))
    g2 = (p - y) / y.size
    g1 = (g2 @ params["W2"].T) * (1 - hidden**2)
    return {"dW1": x.T @ g1, "db1": g1.sum(0), "dW2": hidden.T @ g2, "db2": g2.sum(0)}


def _gradients(student, what, x, y, params):
    reply = student.run(backprop, Ref("backward"), x, y, params)
    grads = reply.get("grads") if isinstance(reply, dict) else None
    true(isinstance(grads, dict), f"backward should return a dict ({what})")
    d, m = params["W1"].shape
    k = params["W2"].shape[1]
    for key, expected in [("dW1", (d, m)), ("db1", (m,)), ("dW2", (m, k)), ("db2", (k,))]:
        true(key in grads, f"the result of backward has no key {key!r} (return keys dW1, db1, dW2, db2)")
        shape(grads[key], expected, f"{key} ({what}; each gradient has the shape of its weight)")
    after = reply.get("params")
    for name, value in params.items():
        true(isinstance(after, dict) and name in after, f"backward removed params[{name!r}]")
        close(after[name], value, f"params[{name!r}] after backward (do not change the weights)", rtol=0, atol=0)
    return grads


@test("test_backward", numpy_only=True)
def backward_on_the_symmetric_example(student, rng):
    tiny = {"W1": np.array([[0.5, -0.5]]), "b1": np.zeros(2), "W2": np.array([[1.0], [1.0]]), "b2": np.zeros(1)}
    grads = _gradients(student, "the symmetric example", np.array([[1.0], [-1.0]]), np.array([[1.0], [0.0]]), tiny)
    close(grads["db2"], [0.0], "db2 for the symmetric example")
    close(
        grads["dW2"],
        [[-0.2310586], [0.2310586]],
        "dW2 for the symmetric example (dW2 = H.T @ dZ2, dZ2 = (P - Y) / Y.size)",
    )
    close(grads["dW1"], [[-0.3932239, -0.3932239]], "dW1 for the symmetric example (multiply by 1 - H**2 through tanh)")
    close(
        grads["db1"],
        _numpy_gradients(np.array([[1.0], [-1.0]]), np.array([[1.0], [0.0]]), tiny)["db1"],
        "db1 for the symmetric example",
    )


@test("test_backward", numpy_only=True)
def backward_matches_keras(student, rng):
    for n, d, m, k in [(16, 3, 5, 1), (9, 4, 3, 2), (1, 2, 6, 3)]:
        params = {
            "W1": rng.normal(size=(d, m)) * 1.5 * np.sqrt(2.0 / (d + m)),
            "b1": rng.normal(size=m) * 0.3,
            "W2": rng.normal(size=(m, k)) * 1.5 * np.sqrt(2.0 / (m + k)),
            "b2": rng.normal(size=k) * 0.3,
        }
        x = rng.normal(size=(n, d))
        y = rng.integers(0, 2, size=(n, k)).astype(float)
        what = f"a {d} -> {m} -> {k} network on {n} samples"
        got = _gradients(student, what, x, y, params)
        for key, value in _keras_gradients(x, y, params).items():
            # float32 tolerance that also covers TF32 matrix products on GPUs
            close(got[key], value, f"{key} for {what}, against Keras", rtol=5e-3, atol=1e-4)
        y_soft = rng.uniform(size=(n, k))
        got = _gradients(student, f"{what} with soft targets", x, y_soft, params)
        for key, value in _numpy_gradients(x, y_soft, params).items():
            close(got[key], value, f"{key} for {what} with soft targets", rtol=1e-7, atol=1e-10)


# ----------------------------------------------------------------- numerical gradient


@driver
def differentiate(numerical_gradient, kind, w, a=None, **kwargs):
    """numerical_gradient of a test function made here, and w as it is after the call."""
    import numpy as np

    if kind == "square":

        def f(v):
            return float(np.sum(v**2))
    elif kind == "cube":

        def f(v):
            return float(np.sum(v**3))
    else:
        a = np.asarray(a, dtype=float)

        def f(v):
            return float(np.sum(np.sin(a * v)) + np.sum(v**2) ** 1.5)

    grad = numerical_gradient(f, w, **kwargs)
    return {"grad": grad, "w": w}


def _sin_norm(a, v):
    return float(np.sum(np.sin(a * v)) + np.sum(v**2) ** 1.5)


@test("test_numerical_gradient", numpy_only=True)
def numerical_gradient_on_the_lessons_examples(student, rng):
    point = np.array([1.0, -2.0, 0.5])
    reply = student.run(differentiate, Ref("numerical_gradient"), "square", point.copy())
    got = shape(reply["grad"], (3,), "numerical_gradient of sum(w**2)")
    close(got, [2.0, -4.0, 1.0], "numerical_gradient of sum(w**2) at [1, -2, 0.5]", rtol=1e-6)
    close(reply["w"], point, "w after numerical_gradient (put each element back)", rtol=0, atol=0)
    reply = student.run(differentiate, Ref("numerical_gradient"), "cube", np.array([[1.0, 2.0]]), h=1e-3)
    close(
        reply["grad"],
        [[3.000001, 12.000001]],
        "numerical_gradient of sum(w**3) with h=1e-3 (use the central "
        "difference (f(w+h) - f(w-h)) / 2h, not a one-sided one)",
        rtol=1e-9,
    )


@test("test_numerical_gradient", numpy_only=True)
def numerical_gradient_on_random_functions(student, rng):
    for size in [(4,), (3, 2), (2, 2, 3)]:
        a = rng.normal(size=size)
        w = rng.normal(size=size)
        reply = student.run(differentiate, Ref("numerical_gradient"), "sin_norm", w.copy(), a)
        exact = a * np.cos(a * w) + 3.0 * np.sqrt(np.sum(w**2)) * w
        close(reply["grad"], exact, f"numerical_gradient of a smooth function on shape {size}", rtol=1e-6, atol=1e-8)
        close(reply["w"], w, f"w after numerical_gradient on shape {size}", rtol=0, atol=0)
        h = 0.1
        expected = np.zeros(size)
        for idx in np.ndindex(size):
            e = np.zeros(size)
            e[idx] = h
            expected[idx] = (_sin_norm(a, w + e) - _sin_norm(a, w - e)) / (2 * h)
        reply = student.run(differentiate, Ref("numerical_gradient"), "sin_norm", w.copy(), a, h=h)
        close(reply["grad"], expected, f"numerical_gradient with h={h} on shape {size}", rtol=1e-9, atol=1e-12)

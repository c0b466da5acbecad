"""Hidden tests of lesson 03: iterations per epoch, the optimizer update rules, an optimizer within a budget.

The counting and the update rules are NumPy-only: the student's answers run in a process
where no other library exists. An update rule keeps its state in a dict it changes in
place, which data cannot carry back, so a driver runs each sequence of steps inside that
process and returns the parameters after every step; the references are Keras's own
optimizers, run here. The budget exercise returns a Keras optimizer: it is rebuilt here
from its class name and configuration (Keras's built-in optimizers only), and trained here.
"""

import math

import keras
import numpy as np

from autograder.hidden import close, driver, equal, number, test, true
from autograder.student import Handle, Ref

# --------------------------------------------------------------- iterations per epoch


@test("test_iterations_per_epoch", numpy_only=True)
def iterations_per_epoch_counts_batches(student, rng):
    cases = [
        (50_000, 128),
        (60_000, 100),
        (1, 1),
        (1, 32),
        (32, 32),
        (33, 32),
        (10_000, 1),
        (60_000, 128),
        (59_999, 256),
        (7, 100),
    ]
    cases += [(int(rng.integers(1, 100_000)), int(rng.integers(1, 600))) for _ in range(4)]
    for n, b in cases:
        equal(
            student.call("iterations_per_epoch", n, b),
            math.ceil(n / b),
            f"iterations_per_epoch({n}, {b}) (an int; the last, incomplete batch also counts)",
        )
        equal(
            student.call("iterations_per_epoch", n, b, drop_remainder=True),
            n // b,
            f"iterations_per_epoch({n}, {b}, drop_remainder=True) (an int)",
        )


@test("test_iterations_per_epoch", numpy_only=True)
def iterations_per_epoch_matches_keras(student, rng):
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((1000, 1), "float32"), np.zeros((1000, 1), "float32"), batch_size=96, epochs=1, verbose=0)
    equal(
        student.call("iterations_per_epoch", 1000, 96),
        int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "iterations_per_epoch(1000, 96) compared with the updates Keras makes in one epoch",
    )


# ------------------------------------------------------------------ the update rules


@driver
def run_steps(step, params, grads_sequence, hyper):
    """Run `step` over a sequence of gradients with one state dict, as training would.

    Returns the list each call returned (as float arrays, copied at once), and the input
    arrays of one more first step (with a fresh state) as they are after that call.
    """
    import numpy as np

    state, current, history = {}, [np.array(p, dtype=float) for p in params], []
    for grads in grads_sequence:
        out = step(current, [np.array(g, dtype=float) for g in grads], state, **hyper)
        if not isinstance(out, (list, tuple)) or len(out) != len(params):
            history.append(out)
            break
        history.append([np.array(p, dtype=float) for p in out])
        current = [np.array(p, dtype=float) for p in history[-1]]
    inputs = [np.array(p, dtype=float) for p in params]
    step(inputs, [np.array(g, dtype=float) for g in grads_sequence[0]], {}, **hyper)
    return {"history": history, "inputs_after": inputs}


def _keras_run(optimizer, params, grads_sequence):
    """A Keras optimizer on copies of params: the parameters after every step."""
    variables = [keras.Variable(np.asarray(p, dtype="float32")) for p in params]
    history = []
    for grads in grads_sequence:
        optimizer.apply([keras.ops.convert_to_tensor(np.asarray(g, dtype="float32")) for g in grads], variables)
        history.append([keras.ops.convert_to_numpy(v).astype(float) for v in variables])
    return history


def _check_steps(student, name, optimizer, hyper, params, grads_sequence, what, atol=1e-5, in_place=False):
    """The student's `name` step by step next to the Keras optimizer, from an empty state."""
    expected = _keras_run(optimizer, params, grads_sequence)
    reply = student.run(run_steps, Ref(name), params, grads_sequence, hyper)
    history = reply["history"]
    for t, want in enumerate(expected):
        true(t < len(history), f"{what}: the steps stopped early")
        got = history[t]
        true(
            isinstance(got, (list, tuple)) and len(got) == len(params),
            f"{what}: the step should return a list of {len(params)} arrays",
        )
        for i, (g, w) in enumerate(zip(got, want)):
            close(g, w, f"{what}, weight {i} after step {t + 1}", rtol=1e-4, atol=atol)
    if in_place:
        for i, (a, b) in enumerate(zip(reply["inputs_after"], params)):
            close(
                a,
                b,
                f"{what}: input array {i} after a step (return new arrays; do not update params in place)",
                rtol=0,
                atol=0,
            )


DEMO_PARAMS = [np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([0.1, -0.1])]
DEMO_GRADS = [
    [np.array([[0.5, -1.0], [2.0, 0.0]]), np.array([1.0, -3.0])],
    [np.array([[0.4, -1.0], [-2.0, 0.001]]), np.array([0.5, -2.0])],
    [np.array([[0.3, 1.0], [2.0, 0.002]]), np.array([0.0, -1.0])],
]


def _one_step(student, name, w, g, **hyper):
    reply = student.run(run_steps, Ref(name), [np.array(w)], [[np.array(g)]], hyper)
    got = reply["history"][0]
    true(isinstance(got, (list, tuple)) and len(got) == 1, f"{name}: the step should return a list of 1 array")
    return got[0]


def _random_problem(rng, shapes, steps, scales=None):
    params = [rng.normal(size=s) for s in shapes]
    if scales is None:
        grads = [[rng.normal(size=s) * rng.uniform(0.1, 3.0) for s in shapes] for _ in range(steps)]
    else:
        grads = [[rng.normal(size=s) * rng.choice(scales) for s in shapes] for _ in range(steps)]
    return params, grads


@test("test_sgd_step", numpy_only=True)
def sgd_on_the_lessons_examples(student, rng):
    close(_one_step(student, "sgd_step", [1.0, 2.0], [0.5, -1.0], learning_rate=0.1), [0.95, 2.1], "one plain SGD step")
    for optimizer, hyper, what in [
        (keras.optimizers.SGD(0.1), dict(learning_rate=0.1), "SGD"),
        (keras.optimizers.SGD(0.1, momentum=0.9), dict(learning_rate=0.1, momentum=0.9), "SGD with momentum"),
        (
            keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
            dict(learning_rate=0.1, momentum=0.9, nesterov=True),
            "Nesterov",
        ),
    ]:
        _check_steps(
            student, "sgd_step", optimizer, hyper, DEMO_PARAMS, DEMO_GRADS, f"{what} on the demo steps", atol=1e-6
        )


@test("test_sgd_step", numpy_only=True)
def sgd_matches_keras(student, rng):
    for lr, beta, nesterov in [(0.05, 0.0, False), (0.02, 0.9, False), (0.1, 0.5, True), (0.01, 0.99, True)]:
        params, grads = _random_problem(rng, [(3, 4), (4,), (2, 2, 2)], 6)
        _check_steps(
            student,
            "sgd_step",
            keras.optimizers.SGD(lr, momentum=beta, nesterov=nesterov),
            dict(learning_rate=lr, momentum=beta, nesterov=nesterov),
            params,
            grads,
            f"SGD(lr={lr}, momentum={beta}, nesterov={nesterov}) on random gradients",
            in_place=True,
        )


@test("test_adagrad_step", numpy_only=True)
def adagrad_on_the_lessons_examples(student, rng):
    close(
        _one_step(student, "adagrad_step", [1.0], [0.3], learning_rate=0.1),
        [1.0 - 0.1 * 0.3 / np.sqrt(0.1 + 0.09 + 1e-7)],
        "one Adagrad step from w=1, g=0.3 (the accumulator starts at initial_accumulator_value=0.1, not at 0)",
    )
    _check_steps(
        student,
        "adagrad_step",
        keras.optimizers.Adagrad(0.1),
        dict(learning_rate=0.1),
        DEMO_PARAMS,
        DEMO_GRADS,
        "Adagrad on the demo steps",
        atol=1e-6,
    )
    _check_steps(
        student,
        "adagrad_step",
        keras.optimizers.Adagrad(0.1, initial_accumulator_value=0.0, epsilon=0.01),
        dict(learning_rate=0.1, initial_accumulator_value=0.0, epsilon=0.01),
        DEMO_PARAMS,
        DEMO_GRADS,
        "Adagrad with initial_accumulator_value=0, epsilon=0.01 on the demo steps",
        atol=1e-6,
    )


@test("test_adagrad_step", numpy_only=True)
def adagrad_matches_keras(student, rng):
    for lr, init, eps in [(0.1, 0.1, 1e-7), (0.5, 1.0, 1e-7), (0.05, 0.0, 0.1), (0.2, 0.01, 1e-3)]:
        params, grads = _random_problem(rng, [(5, 3), (3,)], 6, scales=[1e-3, 0.1, 2.0])
        _check_steps(
            student,
            "adagrad_step",
            keras.optimizers.Adagrad(lr, initial_accumulator_value=init, epsilon=eps),
            dict(learning_rate=lr, initial_accumulator_value=init, epsilon=eps),
            params,
            grads,
            f"Adagrad(lr={lr}, init={init}, eps={eps}) on random gradients",
        )


@test("test_rmsprop_step", numpy_only=True)
def rmsprop_on_the_lessons_examples(student, rng):
    close(
        _one_step(student, "rmsprop_step", [1.0], [0.3], learning_rate=0.01),
        [1.0 - 0.01 * 0.3 / np.sqrt(0.1 * 0.09 + 1e-7)],
        "one RMSprop step from w=1, g=0.3 (the average starts at 0: after one step it is (1 - rho) * g**2)",
    )
    _check_steps(
        student,
        "rmsprop_step",
        keras.optimizers.RMSprop(0.01),
        dict(learning_rate=0.01),
        DEMO_PARAMS,
        DEMO_GRADS,
        "RMSprop on the demo steps",
        atol=1e-6,
    )
    _check_steps(
        student,
        "rmsprop_step",
        keras.optimizers.RMSprop(0.01, rho=0.5, epsilon=0.01),
        dict(learning_rate=0.01, rho=0.5, epsilon=0.01),
        DEMO_PARAMS,
        DEMO_GRADS,
        "RMSprop with rho=0.5, epsilon=0.01 on the demo steps",
        atol=1e-6,
    )


@test("test_rmsprop_step", numpy_only=True)
def rmsprop_matches_keras(student, rng):
    for lr, rho, eps in [(0.01, 0.9, 1e-7), (0.001, 0.99, 1e-7), (0.05, 0.5, 0.1), (0.02, 0.8, 1e-3)]:
        params, grads = _random_problem(rng, [(4, 2), (2,), (1,)], 6, scales=[1e-3, 0.1, 2.0])
        _check_steps(
            student,
            "rmsprop_step",
            keras.optimizers.RMSprop(lr, rho=rho, epsilon=eps),
            dict(learning_rate=lr, rho=rho, epsilon=eps),
            params,
            grads,
            f"RMSprop(lr={lr}, rho={rho}, eps={eps}) on random gradients",
        )


@test("test_adam_step", numpy_only=True)
def adam_on_the_lessons_examples(student, rng):
    close(
        _one_step(student, "adam_step", [1.0, 1.0], [0.3, -0.002], learning_rate=0.01),
        [0.99, 1.01],
        "one Adam step (with bias correction the first step is about learning_rate * sign(g))",
        rtol=1e-4,
    )
    for optimizer, hyper, what in [
        (keras.optimizers.Adam(0.01), dict(learning_rate=0.01), "Adam"),
        (keras.optimizers.Adam(0.01, epsilon=0.1), dict(learning_rate=0.01, epsilon=0.1), "Adam with epsilon=0.1"),
        (
            keras.optimizers.AdamW(0.01, weight_decay=0.5),
            dict(learning_rate=0.01, weight_decay=0.5),
            "AdamW with weight_decay=0.5",
        ),
    ]:
        _check_steps(
            student, "adam_step", optimizer, hyper, DEMO_PARAMS, DEMO_GRADS, f"{what} on the demo steps", atol=1e-6
        )


@test("test_adam_step", numpy_only=True)
def adam_and_adamw_match_keras(student, rng):
    cases = [
        (keras.optimizers.Adam, dict(learning_rate=0.01)),
        (keras.optimizers.Adam, dict(learning_rate=0.1, beta_1=0.5, beta_2=0.9)),
        (keras.optimizers.Adam, dict(learning_rate=0.02, epsilon=0.05)),
        (keras.optimizers.AdamW, dict(learning_rate=0.01, weight_decay=0.004)),
        (keras.optimizers.AdamW, dict(learning_rate=0.05, weight_decay=0.3, beta_1=0.8, epsilon=0.01)),
    ]
    for cls, hyper in cases:
        shapes = [(3, 3), (3,), (2, 1)]
        params = [rng.normal(size=s) * 2 for s in shapes]
        grads = [[rng.normal(size=s) * rng.choice([1e-3, 0.1, 2.0]) for s in shapes] for _ in range(8)]
        _check_steps(
            student, "adam_step", cls(**hyper), hyper, params, grads, f"{cls.__name__}({hyper}) on random gradients"
        )


# ----------------------------------------------------------- an optimizer within a budget


@driver
def optimizer_facts(make_optimizer):
    """What make_optimizer returns, twice: is it a Keras optimizer, and a new one each time?"""
    import keras

    first, second = make_optimizer(), make_optimizer()
    return {
        "optimizer": isinstance(first, keras.optimizers.Optimizer),
        "type": type(first).__name__,
        "new": first is not second,
    }


def _budget_problem(seed, n=512, d=8):
    """The lesson's budget_problem(seed): inputs with feature scales from 0.2 to 5, targets (n, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.geomspace(0.2, 5.0, d)
    w = rng.normal(size=(d, 1))
    y = 2.0 * np.tanh(x @ w / 3.0) + 0.1 * rng.normal(size=(n, 1))
    return x.astype("float32"), y.astype("float32")


def _rebuilt_optimizer(student):
    """A new optimizer made here from the class name and configuration of the one make_optimizer returns."""
    handle = student.call("make_optimizer")
    true(isinstance(handle, Handle), f"make_optimizer should return a keras optimizer, got {type(handle).__name__}")
    name = student.get((handle, "__class__", "__name__"))
    cls = getattr(keras.optimizers, name, None) if isinstance(name, str) and name.isidentifier() else None
    true(
        isinstance(cls, type) and issubclass(cls, keras.optimizers.Optimizer),
        f"make_optimizer should return one of Keras's own optimizers (keras.optimizers.SGD, Adam, ...), "
        f"got a {name if isinstance(name, str) else 'value'}",
    )
    config = student.call((handle, "get_config"))
    true(isinstance(config, dict), f"the configuration of the {name} optimizer could not be read")
    try:
        optimizer = keras.saving.deserialize_keras_object(
            {"module": "keras.optimizers", "class_name": name, "config": config, "registered_name": None},
            safe_mode=True,
        )
    except Exception:
        optimizer = None
    true(
        isinstance(optimizer, cls),
        f"the {name} optimizer could not be rebuilt from its configuration "
        "(use Keras's own optimizers and learning-rate schedules)",
    )
    return optimizer


def _final_loss(optimizer, seed):
    """The lesson's train_within_budget: 5 epochs at batch size 64, the final training MSE."""
    x, y = _budget_problem(seed)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(shape=(x.shape[1],)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=optimizer, loss="mse")
    history = model.fit(x, y, batch_size=64, epochs=5, shuffle=False, verbose=0)
    return float(history.history["loss"][-1])


@test("test_make_optimizer")
def make_optimizer_returns_new_keras_optimizers(student, rng):
    facts = student.run(optimizer_facts, Ref("make_optimizer"))
    true(
        isinstance(facts, dict) and facts.get("optimizer") is True,
        f"make_optimizer should return a keras optimizer, got {facts.get('type') if isinstance(facts, dict) else '?'} "
        "(for example keras.optimizers.SGD(learning_rate=...))",
    )
    true(
        facts.get("new") is True,
        "make_optimizer should build a new optimizer on every call (create the optimizer inside the function)",
    )


@test("test_make_optimizer")
def make_optimizer_reaches_the_target_loss(student, rng):
    for seed in [1, 7, 12]:  # the lesson's problem, then two hidden ones made the same way
        final = number(_final_loss(_rebuilt_optimizer(student), seed), "the final training loss")
        which = "budget_problem(1)" if seed == 1 else "a hidden problem made like budget_problem"
        true(final < 0.15, f"the final loss on {which} is {final:.3f}, not below 0.15")

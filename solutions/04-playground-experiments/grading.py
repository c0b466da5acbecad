"""Hidden tests of lesson 04: Playground's data sets, feature crossing, the model builder, the spiral setting.

The data sets and the features come back as arrays and are judged here. The model
builder's model is rebuilt here from its config and weights (Keras's own layers only)
and run on inputs chosen here; how it was compiled (optimizer, the lesson's loss and the
penalty) is the student's kernel's business, so a driver reports the optimizer and the
compiled loss on weights and data chosen here. The spiral setting is data: it is trained
here with the grader's own copy of the Playground builder.
"""

import math

import keras
import numpy as np

from autograder.hidden import close, driver, equal, integer, number, raises, shape, test, true
from autograder.student import Ref

FEATURES = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
DEFAULT = {
    "features": ["x1", "x2"],
    "hidden": [4, 2],
    "activation": "tanh",
    "learning_rate": 0.03,
    "regularization": None,
    "reg_rate": 0.0,
    "problem": "classification",
    "batch_size": 10,
}
NAMES = ["gauss", "circle", "xor", "spiral", "plane"]


# ------------------------------------------------------------------------- data sets


def _data(student, name, n, noise, seed):
    result = student.call("make_dataset", name, n, noise, seed)
    true(isinstance(result, tuple) and len(result) == 2, f"make_dataset({name!r}, ...) should return (x, y)")
    x = shape(result[0], (n, 2), f"x of make_dataset({name!r}, n={n})")
    y = shape(result[1], (n,), f"y of make_dataset({name!r}, n={n}) (labels as a flat array of shape (n,))")
    return x, y


def _seed(rng):
    return int(rng.integers(0, 10_000))


@test("test_make_dataset")
def datasets_have_the_right_form(student, rng):
    seed = _seed(rng)
    for name in NAMES:
        x, y = _data(student, name, 200, 0.0, seed)
        if name != "plane":
            true(set(np.unique(y)) <= {-1.0, 1.0}, f"{name}: labels should be -1 and +1")
    x, y = _data(student, "spiral", 200, 0.0, seed)
    equal(int(np.sum(y == 1)), 100, "the number of +1 points in a 200-point spiral")
    true(
        np.any(y[:100] == 1) and np.any(y[:100] == -1),
        "the first half of the spiral holds one class only (shuffle the points before returning them)",
    )
    x, y = _data(student, "circle", 200, 0.0, seed)
    radius = np.hypot(x[:, 0], x[:, 1])
    true(
        np.all(radius[y == 1] <= 2.5) and np.all((radius[y == -1] >= 3.5) & (radius[y == -1] <= 5.0)),
        "circle without noise: +1 points should lie within 2.5 of the origin, -1 points between 3.5 and 5",
    )
    x, y = _data(student, "plane", 200, 0.0, seed)
    close(y, (x[:, 0] + x[:, 1]) / 10, "the plane's target without noise")
    for name in NAMES:
        seed = _seed(rng)
        a, b = _data(student, name, 300, 0.2, seed), _data(student, name, 300, 0.2, seed)
        close(a[0], b[0], f"{name}: x from the same seed twice (use only default_rng(seed))", rtol=0, atol=0)
        close(a[1], b[1], f"{name}: y from the same seed twice (use only default_rng(seed))", rtol=0, atol=0)
        true(
            not np.allclose(a[0], _data(student, name, 300, 0.2, seed + 1)[0]),
            f"{name}: another seed gives the same points",
        )
        _data(student, name, 1000, 0.3, _seed(rng))


@test("test_make_dataset")
def gauss_and_circle_follow_playground(student, rng):
    for noise in [0.0, 0.2]:
        x, y = _data(student, "gauss", 8000, noise, 11)  # a fixed seed: the tolerances are a few standard errors
        equal(int(np.sum(y == 1)), 4000, f"the number of +1 points of 8000 gauss points (noise {noise})")
        for label, centre in [(1, 2.0), (-1, -2.0)]:
            part = x[y == label]
            close(
                part.mean(axis=0), [centre, centre], f"gauss centre of class {label} (noise {noise})", atol=0.12, rtol=0
            )
            close(
                part.var(axis=0),
                [0.5 + 7 * noise] * 2,
                f"gauss variance of class {label} with noise {noise}",
                rtol=0.08,
            )
    seed = _seed(rng)
    x, y = _data(student, "circle", 2000, 0.0, seed)
    radius = np.hypot(x[:, 0], x[:, 1])
    equal(int(np.sum(y == 1)), 1000, "the number of +1 points of 2000 circle points")
    true(np.all(radius[y == 1] <= 2.5) and radius[y == 1].max() > 2.3, "circle: the radii of the inner points")
    true(
        np.all((radius[y == -1] >= 3.5) & (radius[y == -1] <= 5.0)) and radius[y == -1].min() < 3.6,
        "circle: the radii of the outer ring",
    )
    x, y = _data(student, "circle", 2000, 0.5, seed)
    radius = np.hypot(x[:, 0], x[:, 1])
    true(
        np.all((radius <= 2.5) | ((radius >= 3.5) & (radius <= 5.0))),
        "circle with noise: points moved (noise shifts the point used for the label, not the stored point)",
    )
    flipped = np.mean((radius <= 2.5) != (y == 1))
    true(0.15 < flipped < 0.45, f"circle with noise 0.5: {flipped:.0%} of labels disagree with the radius")


@test("test_make_dataset")
def xor_spiral_and_plane_follow_playground(student, rng):
    x, y = _data(student, "xor", 4000, 0.0, _seed(rng))
    true(np.all(np.abs(x) >= 0.3 - 1e-12) and np.all(np.abs(x) <= 5.3 + 1e-12), "xor: the range of the coordinates")
    close(y, np.where(x[:, 0] * x[:, 1] >= 0, 1.0, -1.0), "xor labels without noise")
    true(abs(y.mean()) < 0.1, "xor: the classes are unbalanced")
    x, y = _data(student, "xor", 4000, 0.5, _seed(rng))
    wrong = np.mean(y != np.where(x[:, 0] * x[:, 1] >= 0, 1.0, -1.0))
    true(0.1 < wrong < 0.4, f"xor with noise 0.5: {wrong:.0%} of labels disagree with the quadrant")

    x, y = _data(student, "spiral", 600, 0.0, _seed(rng))
    equal(int(np.sum(y == 1)), 300, "the number of +1 points of a 600-point spiral")
    r = np.hypot(x[:, 0], x[:, 1])
    t = 1.75 * 2 * np.pi * r / 5.0 + np.where(y == 1, 0.0, np.pi)
    close(x, np.c_[r * np.sin(t), r * np.cos(t)], "spiral points on their arms", atol=1e-9)
    close(np.sort(r[y == 1]), 5.0 * np.arange(300) / 300, "the radii of the spiral's +1 arm", atol=1e-9)
    x, y = _data(student, "spiral", 600, 0.5, _seed(rng))
    equal(int(np.sum(y == 1)), 300, "the number of +1 points of a noisy spiral")
    r = np.hypot(x[:, 0], x[:, 1])
    true(np.all(np.abs(x) <= 5.5 + 1e-9), "spiral with noise 0.5: points moved too far")
    t = 1.75 * 2 * np.pi * r / 5.0 + np.where(y == 1, 0.0, np.pi)
    off_arm = np.mean(np.abs(x - np.c_[r * np.sin(t), r * np.cos(t)]))
    true(off_arm > 0.05, "spiral with noise 0.5: the points did not move (add noise * uniform(-1, 1))")

    x, y = _data(student, "plane", 3000, 0.0, _seed(rng))
    true(np.all(np.abs(x) <= 6.0) and np.abs(x).max() > 5.9, "plane: x should fill [-6, 6]")
    close(y, (x[:, 0] + x[:, 1]) / 10, "the plane's target")
    x, y = _data(student, "plane", 3000, 0.5, _seed(rng))
    gap = np.abs(y - (x[:, 0] + x[:, 1]) / 10)
    true(gap.max() <= 0.6 + 1e-9 and gap.mean() > 0.1, "plane with noise: the shift of the target is out of range")


# -------------------------------------------------------------------------- features


def _reference_features(points, names):
    x1, x2 = points[:, 0], points[:, 1]
    table = {
        "x1": x1,
        "x2": x2,
        "x1^2": x1**2,
        "x2^2": x2**2,
        "x1*x2": x1 * x2,
        "sin(x1)": np.sin(x1),
        "sin(x2)": np.sin(x2),
    }
    return np.stack([table[k] for k in names], axis=1)


@test("test_cross_features")
def cross_features_builds_the_columns(student, rng):
    points = np.array([[1.0, 2.0], [-3.0, 0.5]])
    close(student.call("cross_features", points, ["x1", "x2"]), points, "cross_features(points, ['x1', 'x2'])")
    close(
        student.call("cross_features", points, ["x1*x2", "x2^2", "sin(x1)"]),
        [[2.0, 4.0, np.sin(1.0)], [-1.5, 0.25, np.sin(-3.0)]],
        "cross_features with three features (the columns follow the order of names)",
    )
    pts = rng.uniform(-6, 6, size=(50, 2))
    order = list(rng.permutation(FEATURES))
    for names in [FEATURES, FEATURES[::-1], order, ["sin(x2)"], ["x1^2", "x1^2", "x2"], ["x1*x2", "x1"]]:
        close(
            student.call("cross_features", pts, names),
            _reference_features(pts, names),
            f"cross_features(random points, {names})",
            rtol=1e-10,
            atol=1e-12,
        )
    shape(
        student.call("cross_features", pts[:1], ["x1", "x2", "x1*x2"]),
        (1, 3),
        "cross_features of one point, three features",
    )
    for bad in [["x3"], ["X1"], ["x1", "cos(x1)"]]:
        raises("ValueError", lambda bad=bad: student.call("cross_features", pts, bad), f"cross_features(..., {bad})")


# --------------------------------------------------------------------- model builder


@driver
def compiled_facts(build_model, config, weights, x, y):
    """How build_model(config) is compiled: its optimizer, learning rate, and its loss on (x, y) with `weights`."""
    import keras

    model = build_model(config)
    optimizer = getattr(model, "optimizer", None)
    facts = {"compiled": optimizer is not None, "optimizer": type(optimizer).__name__}
    if optimizer is None:
        return facts
    facts["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    model.set_weights(weights)
    facts["loss"] = float(model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)["loss"])
    return facts


ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "linear": lambda z: z,
}


def _check_model(student, rng, config):
    k = len(config["features"])
    label = f"hidden {config['hidden']}, {config['activation']}, {config['problem']}, {config['regularization']}"
    model = student.model("build_model", config)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    equal([layer.units for layer in dense], list(config["hidden"]) + [1], f"the Dense layers' units for {label}")
    sizes = [k] + list(config["hidden"]) + [1]
    equal(
        model.count_params(),
        sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])),
        f"the parameter count for hidden {config['hidden']} with {k} features",
    )
    for layer in dense:  # as built: Playground's initialization
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in (layer.kernel, layer.bias))
        true(np.all(np.abs(kernel) <= 0.5), f"the initial kernel weights ({label}) should lie in [-0.5, 0.5]")
        close(bias, np.full(layer.units, 0.1), f"the initial biases ({label})")

    # behaviour: random weights, outputs and loss against a forward pass written here
    weights = [rng.uniform(-1, 1, size=w.shape) for w in model.get_weights()]
    model.set_weights(weights)
    x = rng.uniform(-3, 3, size=(20, k))
    y = rng.choice([-1.0, 1.0], size=(20, 1))
    h = x
    for i in range(len(config["hidden"])):
        h = ACTIVATIONS[config["activation"]](h @ weights[2 * i] + weights[2 * i + 1])
    out = h @ weights[-2] + weights[-1]
    if config["problem"] == "classification":
        out = np.tanh(out)
    # float32 tolerance that also covers TF32 matrix products on GPUs
    close(keras.ops.convert_to_numpy(model(x.astype("float32"))), out, f"the output for {label}", rtol=5e-3, atol=1e-3)

    facts = student.run(
        compiled_facts,
        Ref("build_model"),
        config,
        [w.astype("float32") for w in weights],
        x.astype("float32"),
        y.astype("float32"),
    )
    true(
        isinstance(facts, dict) and facts.get("compiled") is True,
        "the model is not compiled (call model.compile(...) before returning)",
    )
    equal(facts.get("optimizer"), "SGD", f"the optimizer ({label})")
    close(
        number(facts.get("learning_rate"), "the learning rate"),
        config["learning_rate"],
        f"the learning rate ({label})",
        rtol=1e-6,
    )
    kernels = weights[0::2]
    penalty = 0.0
    if config["regularization"] == "L1":
        penalty = config["reg_rate"] * sum(np.abs(w).sum() for w in kernels)
    elif config["regularization"] == "L2":
        penalty = config["reg_rate"] / 2 * sum((w**2).sum() for w in kernels)
    close(
        number(facts.get("loss"), "the loss"),
        0.5 * np.mean((out - y) ** 2) + penalty,
        f"the loss (half squared error + penalty) for {label}",
        rtol=5e-3,
        atol=1e-3,
    )


@test("test_build_model")
def build_model_for_the_default_setting(student, rng):
    _check_model(student, rng, dict(DEFAULT))


@test("test_build_model")
def build_model_for_other_settings(student, rng):
    for config in [
        dict(DEFAULT, features=FEATURES, hidden=[8], activation="relu", learning_rate=0.3),
        dict(DEFAULT, features=["x1^2", "x2^2"], hidden=[], activation="sigmoid", learning_rate=1.0),
        dict(DEFAULT, features=FEATURES[:5], hidden=[3, 3, 2], activation="linear", regularization="L1", reg_rate=0.01),
        dict(DEFAULT, hidden=[5], regularization="L2", reg_rate=0.03, problem="regression", learning_rate=0.01),
    ]:
        _check_model(student, rng, config)


# ---------------------------------------------------------------------- spiral setting


def _spiral(n, seed):
    rng = np.random.default_rng(seed)
    m = n // 2
    pts, labels = [], []
    for delta, label in [(0.0, 1.0), (np.pi, -1.0)]:
        i = np.arange(m)
        r, t = 5.0 * i / m, 1.75 * 2 * np.pi * i / m + delta
        pts.append(np.c_[r * np.sin(t), r * np.cos(t)])
        labels.append(np.full(m, label))
    x, y = np.vstack(pts), np.concatenate(labels)
    order = rng.permutation(n)
    return x[order], y[order]


def _setting(student):
    """The student's spiral setting, checked as data before anything is built from it."""
    config = student.call("spiral_config")
    true(isinstance(config, dict), "spiral_config should return a dict")
    for key in ["features", "hidden", "activation", "learning_rate", "batch_size", "epochs"]:
        true(key in config, f"the setting has no {key!r} (start from dict(DEFAULT, ...))")
    features, hidden = config["features"], config["hidden"]
    true(
        isinstance(features, (list, tuple))
        and len(features) > 0
        and all(isinstance(f, str) for f in features)
        and set(features) <= set(FEATURES),
        "the setting's features should be a list of names from FEATURES",
    )
    true(
        isinstance(hidden, (list, tuple)) and all(type(u) is int and u > 0 for u in hidden),
        "the setting's hidden should be a list of positive whole numbers",
    )
    true(config["activation"] in ACTIVATIONS, "the setting's activation should be tanh, relu, sigmoid or linear")
    epochs = integer(config["epochs"], "the setting's epochs")
    batch = integer(config["batch_size"], "the setting's batch_size")
    true(epochs <= 100, f"epochs is {epochs}, the limit is 100")
    true(batch >= 5, f"batch_size is {batch}, the minimum is 5")
    lr = number(config["learning_rate"], "the setting's learning_rate")
    regularization = config.get("regularization")
    true(regularization in (None, "L1", "L2"), "the setting's regularization should be None, 'L1' or 'L2'")
    reg_rate = number(config.get("reg_rate", 0.0), "the setting's reg_rate")
    sizes = [len(features)] + list(hidden) + [1]
    size = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    true(size <= 60, f"the model has {size} parameters, the limit is 60")
    return config, dict(
        features=list(features),
        hidden=list(hidden),
        activation=config["activation"],
        epochs=epochs,
        batch_size=batch,
        learning_rate=lr,
        regularization=regularization,
        reg_rate=reg_rate,
    )


@driver
def spiral_trial(run_experiment, config, seed):
    """The lesson's run_experiment on the spiral with the student's setting and functions."""
    result = run_experiment(config, "spiral", epochs=config["epochs"], seed=seed)
    return {"accuracy": float(result["test_accuracy"]), "parameters": int(result["model"].count_params())}


@test("test_spiral_config", seconds=300)
def spiral_setting_in_the_lessons_playground(student, rng):
    config, _ = _setting(student)
    trial = student.run(spiral_trial, Ref("run_experiment"), config, 21)
    true(isinstance(trial, dict), "run_experiment with the spiral setting did not finish")
    parameters = integer(trial.get("parameters"), "the parameter count of build_model(spiral_config())")
    true(parameters <= 60, f"build_model(spiral_config()) has {parameters} parameters, the limit is 60")
    accuracy = number(trial.get("accuracy"), "the test accuracy")
    true(
        accuracy >= 0.75,
        f"test accuracy {accuracy:.3f} with run_experiment(spiral_config(), 'spiral', seed=21) is below 0.75",
    )


@test("test_spiral_config")
def spiral_setting_with_the_graders_builder(student, rng):
    _, s = _setting(student)
    regularizer = {
        None: None,
        "L1": keras.regularizers.L1(s["reg_rate"]),
        "L2": keras.regularizers.L2(s["reg_rate"] / 2),
    }[s["regularization"]]
    accuracies = []
    for seed in [101, 202]:  # fixed seeds: training is judged with a generous threshold
        keras.utils.set_random_seed(seed)
        common = dict(
            kernel_initializer=keras.initializers.RandomUniform(-0.5, 0.5),
            bias_initializer=keras.initializers.Constant(0.1),
            kernel_regularizer=regularizer,
        )
        model = keras.Sequential(
            [keras.Input(shape=(len(s["features"]),))]
            + [keras.layers.Dense(u, activation=s["activation"], **common) for u in s["hidden"]]
            + [keras.layers.Dense(1, activation="tanh", **common)]
        )
        true(model.count_params() <= 60, f"the model has {model.count_params()} parameters, over 60")
        steps = -(-250 // s["batch_size"])
        model.compile(
            optimizer=keras.optimizers.SGD(s["learning_rate"]),
            loss=lambda t, p: 0.5 * keras.ops.mean(keras.ops.square(p - t), axis=-1),
            steps_per_execution=steps,
        )
        x, y = _spiral(250, seed)
        model.fit(
            _reference_features(x, s["features"]).astype("float32"),
            y[:, None].astype("float32"),
            batch_size=s["batch_size"],
            epochs=s["epochs"],
            verbose=0,
        )
        x_new, y_new = _spiral(1000, seed + 1)
        out = keras.ops.convert_to_numpy(model(_reference_features(x_new, s["features"]).astype("float32")))[:, 0]
        accuracies.append(np.mean(np.where(out >= 0, 1.0, -1.0) == y_new))
    mean = float(np.mean(accuracies))
    true(
        math.isfinite(mean) and mean >= 0.8,
        f"the mean test accuracy on fresh spiral points is {mean:.3f}, "
        "too low (trained with the grader's own Playground builder on two other seeds)",
    )

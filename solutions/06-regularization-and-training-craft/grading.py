"""Hidden tests of lesson 06: diagnosing curves, penalties, inverted dropout, batch normalization
and a regularized MLP.

The penalties, dropout and batch normalization are NumPy-only exercises: the student's answers
run where only NumPy exists, and are compared with Keras's regularizers, its Dropout and
BatchNormalization layers and its SGD optimizer, run here. `diagnose` and the regularized model
run in the student's kernel; the model is trained there by a driver, with a fixed seed.
"""

import keras
import numpy as np

from autograder.hidden import array, close, driver, equal, shape, test, true
from autograder.student import Ref

# ---------------------------------------------------------------------- exercise 1: diagnose


def _diagnosis(logs, target, rise=0.1, gap=1.5):
    loss, val = np.asarray(logs["loss"], float), np.asarray(logs["val_loss"], float)
    if val[-1] > (1 + rise) * val.min() or val[-1] > gap * loss[-1]:
        return "overfit"
    return "underfit" if loss[-1] > target else "good fit"


@driver
def diagnose_history_object(diagnose, logs, target_loss):
    """diagnose() given what model.fit returns: a keras.callbacks.History holding the logs."""
    import keras

    history = keras.callbacks.History()
    history.history = logs
    return diagnose(history, target_loss=target_loss)


@test("test_diagnose")
def diagnose_follows_the_rules(student, rng):
    epochs = np.arange(1, 21)
    falling = 0.3 + 1.5 * np.exp(-epochs / 3)  # a curve that levels off at 0.3
    good = {"loss": [float(v) for v in falling - 0.05], "val_loss": [float(v) for v in falling]}
    over = {
        "loss": [float(v) for v in 1.5 * np.exp(-epochs / 4)],
        "val_loss": [float(v) for v in 0.4 + 0.002 * (epochs - 6) ** 2 + 0.5 * np.exp(-epochs)],
    }
    under = {
        "loss": [float(v) for v in 1.6 + 0.1 * np.exp(-epochs)],
        "val_loss": [float(v) for v in 1.62 + 0.1 * np.exp(-epochs)],
    }
    equal(student.call("diagnose", good, target_loss=0.5), "good fit", "diagnose(a curve that levels off)")
    equal(student.call("diagnose", over, target_loss=0.5), "overfit", "diagnose(a validation loss that turns up)")
    equal(student.call("diagnose", under, target_loss=0.5), "underfit", "diagnose(two high, flat curves)")
    equal(
        student.run(diagnose_history_object, Ref("diagnose"), good, 0.5),
        "good fit",
        "diagnose of a History object (use getattr(history, 'history', history) to accept both)",
    )
    cases = [
        ({"loss": [1.0, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.65]}, 0.5, {}),  # 8 % rise: not overfit
        ({"loss": [1.0, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.67]}, 0.5, {}),  # 11.7 % rise: overfit
        ({"loss": [1.0, 0.5, 0.2], "val_loss": [1.0, 0.6, 0.31]}, 0.5, {}),  # val 1.55 x train: overfit
        ({"loss": [1.0, 0.5, 0.2], "val_loss": [1.0, 0.6, 0.29]}, 0.5, {}),  # 1.45 x: good fit
        ({"loss": [1.0, 0.5, 0.2], "val_loss": [1.0, 0.6, 0.29]}, 0.5, {"gap": 1.4}),  # custom gap
        ({"loss": [1.0, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.65]}, 0.5, {"rise": 0.05}),  # custom rise
        ({"loss": [2.3, 2.2, 2.1], "val_loss": [2.3, 2.25, 2.2]}, 0.5, {}),  # underfit
        ({"loss": [2.3, 2.2, 2.1], "val_loss": [2.3, 2.25, 2.2]}, 2.5, {}),  # good for an easy target
        ({"loss": [0.9], "val_loss": [1.0]}, 0.95, {}),  # one epoch
    ]
    for _ in range(30):
        n = int(rng.integers(2, 40))
        train_curve = np.sort(rng.uniform(0.05, 2.0, n))[::-1]
        val_curve = train_curve * rng.uniform(1.0, 1.8) + rng.normal(0, 0.05, n)
        cases.append(
            (
                {"loss": [float(v) for v in train_curve], "val_loss": [float(v) for v in np.abs(val_curve)]},
                float(rng.uniform(0.05, 1.0)),
                {},
            )
        )
    for logs, target, kwargs in cases:
        shown = logs if len(logs["loss"]) < 5 else f"a random run of {len(logs['loss'])} epochs"
        equal(
            student.call("diagnose", logs, target, **kwargs),
            _diagnosis(logs, target, **kwargs),
            f"diagnose({shown}, target_loss={target:.3g}{', ' if kwargs else ''}"
            f"{', '.join(f'{k}={v}' for k, v in kwargs.items())})",
        )
    equal(
        student.call("diagnose", {"loss": np.array([1.0, 0.5]), "val_loss": np.array([1.0, 0.55])}, 0.6),
        "good fit",
        "diagnose with NumPy arrays",
    )


# ------------------------------------------------------------ exercise 2: penalties, weight decay


def _ndim0(got, what):
    true(np.ndim(got) == 0 and not isinstance(got, (str, dict)), f"{what} should return one number")
    return got


@test("test_penalties", numpy_only=True)
def penalties_match_keras(student, rng):
    w = [np.array([[0.5, -1.0], [2.0, 0.0]]), np.array([3.0])]
    close(_ndim0(student.call("l1_penalty", w, 0.01), "l1_penalty"), 0.065, "l1_penalty(w, 0.01) of the example")
    close(_ndim0(student.call("l2_penalty", w, 0.01), "l2_penalty"), 0.1425, "l2_penalty(w, 0.01) of the example")
    for sizes, l1, l2 in [
        ([5, 4, 3], 0.01, 0.0),
        ([7, 6, 6, 2], 0.0, 0.003),
        ([3, 8, 1], 0.02, 0.05),
        (
            [int(v) for v in rng.integers(2, 10, size=3)],
            float(rng.uniform(0.001, 0.05)),
            float(rng.uniform(0.001, 0.05)),
        ),
    ]:
        reg = keras.regularizers.L1L2(l1=l1, l2=l2)
        model = keras.Sequential(
            [keras.Input(shape=(sizes[0],))] + [keras.layers.Dense(n, kernel_regularizer=reg) for n in sizes[1:]]
        )
        for layer in model.layers:
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(size=kernel.shape).astype("float32"), bias])
        kernels = [layer.get_weights()[0] for layer in model.layers]
        expected = float(sum(float(keras.ops.convert_to_numpy(p)) for p in model.losses))
        got = float(_ndim0(student.call("l1_penalty", kernels, l1), "l1_penalty")) + float(
            _ndim0(student.call("l2_penalty", kernels, l2), "l2_penalty")
        )
        close(
            got,
            expected,
            f"l1_penalty + l2_penalty vs sum(model.losses) for Dense layers {sizes}, l1={l1:.3g}, l2={l2:.3g}",
            rtol=1e-4,
        )
        for k in kernels:
            close(
                student.call("l2_penalty", [k], 0.1),
                float(keras.ops.convert_to_numpy(keras.regularizers.L2(0.1)(k))),
                f"l2_penalty of one random {k.shape} kernel vs keras.regularizers.L2(0.1)",
                rtol=1e-4,
            )
            close(
                student.call("l1_penalty", [k], 0.1),
                float(keras.ops.convert_to_numpy(keras.regularizers.L1(0.1)(k))),
                f"l1_penalty of one random {k.shape} kernel vs keras.regularizers.L1(0.1)",
                rtol=1e-4,
            )
    close(student.call("l1_penalty", [np.array(-2.0)], 1.0), 2.0, "l1_penalty of a scalar array")


@test("test_penalties", numpy_only=True)
def sgd_step_l2_matches_keras_sgd(student, rng):
    close(
        student.call("sgd_step_l2", [1.0, -2.0], [0.5, 0.5], 0.1, 0.25),
        [0.9, -1.95],
        "sgd_step_l2([1, -2], [0.5, 0.5], 0.1, 0.25) (the penalty's gradient is 2 * l2 * w)",
    )
    close(
        student.call("sgd_step_l2", [1.0, -2.0], [0.0, 0.0], 0.1, 0.25),
        [0.95, -1.9],
        "sgd_step_l2 with a zero gradient: pure weight decay",
    )
    for shape_ in [(4,), (3, 5), (2, 3, 2)]:
        w, g = rng.normal(size=shape_), rng.normal(size=shape_)
        lr, l2 = float(rng.uniform(0.01, 0.5)), float(rng.uniform(0.0, 0.1))
        got = student.call("sgd_step_l2", w, g, lr, l2)
        close(got, w - lr * g - 2 * lr * l2 * w, f"sgd_step_l2 on a random {shape_} array")
        # the same step as Keras's SGD on a model whose loss is the penalty plus a linear term g . w
        var = keras.Variable(w.astype("float32"))
        keras.optimizers.SGD(learning_rate=lr).apply_gradients(
            [(keras.ops.convert_to_tensor((g + 2 * l2 * w).astype("float32")), var)]
        )
        close(
            got,
            keras.ops.convert_to_numpy(var),
            f"sgd_step_l2 vs keras SGD on a random {shape_} array",
            rtol=1e-4,
            atol=1e-5,
        )


# -------------------------------------------------------------------------- exercise 3: dropout


@driver
def keep_mask_from_seed(make_keep_mask, shape, rate, seed):
    """make_keep_mask with a NumPy generator made here from a seed (a generator cannot cross)."""
    import numpy as np

    return make_keep_mask(tuple(shape), rate, np.random.default_rng(seed))


@test("test_dropout", numpy_only=True)
def inverted_dropout_matches_keras(student, rng):
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    mask = np.array([[True, False, True, False]])
    close(student.call("inverted_dropout", x, 0.5, mask), [[2.0, 0.0, 6.0, 0.0]], "inverted_dropout(x, 0.5, mask)")
    close(student.call("inverted_dropout", x, 0.5, mask, training=False), x, "inverted_dropout in inference mode")
    for rate, shape_ in [
        (0.5, (8, 50)),
        (0.2, (4, 3, 30)),
        (0.8, (100,)),
        (0.45, (16, 16)),
        (float(np.round(rng.uniform(0.1, 0.9), 2)), (int(rng.integers(2, 20)), int(rng.integers(2, 20)))),
    ]:
        x = rng.uniform(0.5, 2.0, size=shape_).astype("float32")
        layer = keras.layers.Dropout(rate, seed=int(rng.integers(1000)))
        y = keras.ops.convert_to_numpy(layer(x, training=True))
        keras_mask = y != 0
        close(
            student.call("inverted_dropout", x, rate, keras_mask),
            y,
            f"inverted_dropout vs keras Dropout({rate}) on {shape_}, with Keras's mask",
            rtol=1e-5,
            atol=1e-6,
        )
        close(
            student.call("inverted_dropout", x, rate, keras_mask, training=False),
            keras.ops.convert_to_numpy(layer(x, training=False)),
            f"inverted_dropout in inference mode, rate {rate}",
        )


@test("test_dropout", numpy_only=True)
def keep_mask_keeps_the_right_share(student, rng):
    keep = student.run(keep_mask_from_seed, Ref("make_keep_mask"), (200, 500), 0.3, int(rng.integers(1 << 30)))
    shape(keep, (200, 500), "make_keep_mask((200, 500), 0.3, rng)")
    true(
        isinstance(keep, np.ndarray) and keep.dtype == np.bool_,
        f"make_keep_mask should return a boolean array, got {getattr(keep, 'dtype', type(keep).__name__)}",
    )
    true(abs(np.mean(keep) - 0.7) < 0.01, f"make_keep_mask with rate 0.3 keeps {np.mean(keep):.1%}, not about 70 %")
    for rate in (0.5, 0.2, 0.8, 0.45):
        seed, other = (int(v) for v in rng.choice(1 << 30, size=2, replace=False))
        keep = student.run(keep_mask_from_seed, Ref("make_keep_mask"), (400, 500), rate, seed)
        shape(keep, (400, 500), f"make_keep_mask((400, 500), {rate}, rng)")
        true(abs(np.mean(keep) - (1 - rate)) < 0.01, f"make_keep_mask with rate {rate} keeps {np.mean(keep):.3f}")
        keep2 = student.run(keep_mask_from_seed, Ref("make_keep_mask"), (400, 500), rate, other)
        true(not np.array_equal(keep, keep2), "different generators should give different masks")
    true(
        bool(np.all(student.run(keep_mask_from_seed, Ref("make_keep_mask"), (1000,), 0.0, int(rng.integers(1 << 30))))),
        "make_keep_mask with rate 0 should keep everything",
    )
    mask = student.run(keep_mask_from_seed, Ref("make_keep_mask"), (200, 500), 0.5, int(rng.integers(1 << 30)))
    ones = array(student.call("inverted_dropout", np.ones((200, 500)), 0.5, mask), "inverted_dropout on ones")
    close(np.mean(ones), 1.0, "the mean of inverted dropout (rate 0.5) on ones", rtol=0.02)


# ------------------------------------------------------------------ exercise 4: batch normalization


def _batchnorm(student, what, *args, **kwargs):
    result = student.call("batchnorm_forward", *args, **kwargs)
    true(
        isinstance(result, (tuple, list)) and len(result) == 3,
        f"{what}: batchnorm_forward should return (y, new_moving_mean, new_moving_var)",
    )
    return result


@test("test_batchnorm", numpy_only=True)
def batchnorm_matches_keras(student, rng):
    batch = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 40.0]])
    ones, zeros = np.ones(2), np.zeros(2)
    y, new_mean, new_var = _batchnorm(
        student, "the example in training mode", batch, ones, zeros, zeros, ones, training=True
    )
    close(
        y,
        [[-1.2243, -0.7070], [0.0, -0.7070], [1.2243, 1.4140]],
        "the example's y in training mode",
        rtol=1e-3,
        atol=1e-3,
    )
    close(new_mean, [0.03, 0.2], "the example's new moving mean")
    close(new_var, [0.99 + 0.01 * 8 / 3, 0.99 + 0.01 * 200], "the example's new moving variance")
    y, m, v = _batchnorm(student, "the example in inference mode", batch, ones, zeros, zeros, ones, training=False)
    close(y, batch / np.sqrt(1.001), "the example's y in inference mode", rtol=1e-5)
    close(m, zeros, "the moving mean in inference mode (unchanged)")
    close(v, ones, "the moving variance in inference mode (unchanged)")
    for shape_, momentum, epsilon in [
        ((16, 5), 0.99, 1e-3),
        ((8, 3), 0.9, 1e-5),
        ((4, 6, 6, 3), 0.99, 1e-3),
        ((32, 1), 0.5, 0.01),
        ((int(rng.integers(4, 20)), int(rng.integers(1, 8))), float(rng.uniform(0.5, 0.99)), 1e-3),
    ]:
        c = shape_[-1]
        x = rng.normal(loc=rng.uniform(-3, 3, c), scale=rng.uniform(0.5, 4, c), size=shape_).astype("float32")
        gamma, beta = rng.uniform(0.5, 2, c).astype("float32"), rng.normal(size=c).astype("float32")
        mm, mv = rng.normal(size=c).astype("float32"), rng.uniform(0.5, 3, c).astype("float32")
        for training in (True, False):
            layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
            layer.build(shape_)
            layer.set_weights([gamma, beta, mm, mv])
            expected = keras.ops.convert_to_numpy(layer(x, training=training))
            what = f"batchnorm_forward on a random {shape_} batch, training={training}, momentum={momentum:.3g}"
            y, new_m, new_v = _batchnorm(
                student, what, x, gamma, beta, mm, mv, training=training, momentum=momentum, epsilon=epsilon
            )
            close(y, expected, what + ": output", rtol=1e-4, atol=1e-4)
            close(new_m, keras.ops.convert_to_numpy(layer.moving_mean), what + ": moving mean", rtol=1e-4, atol=1e-5)
            close(
                new_v,
                keras.ops.convert_to_numpy(layer.moving_variance),
                what + ": moving variance",
                rtol=1e-4,
                atol=1e-5,
            )
    gamma, beta = rng.uniform(0.5, 3.0), rng.normal()
    y, _, _ = _batchnorm(
        student,
        "batchnorm_forward with epsilon=0",
        rng.normal(size=(10, 4)),
        np.full(4, gamma),
        np.full(4, beta),
        np.zeros(4),
        np.ones(4),
        training=True,
        epsilon=0.0,
    )
    y = shape(y, (10, 4), "batchnorm_forward's output on a 10 x 4 batch")
    close(y.mean(axis=0), np.full(4, beta), "the output mean equals beta in training mode", atol=1e-6)
    close(y.std(axis=0), np.full(4, gamma), "the output std equals gamma in training mode (epsilon=0)", rtol=1e-6)


# ------------------------------------------------------------- exercise 5: a regularized MLP


@driver
def gap_run(build_regularized_mlp, seed, first):
    """Build with `seed` and train as the exercise says on training images first..first+1000
    (the notebook's own try uses seed 0 and the first 1,000); (train accuracy, test accuracy)."""
    import keras

    from course_lib import datasets

    keras.utils.set_random_seed(seed)
    model = build_regularized_mlp()
    (xa, ya), (xb, yb) = datasets.load("fashion_mnist", smoke=True)
    xa, ya = xa[first : first + 1000].reshape(1000, -1).astype("float32") / 255.0, ya[first : first + 1000]
    xb, yb = xb[:1000].reshape(1000, -1).astype("float32") / 255.0, yb[:1000]
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(xa, ya, batch_size=64, epochs=30, verbose=0)
    return (
        float(model.evaluate(xa, ya, batch_size=1000, verbose=0)[1]),
        float(model.evaluate(xb, yb, batch_size=1000, verbose=0)[1]),
    )


@test("test_regularized_mlp")
def regularized_model_keeps_the_architecture(student, rng):
    model = student.model("build_regularized_mlp")
    equal(tuple(model.input_shape[1:]), (784,), "the model's input shape")
    equal(tuple(model.output_shape[1:]), (10,), "the model's output shape")
    hidden = [int(layer.units) for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    equal(hidden, [256, 256], "the hidden Dense layers' units (keep exactly two hidden Dense(256) layers)")


@test("test_regularized_mlp", seconds=600)
def regularized_model_closes_the_gap(student, rng):
    # Not the run the notebook shows the student: other training images, another seed.
    reply = student.run(
        gap_run, Ref("build_regularized_mlp"), int(rng.integers(1, 2**31 - 1)), int(rng.choice([1000, 2000]))
    )
    true(isinstance(reply, tuple) and len(reply) == 2, "training the regularized model did not report its accuracies")
    train_acc, test_acc = (float(v) for v in reply)
    true(test_acc >= 0.75, f"the regularized model's test accuracy is {test_acc:.3f}, below 0.75")
    true(
        train_acc - test_acc < 0.12,
        f"the gap between train ({train_acc:.3f}) and test ({test_acc:.3f}) accuracy "
        f"is {train_acc - test_acc:.3f}, not below 0.12",
    )

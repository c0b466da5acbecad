"""Hidden tests of lesson 05: a parameter count, two model builders, a two-input two-output
model and preprocessing functions.

The parameter count and the preprocessing are NumPy-only exercises (the prose asks for the
formula, not a Keras model, and for NumPy). The models come back as config and weights and
are rebuilt here from Keras's own layers; references are Keras models and layers built here.
"""

import keras
import numpy as np

from autograder.hidden import close, equal, shape, test, true, unchanged_call

# ----------------------------------------------------------------- exercise 1: parameter count


@test("test_mlp_param_count", numpy_only=True)
def param_count_matches_keras(student, rng):
    for sizes, expected in [([784, 256, 256, 10], 269322), ([3, 2], 8), ([1, 1], 2)]:
        equal(student.call("mlp_param_count", sizes), expected, f"mlp_param_count({sizes})")
    equal(student.call("mlp_param_count", [3, 2], use_bias=False), 6, "mlp_param_count([3, 2], use_bias=False)")
    equal(student.call("mlp_param_count", (10, 5)), 55, "mlp_param_count with a tuple (10, 5)")
    for _ in range(6):
        sizes = [int(v) for v in rng.integers(1, 60, size=int(rng.integers(2, 6)))]
        for bias in (True, False):
            reference = keras.Sequential(
                [keras.Input(shape=(sizes[0],))] + [keras.layers.Dense(n, use_bias=bias) for n in sizes[1:]]
            )
            equal(
                student.call("mlp_param_count", sizes, use_bias=bias),
                int(reference.count_params()),
                f"mlp_param_count({sizes}, use_bias={bias})",
            )


# ------------------------------------------------------------- exercise 2: one architecture, both ways


def _layer_summary(model):
    """(type, output shape without the batch axis, parameters) of every layer but the InputLayer."""
    return [
        (type(layer).__name__, tuple(layer.output.shape[1:]), int(layer.count_params()))
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


def _expected_summary(input_shape, hidden_units, n_classes):
    width = int(np.prod(input_shape))
    rows = [("Flatten", (width,), 0)]
    for units in hidden_units:
        rows += [("Dense", (units,), width * units + units), ("Activation", (units,), 0), ("Dropout", (units,), 0)]
        width = units
    return rows + [("Dense", (n_classes,), width * n_classes + n_classes), ("Activation", (n_classes,), 0)]


def _check_mlp(model, kind, shape_, hidden, rate, classes, rng):
    case = f"{kind} model for input {shape_}, hidden {hidden}, dropout {rate}, {classes} classes"
    got, want = _layer_summary(model), _expected_summary(shape_, hidden, classes)
    for index, (row, expected) in enumerate(zip(got, want)):
        true(
            row == expected,
            f"{case}: layer {index + 1} after the input is {row[0]} with output shape {row[1]} "
            f"and {row[2]} parameters, which is not what the architecture asks for",
        )
    true(
        len(got) == len(want),
        f"{case}: {len(got)} layers after the input; the architecture has {len(want)} "
        "(Flatten, then Dense / Activation / Dropout per hidden layer, then Dense / Activation)",
    )
    equal(
        int(model.count_params()),
        int(np.sum([row[2] for row in _expected_summary(shape_, hidden, classes)])),
        f"{case}: the parameter count",
    )
    rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    true(all(abs(r - rate) < 1e-9 for r in rates), f"{case}: every Dropout should have the rate given")
    equal(tuple(model.input_shape[1:]), tuple(shape_), f"{case}: the model's input shape")
    probs = keras.ops.convert_to_numpy(model(rng.random((3, *shape_)).astype("float32")))
    close(np.asarray(probs).sum(axis=1), np.ones(3), f"{case}: the output rows' sums", rtol=1e-4, atol=1e-5)


@test("test_build_both_ways")
def both_builders_give_the_architecture(student, rng):
    cases = [
        ((28, 28), [256, 256], 0.45, 10),
        ((12,), [7], 0.2, 3),
        ((5, 6), [16, 8, 4], 0.5, 4),
        ((3, 4, 2), [], 0.1, 6),
        ((10,), [30, 30], 0.0, 2),
        (
            (int(rng.integers(2, 6)), int(rng.integers(2, 6))),
            [int(v) for v in rng.integers(3, 20, size=2)],
            float(np.round(rng.uniform(0.05, 0.6), 2)),
            int(rng.integers(2, 8)),
        ),
    ]
    for shape_, hidden, rate, classes in cases:
        seq = student.model("build_sequential_mlp", shape_, hidden, rate, classes)
        fun = student.model("build_functional_mlp", shape_, hidden, rate, classes)
        true(isinstance(seq, keras.Sequential), "build_sequential_mlp should return a keras.Sequential model")
        true(
            isinstance(fun, keras.Model) and not isinstance(fun, keras.Sequential),
            "build_functional_mlp should return a keras.Model built with the Functional API, not a Sequential",
        )
        _check_mlp(seq, "Sequential", shape_, hidden, rate, classes, rng)
        _check_mlp(fun, "Functional", shape_, hidden, rate, classes, rng)


# ---------------------------------------------------------- exercise 3: two inputs, two outputs


def _shop_params(image_shape, n_meta, n_classes, hidden):
    flat = int(np.prod(image_shape))
    return (
        (flat * hidden + hidden)
        + (n_meta * 16 + 16)
        + ((hidden + 16) * hidden + hidden)
        + (hidden * n_classes + n_classes)
        + (hidden + 1)
    )


@test("test_two_input_two_output")
def shop_model_has_two_inputs_and_two_outputs(student, rng):
    cases = [
        ((28, 28), 3, 10, 32),
        ((8, 8), 5, 4, 12),
        ((6, 5, 2), 1, 3, 7),
        ((20,), 9, 2, 64),
        (
            (int(rng.integers(3, 9)), int(rng.integers(3, 9))),
            int(rng.integers(1, 6)),
            int(rng.integers(2, 7)),
            int(rng.integers(4, 40)),
        ),
    ]
    for image_shape, n_meta, n_classes, hidden in cases:
        case = f"build_shop_model({image_shape}, {n_meta}, {n_classes}, {hidden})"
        shop = student.model("build_shop_model", image_shape, n_meta, n_classes, hidden)
        equal([t.name for t in shop.inputs], ["image", "meta"], f"{case}: the model's input names")
        equal(
            list(getattr(shop, "output_names", None) or []), ["category", "price"], f"{case}: the model's output names"
        )
        equal(
            int(shop.count_params()),
            _shop_params(image_shape, n_meta, n_classes, hidden),
            f"{case}: the number of parameters",
        )
        kinds = sorted(type(layer).__name__ for layer in shop.layers)
        true(
            kinds
            == sorted(
                ["InputLayer", "InputLayer", "Flatten", "Dense", "Dense", "Concatenate", "Dense", "Dense", "Dense"]
            ),
            f"{case}: the layer types are not the ones described",
        )
        x_img = rng.random((5, *image_shape)).astype("float32")
        x_meta = rng.random((5, n_meta)).astype("float32")
        out_c, out_p = (keras.ops.convert_to_numpy(t) for t in shop([x_img, x_meta]))
        shape(out_c, (5, n_classes), f"{case}: the category output")
        shape(out_p, (5, 1), f"{case}: the price output")
        close(np.asarray(out_c).sum(axis=1), np.ones(5), f"{case}: the category rows' sums", rtol=1e-4, atol=1e-5)
        category_layer, price_layer = shop.get_layer("category"), shop.get_layer("price")
        equal(tuple(category_layer.get_weights()[0].shape), (hidden, n_classes), f"{case}: the category kernel's shape")
        equal(tuple(price_layer.get_weights()[0].shape), (hidden, 1), f"{case}: the price kernel's shape")
        # the price output is linear: it takes negative values for some weights
        kernel, bias = price_layer.get_weights()
        price_layer.set_weights([kernel, bias - 1000.0])
        true(
            float(np.max(keras.ops.convert_to_numpy(shop([x_img, x_meta])[1]))) < 0,
            f"{case}: the price output should be linear (no activation)",
        )


@test("test_two_input_two_output")
def shop_model_trains_with_one_loss_per_output(student, rng):
    shop = student.model("build_shop_model", (28, 28), 3, 10, 32)
    images, meta = rng.random((64, 28, 28)).astype("float32"), rng.random((64, 3)).astype("float32")
    labels, prices = rng.integers(0, 10, 64), rng.random((64, 1)).astype("float32") * 50
    category, price = shop.predict([images, meta], verbose=0)
    shape(category, (64, 10), "the category output of build_shop_model((28, 28), 3, 10, 32) on 64 samples")
    shape(price, (64, 1), "the price output of build_shop_model((28, 28), 3, 10, 32) on 64 samples")
    shop.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mean_squared_error"])
    history = shop.fit([images, meta], [labels, prices], epochs=1, batch_size=32, verbose=0)
    true(
        bool(np.isfinite(history.history["loss"][0])),
        "one epoch of training with one loss per output gave a non-finite loss",
    )


# ------------------------------------------------------------------- exercise 4: preprocessing


def _float32(got, what):
    true(
        isinstance(got, np.ndarray) and got.dtype == np.float32,
        f"{what}: expected a float32 NumPy array, got {getattr(got, 'dtype', type(got).__name__)}",
    )


@test("test_preprocessing", numpy_only=True)
def preprocess_images_flattens_and_scales(student, rng):
    images = np.array([[[0, 255], [51, 102]], [[255, 255], [0, 0]]], dtype=np.uint8)
    flat = student.call("preprocess_images", images)
    shape(flat, (2, 4), "preprocess_images of 2 images of 2 x 2")
    close(flat, [[0.0, 1.0, 0.2, 0.4], [1.0, 1.0, 0.0, 0.0]], "preprocess_images of 2 images of 2 x 2")
    _float32(flat, "preprocess_images of 2 images of 2 x 2")
    for n, h, w in [
        (7, 5, 6),
        (3, 28, 28),
        (int(rng.integers(2, 9)), int(rng.integers(2, 9)), int(rng.integers(2, 9))),
    ]:
        raw = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
        got = unchanged_call(student, "preprocess_images", raw)
        what = f"preprocess_images on {n} random images of {h} x {w}"
        close(got, raw.reshape(n, h * w).astype(np.float32) / np.float32(255.0), what, rtol=1e-6)
        _float32(got, what)
    shape(
        student.call("preprocess_images", rng.integers(0, 256, size=(1, 28, 28), dtype=np.uint8)),
        (1, 784),
        "preprocess_images of one 28 x 28 image",
    )


@test("test_preprocessing", numpy_only=True)
def one_hot_matches_keras(student, rng):
    got = student.call("one_hot", np.array([2, 0]), 3)
    close(got, [[0, 0, 1], [1, 0, 0]], "one_hot([2, 0], 3)")
    _float32(got, "one_hot([2, 0], 3)")
    _float32(student.call("one_hot", np.array([1]), 4), "one_hot([1], 4)")
    for n, k in [(10, 10), (5, 2), (1, 7), (int(rng.integers(2, 30)), int(rng.integers(2, 12)))]:
        labels = rng.integers(0, k, size=n)
        got = unchanged_call(student, "one_hot", labels, k)
        what = f"one_hot of {n} random labels, {k} classes"
        close(got, keras.utils.to_categorical(labels, num_classes=k), what)
        _float32(got, what)
    close(student.call("one_hot", [3, 3], 5), [[0, 0, 0, 1, 0], [0, 0, 0, 1, 0]], "one_hot of a list [3, 3], 5 classes")
    close(student.call("one_hot", np.array([4], dtype=np.uint8), 5), [[0, 0, 0, 0, 1]], "one_hot of uint8 labels [4]")

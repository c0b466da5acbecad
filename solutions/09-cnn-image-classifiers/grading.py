"""Hidden tests of lesson 09: a VGG-style builder, a CNN with batch normalization, a residual
block and an augmentation pipeline.

The builders' models are rebuilt here from their config and weights and inspected and
run here. The one training (batch normalization against the plain CNN) runs in the
student's kernel in a driver, with a fixed seed, and is judged here.
"""

import keras
import numpy as np

from autograder.hidden import Failed, close, driver, equal, shape, test, true
from autograder.student import Ref, rebuild


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _layers(model):
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _types(model):
    return [type(layer).__name__ for layer in _layers(model)]


def _same(got, expected, what: str) -> None:
    """Equal to the reference, judged without telling the expected value (hidden cases)."""
    if got != expected:
        raise Failed(f"{what} is not right (got {got!r})")


# ------------------------------------------------------------------------ exercise 1


def reference_vgg_style(input_shape, num_classes, blocks, dense_units=(), dropout=0.5):
    layers = [keras.Input(shape=input_shape)]
    for block in blocks:
        layers += [keras.layers.Conv2D(f, 3, padding="same", activation="relu") for f in block]
        layers.append(keras.layers.MaxPooling2D(2))
    layers.append(keras.layers.Flatten())
    for units in dense_units:
        layers += [keras.layers.Dense(units, activation="relu"), keras.layers.Dropout(dropout)]
    layers.append(keras.layers.Dense(num_classes, activation="softmax"))
    return keras.Sequential(layers)


def _settings(layer):
    if isinstance(layer, keras.layers.Conv2D):
        return (tuple(layer.kernel_size), layer.padding, layer.activation.__name__, tuple(layer.strides))
    if isinstance(layer, keras.layers.MaxPooling2D):
        return (tuple(layer.pool_size), tuple(layer.strides), layer.padding)
    if isinstance(layer, keras.layers.Dense):
        return (layer.units, layer.activation.__name__)
    if isinstance(layer, keras.layers.Dropout):
        return (round(float(layer.rate), 6),)
    return ()


@test("test_build_vgg_style")
def vgg_style_small_model(student, rng):
    small = student.model("build_vgg_style", (28, 28, 1), 10, ((8, 8), (16,)), dense_units=(32,), dropout=0.5)
    equal(
        _types(small),
        ["Conv2D", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense"],
        "the layer types of the small model",
    )
    probabilities = shape(
        _numpy(small(rng.random((2, 28, 28, 1)).astype("float32"))),
        (2, 10),
        "the output of the small model for 2 images",
    )
    close(probabilities.sum(axis=1), [1.0, 1.0], "the sum of each output row", rtol=1e-4)
    equal(small.count_params(), 27282, "the parameter count of the small model")


@test("test_build_vgg_style")
def vgg_style_matches_the_specification(student, rng):
    configs = [
        ((32, 32, 3), 7, ((4,), (6, 6), (8,)), (), 0.5),
        ((24, 20, 2), 3, ((5, 5, 5),), (12, 9), 0.25),
        ((16, 16, 1), 4, ((3,), (3,), (3,), (3,)), (6,), 0.1),
    ]
    for _ in range(3):
        n_blocks = int(rng.integers(1, 4))
        blocks = tuple(tuple(int(f) for f in rng.integers(2, 9, size=int(rng.integers(1, 4)))) for _ in range(n_blocks))
        dense = tuple(int(u) for u in rng.integers(3, 20, size=int(rng.integers(0, 3))))
        configs.append(
            (
                (int(rng.integers(16, 30)), int(rng.integers(16, 30)), int(rng.integers(1, 4))),
                int(rng.integers(2, 12)),
                blocks,
                dense,
                float(rng.choice([0.2, 0.3, 0.5])),
            )
        )
    for input_shape, classes, blocks, dense, rate in configs:
        what = f"build_vgg_style({input_shape}, {classes}, {blocks}, dense_units={dense}, dropout={rate})"
        got = student.model("build_vgg_style", input_shape, classes, blocks, dense_units=dense, dropout=rate)
        want = reference_vgg_style(input_shape, classes, blocks, dense, rate)
        _same(_types(got), _types(want), f"the layer types of {what}")
        for mine, ref in zip(_layers(got), _layers(want)):
            kind = type(ref).__name__
            _same(tuple(mine.output.shape), tuple(ref.output.shape), f"the output shape of a {kind} in {what}")
            _same(_settings(mine), _settings(ref), f"the settings of a {kind} in {what}")
        _same(got.count_params(), want.count_params(), f"the parameter count of {what}")
        out = shape(_numpy(got(rng.random((3, *input_shape)).astype("float32"))), (3, classes), f"the output of {what}")
        close(out.sum(axis=1), np.ones(3), f"the output row sums of {what}", rtol=1e-4)


# ------------------------------------------------------------------------ exercise 2


def plain_cnn(filters=(16, 32, 32)):
    model = keras.Sequential([keras.Input(shape=(28, 28, 1))])
    for f in filters:
        model.add(keras.layers.Conv2D(f, 3, padding="same", activation="relu"))
        model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def reference_bn_cnn(filters, momentum):
    model = keras.Sequential([keras.Input(shape=(28, 28, 1))])
    for f in filters:
        model.add(keras.layers.Conv2D(f, 3, padding="same", use_bias=False))
        model.add(keras.layers.BatchNormalization(momentum=momentum))
        model.add(keras.layers.Activation("relu"))
        model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


@test("test_bn_cnn")
def bn_cnn_structure(student, rng):
    model = student.model("bn_cnn", (8, 16))
    equal(
        _types(model),
        [
            "Conv2D",
            "BatchNormalization",
            "Activation",
            "MaxPooling2D",
            "Conv2D",
            "BatchNormalization",
            "Activation",
            "MaxPooling2D",
            "Flatten",
            "Dense",
        ],
        "the layer types of bn_cnn((8, 16))",
    )
    equal(
        model.count_params(),
        plain_cnn((8, 16)).count_params() - (8 + 16) + 4 * (8 + 16),
        "the parameter count of bn_cnn((8, 16))",
    )
    shape(
        _numpy(model(rng.random((2, 28, 28, 1)).astype("float32"))),
        (2, 10),
        "the output of bn_cnn((8, 16)) for 2 images",
    )
    for filters, momentum in [((4,), 0.8), ((6, 12, 12, 24), 0.95), ((16, 32, 32), 0.9)]:
        got, want = student.model("bn_cnn", filters, momentum), reference_bn_cnn(filters, momentum)
        what = f"bn_cnn({filters}, momentum={momentum})"
        _same(_types(got), _types(want), f"the layer types of {what}")
        for mine, ref in zip(_layers(got), _layers(want)):
            kind = type(ref).__name__
            _same(tuple(mine.output.shape), tuple(ref.output.shape), f"the output shape of a {kind} in {what}")
            if isinstance(ref, keras.layers.Conv2D):
                equal(
                    (mine.use_bias, mine.padding, tuple(mine.kernel_size)),
                    (False, "same", (3, 3)),
                    f"(use_bias, padding, kernel_size) of a Conv2D in {what}",
                )
            if isinstance(ref, keras.layers.BatchNormalization):
                close(mine.momentum, momentum, f"the momentum of a BatchNormalization in {what}")
            if isinstance(ref, keras.layers.Activation):
                equal(mine.activation.__name__, "relu", f"the activation after a BatchNormalization in {what}")
        _same(got.count_params(), want.count_params(), f"the parameter count of {what}")


@driver
def train_plain_and_bn(bn_cnn, seed, start, size, epochs):
    """Train the plain CNN and bn_cnn() the same way (SGD 0.01, batch 32) on training images
    start..start+size; return both accuracies on the first 1,000 test images."""
    import keras
    import numpy as np

    from course_lib import datasets

    (x_train, y_train), (x_test, y_test) = datasets.load("fashion_mnist", smoke=True)  # 3,000 + 1,000 images

    def images(x):
        return (np.asarray(x, dtype="float32") / 255.0)[..., None]

    def plain_cnn(filters=(16, 32, 32)):
        model = keras.Sequential([keras.Input(shape=(28, 28, 1))])
        for f in filters:
            model.add(keras.layers.Conv2D(f, 3, padding="same", activation="relu"))
            model.add(keras.layers.MaxPooling2D(2))
        model.add(keras.layers.Flatten())
        model.add(keras.layers.Dense(10, activation="softmax"))
        return model

    def short_run(build):
        keras.utils.set_random_seed(seed)
        model = build()
        keras.utils.set_random_seed(seed)
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.01),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(
            images(x_train[start : start + size]),
            y_train[start : start + size],
            batch_size=32,
            epochs=epochs,
            verbose=0,
        )
        return float(model.evaluate(images(x_test[:1000]), y_test[:1000], batch_size=500, verbose=0)[1])

    return {"plain": short_run(plain_cnn), "bn": short_run(bn_cnn)}


@test("test_bn_cnn", seconds=300)
def bn_cnn_beats_the_plain_cnn(student, rng):
    # trained the same way as in the notebook, on other images and another seed: it must clearly beat the plain CNN
    reply = student.run(train_plain_and_bn, Ref("bn_cnn"), 3, 1000, 2000, 3)
    true(
        isinstance(reply, dict) and all(isinstance(reply.get(k), float) for k in ("plain", "bn")),
        "training bn_cnn() did not give an accuracy",
    )
    true(
        reply["bn"] >= 0.55 and reply["bn"] >= reply["plain"] + 0.05,
        f"on another subset, bn_cnn reached {reply['bn']:.1%} against the plain CNN's {reply['plain']:.1%}.",
    )


# ------------------------------------------------------------------------ exercise 3


@driver
def block_model(block, input_shape, filters, stride):
    """block(x, filters, stride) on a Keras Input of input_shape, wrapped in a model."""
    import keras

    inputs = keras.Input(shape=tuple(input_shape))
    return keras.Model(inputs, block(inputs, filters, stride))


def _kind(layer) -> str:
    """A layer's role in a residual block: ReLU written either way is one kind."""
    if isinstance(layer, keras.layers.ReLU) or (
        isinstance(layer, keras.layers.Activation) and layer.activation.__name__ == "relu"
    ):
        return "relu"
    return type(layer).__name__


def _producer(tensor):
    return tensor._keras_history[0]


def _path_to_input(tensor) -> list:
    """The layers from the model's input to ``tensor``, for a chain without branches."""
    chain = []
    layer = _producer(tensor)
    while not isinstance(layer, keras.layers.InputLayer):
        if isinstance(layer.input, (list, tuple)):
            raise Failed("a path of the residual block merges other tensors before the Add")
        chain.insert(0, layer)
        layer = _producer(layer.input)
    return chain


def _block_parts(model):
    """(main path, shortcut) of a residual block as lists of layers, read from its graph:
    the last layer must be a ReLU of an Add of two tensors."""
    last = _producer(model.outputs[0])
    add = _producer(last.input) if _kind(last) == "relu" and not isinstance(last.input, (list, tuple)) else None
    if not isinstance(add, keras.layers.Add) or len(add.input) != 2:
        raise Failed("the block should end with keras.layers.Add() of two tensors, followed by a ReLU")
    paths = sorted((_path_to_input(t) for t in add.input), key=len, reverse=True)
    return paths[0], paths[1]


def _random_weights(model, rng):
    """Weights of every layer drawn at random, batch normalization's statistics included,
    so that no layer can be missing or misplaced without changing the output."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.3, c), rng.normal(0, 0.3, c), rng.uniform(0.5, 2.0, c)]
            )
        elif layer.weights:
            layer.set_weights([rng.normal(0, 0.3, w.shape) for w in layer.get_weights()])


def reference_block(input_shape, filters, stride, main, shortcut):
    """The block as specified, with the weights of the student's layers copied in, role by role."""
    inputs = keras.Input(shape=input_shape)
    conv1 = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)
    conv2 = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)
    bn1, bn2 = keras.layers.BatchNormalization(), keras.layers.BatchNormalization()
    y = bn2(conv2(keras.layers.Activation("relu")(bn1(conv1(inputs)))))
    skip = inputs
    layers = [conv1, bn1, conv2, bn2]
    if stride != 1 or input_shape[-1] != filters:
        projection, bn3 = (
            keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False),
            keras.layers.BatchNormalization(),
        )
        skip = bn3(projection(inputs))
        layers += [projection, bn3]
    model = keras.Model(inputs, keras.layers.Activation("relu")(keras.layers.Add()([y, skip])))
    theirs = [main[0], main[1], main[3], main[4], *shortcut]
    for mine, their in zip(layers, theirs):
        mine.set_weights(their.get_weights())
    return model


def _block_cases(rng):
    size, channels = int(rng.integers(5, 12)), int(rng.integers(2, 9))
    return [
        ((size, size + 1, channels), channels, 1),  # identity shortcut
        ((size, size, channels), channels + int(rng.integers(1, 6)), 1),  # more channels: projection
        ((2 * size, 2 * size - 1, channels), int(rng.integers(2, 9)), 2),
    ]  # stride 2: projection


def _blocks(student, rng):
    """For each case: its description, the student's block rebuilt here, and its main path and shortcut."""
    for input_shape, filters, stride in _block_cases(rng):
        what = f"residual_block on {input_shape} inputs, {filters} filters, stride {stride}"
        model = rebuild(student.run(block_model, Ref("residual_block"), input_shape, filters, stride))
        yield (input_shape, filters, stride), what, model, *_block_parts(model)


@test("test_residual_block")
def residual_block_structure(student, rng):
    for (input_shape, filters, stride), what, model, main, shortcut in _blocks(student, rng):
        _same(
            [_kind(layer) for layer in main],
            ["Conv2D", "BatchNormalization", "relu", "Conv2D", "BatchNormalization"],
            f"the layers of the main path of {what}",
        )
        projects = stride != 1 or input_shape[-1] != filters
        _same(
            [_kind(layer) for layer in shortcut],
            ["Conv2D", "BatchNormalization"] if projects else [],
            f"the layers of the shortcut of {what}",
        )
        convs = [main[0], main[3], *shortcut[:1]]
        _same(
            [
                (tuple(c.kernel_size), tuple(c.strides), c.padding if c.kernel_size[0] > 1 else "any", c.use_bias)
                for c in convs
            ],
            [((3, 3), (stride, stride), "same", False), ((3, 3), (1, 1), "same", False)]
            + ([((1, 1), (stride, stride), "any", False)] if projects else []),
            f"the (kernel size, strides, padding, use_bias) of the convolutions in {what}",
        )
        _same([c.filters for c in convs], [filters] * len(convs), f"the filters of the convolutions in {what}")
        _same(len(model.layers), 1 + len(main) + len(shortcut) + 2, f"the number of layers in {what}")


@test("test_residual_block")
def residual_block_computes_the_block(student, rng):
    for (input_shape, filters, stride), what, model, main, shortcut in _blocks(student, rng):
        if len(main) != 5 or len(shortcut) not in (0, 2):
            raise Failed(f"the layers of {what} are not those of a residual block")
        _random_weights(model, rng)
        try:
            want = reference_block(input_shape, filters, stride, main, shortcut)
        except ValueError:
            raise Failed(f"the weights of {what} do not have the shapes of the block as specified") from None
        x = rng.normal(size=(3, *input_shape)).astype("float32")
        got = _numpy(model(x, training=False))
        shape(got, (3, *want.output.shape[1:]), f"the output of {what}")
        close(got, _numpy(want(x, training=False)), f"the output of {what} with random weights", rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------ exercise 4


def _run(model, images, training):
    return _numpy(model(images, training=training))


@driver
def built(builder, input_shape, *args, **kwargs):
    """builder(*args, **kwargs), built for inputs of input_shape if it is a model that is not built yet."""
    model = builder(*args, **kwargs)
    if getattr(model, "built", True) is False and callable(getattr(model, "build", None)):
        model.build(tuple(input_shape))
    return model


def _augmenter(student, images, **config):
    """make_augmenter(**config), rebuilt here for batches shaped like ``images``.

    A Sequential without an Input is not built, and `Student.model` cannot rebuild an unbuilt
    model (it counts its parameters), so the driver builds it first in the student's process.
    """
    return rebuild(student.run(built, Ref("make_augmenter"), (None, *images.shape[1:]), **config))


@test("test_make_augmenter")
def default_augmenter_flips(student, rng):
    images = rng.random((16, 28, 28, 1)).astype("float32")
    augment = _augmenter(student, images)
    out = _run(augment, images, True)
    shape(out, images.shape, "the augmented batch")
    equal(str(out.dtype), "float32", "the dtype of the augmented batch")
    true(
        np.array_equal(_run(augment, images, False), images),
        "with training=False the pipeline must return the images unchanged.",
    )
    true(
        all(np.allclose(o, i) or np.allclose(o, i[:, ::-1]) for o, i in zip(out, images)),
        "with the defaults, each image should come back as it is or mirrored left to right.",
    )


@test("test_make_augmenter")
def augmenters_are_random_in_training_only(student, rng):
    random_images = rng.random((32, 20, 24, 1)).astype("float32")
    colour = rng.random((20, 16, 16, 3)).astype("float32")
    for config in [
        dict(),
        dict(flip=False, shift=0.2),
        dict(flip=False, rotation=30.0),
        dict(flip=False, zoom=0.3),
        dict(flip=True, rotation=15.0, shift=0.1, zoom=0.1),
    ]:
        for batch in (random_images, colour):
            layer = _augmenter(student, batch, **config)
            a = _run(layer, batch, True)
            shape(a, batch.shape, f"make_augmenter(**{config}) on a batch of shape {batch.shape}")
            equal(str(a.dtype), "float32", f"the dtype from make_augmenter(**{config})")
            true(
                np.array_equal(_run(layer, batch, False), batch),
                f"make_augmenter(**{config}) changed images with training=False.",
            )
            true(not np.allclose(a, batch), f"make_augmenter(**{config}) did not change a batch in training.")
            true(
                not np.allclose(a, _run(layer, batch, True)),
                f"make_augmenter(**{config}) gave the same images twice in training: it is not random.",
            )


@test("test_make_augmenter")
def augmenters_do_what_they_are_asked(student, rng):
    random_images = rng.random((32, 20, 24, 1)).astype("float32")
    ones = np.ones((24, 21, 21, 1), dtype="float32")
    # a flip is a horizontal mirror, of about half of the images
    flipped = _run(_augmenter(student, random_images, flip=True), random_images, True)
    is_same = [np.allclose(o, i) for o, i in zip(flipped, random_images)]
    is_mirror = [np.allclose(o, i[:, ::-1]) for o, i in zip(flipped, random_images)]
    true(
        all(s or m for s, m in zip(is_same, is_mirror)) and 0 < sum(is_mirror) < len(is_mirror),
        "flip=True should mirror some (not all) images left to right and leave the others.",
    )
    # geometric layers fill with 0: shifts, rotations and zooms (out) of white images bring in black pixels
    for config in [dict(flip=False, shift=0.3), dict(flip=False, rotation=40.0), dict(flip=False, zoom=0.4)]:
        a = _run(_augmenter(student, ones, **config), ones, True)
        true(a.min() < 0.5, f"make_augmenter(**{config}) should fill uncovered pixels with 0 (fill_mode='constant').")
        true(np.all(a[:, 10, 10, 0] > 0.5), f"make_augmenter(**{config}) blacked out the centre of white images.")
    # rotation is in degrees: 2 degrees barely move anything, 90 would
    small = _run(_augmenter(student, ones, flip=False, rotation=2.0), ones, True)
    true(
        np.mean(small < 0.5) < 0.05, "rotation=2.0 (degrees) blacked out too many pixels: is the factor rotation / 360?"
    )
    # the same seed gives the same images
    a = _run(_augmenter(student, random_images, flip=True, shift=0.2, seed=7), random_images, True)
    b = _run(_augmenter(student, random_images, flip=True, shift=0.2, seed=7), random_images, True)
    true(np.allclose(a, b), "two augmenters made with the same seed should give the same images.")
    true(
        np.array_equal(_run(_augmenter(student, random_images, flip=False), random_images, True), random_images),
        "make_augmenter(flip=False) with nothing else should return the images unchanged.",
    )

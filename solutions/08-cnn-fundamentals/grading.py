"""Hidden tests of lesson 08: output sizes, conv2d and pool2d in NumPy, parameter counts.

conv2d and pool2d are NumPy-only: the student's answers run in a process where no other
library exists. References are Keras's own layers (Conv2D, MaxPooling2D,
AveragePooling2D) with copied weights, computed here.
"""

import keras
import numpy as np

from autograder.hidden import Failed, close, equal, integer, test, true, unchanged_call


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _whole(got, what: str) -> int:
    """An answer that must be an int (not a float, not a bool)."""
    value = integer(got, what)
    true(type(got) is int, f"{what} should return an int, got a {type(got).__name__}")
    return value


def _right(got, expected, what: str) -> None:
    """An exact answer of a hidden case, judged without telling the expected value."""
    if got != expected:
        raise Failed(f"{what}: {got!r} is wrong")


# ------------------------------------------------------------------------ exercise 2


def _keras_size(n, f, s, pad):
    if isinstance(pad, int):
        padded_shape = keras.layers.ZeroPadding2D(pad).compute_output_shape((None, n, n, 1))
        return int(keras.layers.Conv2D(1, f, strides=s).compute_output_shape(padded_shape)[1])
    return int(keras.layers.Conv2D(1, f, strides=s, padding=pad).compute_output_shape((None, n, n, 1))[1])


@test("test_conv_output_size")
def output_size_matches_keras(student, rng):
    for args, kwargs, expected, what in [
        ((5, 3), {}, 3, "conv_output_size(5, 3)"),
        ((28, 5), {"stride": 2}, 12, "conv_output_size(28, 5, stride=2)"),
        ((4, 3), {"padding": 1}, 4, "conv_output_size(4, 3, padding=1)"),
        ((28, 3), {"padding": "same"}, 28, "conv_output_size(28, 3, padding='same')"),
        ((7, 3), {"stride": 2, "padding": "same"}, 4, "conv_output_size(7, 3, stride=2, padding='same')"),
        ((10, 3), {}, 8, "conv_output_size(10, 3)"),
    ]:
        got = student.call("conv_output_size", *args, **kwargs)
        _whole(got, what)
        equal(got, expected, what)
    for _ in range(40):
        f = int(rng.integers(1, 8))
        n = int(rng.integers(f, 70))
        s = int(rng.integers(1, 5))
        for pad in ("valid", "same", int(rng.integers(0, 4))):
            what = f"conv_output_size({n}, {f}, stride={s}, padding={pad!r})"
            got = student.call("conv_output_size", n, f, stride=s, padding=pad)
            _right(_whole(got, what), _keras_size(n, f, s, pad), what)
    for n, f, s in [(9, 3, 3), (10, 4, 3), (1, 1, 1), (6, 6, 2)]:
        expected = int(keras.layers.MaxPooling2D(f, strides=s).compute_output_shape((None, n, n, 1))[1])
        what = f"conv_output_size({n}, {f}, stride={s}) for a pooling window"
        _right(_whole(student.call("conv_output_size", n, f, stride=s), what), expected, what)


# ------------------------------------------------------------------------ exercise 3

# The lesson's worked examples (visible tests): the notes' 5x5 input and kernel, and the padding example.
X = np.array([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]], dtype=float)
K = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]], dtype=float)
X4 = np.array([[0, 0, 1, 1], [0, 1, 6, 0], [3, 3, 2, 0], [1, 0, 2, 1]], dtype=float)
F = np.array([[2, 2, 1], [1, 0, 3], [3, 0, 2]], dtype=float)
EXAMPLE = np.array([[12, 12, 17], [10, 17, 19], [9, 6, 14]], dtype=float)


def _keras_conv(x, kernel, bias, stride, padding):
    fh, fw, c_in, c_out = kernel.shape
    layer = keras.layers.Conv2D(
        c_out, (fh, fw), strides=stride, padding=padding, use_bias=bias is not None, kernel_initializer="zeros"
    )
    layer.build((None, x.shape[1], x.shape[2], c_in))
    layer.set_weights([kernel, bias] if bias is not None else [kernel])
    return _numpy(layer(x.astype("float32")))


@test("test_conv2d", numpy_only=True)
def conv2d_on_the_worked_examples(student, rng):
    got = student.call("conv2d", X.reshape(1, 5, 5, 1), K.reshape(3, 3, 1, 1))
    close(got, EXAMPLE.reshape(1, 3, 3, 1), "conv2d of the 5x5 worked example with the 3x3 kernel")
    close(
        student.call("conv2d", X.reshape(1, 5, 5, 1), K.reshape(3, 3, 1, 1), bias=np.array([0.5])),
        EXAMPLE.reshape(1, 3, 3, 1) + 0.5,
        "the 5x5 example with bias 0.5",
    )
    close(
        student.call("conv2d", X.reshape(1, 5, 5, 1), K.reshape(3, 3, 1, 1), stride=2),
        np.array([[12, 17], [9, 14]]).reshape(1, 2, 2, 1),
        "the 5x5 example with stride 2",
    )
    close(
        student.call("conv2d", X4.reshape(1, 4, 4, 1), F.reshape(3, 3, 1, 1), padding="same"),
        np.array([[2, 15, 6, 19], [9, 32, 13, 16], [10, 24, 19, 20], [9, 21, 13, 6]]).reshape(1, 4, 4, 1),
        "the padding example with padding='same'",
    )
    x2 = rng.integers(0, 4, size=(1, 5, 5, 2)).astype(float)  # two channels, three filters, small integers
    k2 = rng.integers(-1, 2, size=(3, 3, 2, 3)).astype(float)
    b2 = np.array([0.0, 1.0, -1.0])
    close(
        student.call("conv2d", x2, k2, b2),
        _keras_conv(x2, k2, b2, 1, "valid"),
        "two channels and three filters",
        rtol=1e-4,
        atol=1e-4,
    )


@test("test_conv2d", numpy_only=True)
def conv2d_matches_keras_conv2d(student, rng):
    cases = [  # batch, rows, cols, C_in, F_h, F_w, C_out, stride, padding, bias
        (2, 7, 7, 3, 3, 3, 4, 1, "valid", True),
        (1, 8, 6, 2, 3, 3, 5, 1, "same", True),
        (3, 9, 9, 1, 3, 3, 2, 2, "valid", False),
        (2, 9, 8, 2, 3, 3, 3, 2, "same", True),
        (1, 10, 10, 4, 5, 5, 2, 3, "same", True),
        (2, 6, 7, 3, 2, 2, 3, 1, "same", False),
        (1, 8, 8, 2, 4, 2, 3, 2, "same", True),
        (2, 11, 7, 3, 5, 3, 1, 3, "valid", True),
        (1, 5, 5, 6, 1, 1, 4, 1, "valid", True),
        (2, 6, 6, 3, 1, 1, 2, 2, "same", False),
        (1, 4, 4, 1, 4, 4, 2, 1, "valid", True),
        (1, 3, 5, 2, 3, 3, 2, 4, "same", True),
    ]
    for batch, rows, cols, c_in, fh, fw, c_out, stride, padding, use_bias in cases:
        x = rng.normal(size=(batch, rows, cols, c_in))
        kernel = rng.normal(size=(fh, fw, c_in, c_out))
        bias = rng.normal(size=c_out) if use_bias else None
        expected = _keras_conv(x, kernel, bias, stride, padding)
        got = unchanged_call(student, "conv2d", x, kernel, bias, stride=stride, padding=padding)
        close(
            got,
            expected,
            f"conv2d with x {x.shape}, kernel {kernel.shape}, stride={stride}, padding={padding!r}, bias={use_bias}",
            rtol=1e-4,
            atol=1e-4,
        )


@test("test_conv2d", numpy_only=True)
def conv2d_on_uint8_pixels(student, rng):
    integers = rng.integers(0, 256, size=(1, 6, 6, 1)).astype(np.uint8)  # uint8 pixels must not overflow
    edge = np.array([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]).reshape(3, 3, 1, 1)
    expected = np.zeros((1, 4, 4, 1))
    for i in range(4):
        for j in range(4):
            expected[0, i, j, 0] = np.sum(integers[0, i : i + 3, j : j + 3, 0].astype(float) * edge[:, :, 0, 0])
    close(student.call("conv2d", integers, edge), expected, "conv2d on uint8 pixels")


# ------------------------------------------------------------------------ exercise 4

FMAP = np.array([[1, 3, 2, 0], [4, 6, 1, 1], [0, 2, 9, 5], [3, 1, 7, 8]], dtype=float).reshape(1, 4, 4, 1)


@test("test_pool2d", numpy_only=True)
def pool2d_on_the_lesson_examples(student, rng):
    got = student.call("pool2d", FMAP)
    close(got, np.array([[6, 2], [3, 9]]).reshape(1, 2, 2, 1), "max pooling of the 4x4 example")
    close(
        student.call("pool2d", FMAP, mode="average"),
        np.array([[3.5, 1.0], [1.5, 7.25]]).reshape(1, 2, 2, 1),
        "average pooling of the 4x4 example",
    )
    close(
        student.call("pool2d", FMAP, 3, stride=1),
        np.full((1, 2, 2, 1), 9.0),
        "max pooling with 3x3 windows and stride 1",
    )
    odd = np.arange(25, dtype=float).reshape(1, 5, 5, 1)
    close(
        student.call("pool2d", odd, 2, padding="same", mode="average"),
        _numpy(keras.layers.AveragePooling2D(2, padding="same")(odd.astype("float32"))),
        "average pooling of a 5x5 map with padding='same'",
        rtol=1e-4,
        atol=1e-5,
    )


@test("test_pool2d", numpy_only=True)
def pool2d_matches_keras_pooling(student, rng):
    cases = [  # batch, rows, cols, channels, pool_size, stride, padding
        (2, 8, 8, 3, 2, None, "valid"),
        (1, 7, 9, 2, 2, None, "valid"),
        (2, 7, 7, 3, 3, 2, "valid"),
        (1, 9, 6, 4, 3, 1, "valid"),
        (2, 7, 9, 2, 2, None, "same"),
        (1, 10, 10, 3, 3, 2, "same"),
        (2, 5, 8, 1, 3, 3, "same"),
        (1, 6, 6, 2, 4, 2, "same"),
        (1, 8, 5, 3, 2, 3, "valid"),
        (3, 4, 4, 2, 1, 1, "same"),
    ]
    for batch, rows, cols, channels, size, stride, padding in cases:
        x = rng.normal(size=(batch, rows, cols, channels)) - 2.0  # negative values: zero padding would show
        for mode, layer_class in [("max", keras.layers.MaxPooling2D), ("average", keras.layers.AveragePooling2D)]:
            expected = _numpy(layer_class(pool_size=size, strides=stride, padding=padding)(x.astype("float32")))
            got = unchanged_call(student, "pool2d", x, size, stride=stride, padding=padding, mode=mode)
            close(
                got,
                expected,
                f"pool2d(mode={mode!r}) with x {x.shape}, pool_size={size}, stride={stride}, padding={padding!r}",
                rtol=1e-4,
                atol=1e-5,
            )


# ------------------------------------------------------------------------ exercise 5


@test("test_param_counts")
def parameter_counts_match_keras(student, rng):
    equal(_whole(student.call("conv2d_params", 3, 3, 32), "conv2d_params"), 896, "conv2d_params(3, 3, 32)")
    equal(student.call("conv2d_params", 3, 3, 32, use_bias=False), 864, "conv2d_params(3, 3, 32, use_bias=False)")
    equal(
        _whole(student.call("separable_conv2d_params", 3, 4, 6), "separable_conv2d_params"),
        66,
        "separable_conv2d_params(3, 4, 6)",
    )
    _whole(student.call("conv2d_params", 3, 1, 1), "conv2d_params")
    for _ in range(8):
        f, c_in, c_out, m = (
            int(v) for v in (rng.integers(1, 8), rng.integers(1, 40), rng.integers(1, 70), rng.integers(1, 4))
        )
        for use_bias in (True, False):
            regular = keras.layers.Conv2D(c_out, f, use_bias=use_bias, kernel_initializer="zeros")
            regular.build((None, 16, 16, c_in))
            what = f"conv2d_params({f}, {c_in}, {c_out}, use_bias={use_bias})"
            got = student.call("conv2d_params", f, c_in, c_out, use_bias=use_bias)
            _right(_whole(got, what), regular.count_params(), what)
            separable = keras.layers.SeparableConv2D(
                c_out,
                f,
                depth_multiplier=m,
                use_bias=use_bias,
                depthwise_initializer="zeros",
                pointwise_initializer="zeros",
            )
            separable.build((None, 16, 16, c_in))
            what = f"separable_conv2d_params({f}, {c_in}, {c_out}, depth_multiplier={m}, use_bias={use_bias})"
            got = student.call("separable_conv2d_params", f, c_in, c_out, depth_multiplier=m, use_bias=use_bias)
            _right(_whole(got, what), separable.count_params(), what)


# ------------------------------------------------------------------------ exercise 6


@test("test_how_many_filters", numpy_only=True)
def sizes_of_layers_not_seen(student, rng):
    for _ in range(4):
        c_in, c_out = int(rng.integers(1, 65)), int(rng.integers(1, 257))
        kernel = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        what = f"conv_layer_size({c_in}, {c_out}, {kernel})"
        answer = student.call("conv_layer_size", c_in, c_out, kernel)
        true(
            isinstance(answer, tuple) and len(answer) == 3,
            f"{what} should return a tuple (n_filters, filter_shape, n_params).",
        )
        n_filters, filter_shape, n_params = answer
        true(
            isinstance(filter_shape, tuple) and len(filter_shape) == 3,
            f"{what}: the filter shape should be a tuple (rows, cols, channels).",
        )
        layer = keras.layers.Conv2D(c_out, kernel, padding="same", kernel_initializer="zeros")
        layer.build((None, 32, 32, c_in))
        _right(_whole(n_filters, f"{what}'s number of filters"), c_out, f"{what}'s number of filters")
        _right(
            tuple(_whole(v, f"{what}'s filter shape") for v in filter_shape),
            tuple(layer.kernel.shape[:3]),
            f"{what}'s filter shape",
        )
        _right(
            _whole(n_params, f"{what}'s number of parameters"), layer.count_params(), f"{what}'s number of parameters"
        )

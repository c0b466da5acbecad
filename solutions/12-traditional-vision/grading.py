"""Hidden tests of lesson 12: a colour histogram and HOG in NumPy, and a HOG + SVM pipeline.

`colour_histogram` and `hog_descriptor` are NumPy-only: the student's answers run in a
process where no other library exists. Their references are OpenCV's `cv2.calcHist` and
scikit-image's `skimage.feature.hog`, computed here. `fit_hog_svm` uses scikit-learn, so
it runs in the student's kernel: it is trained there on images sent from here, the
fitted object stays there (a handle), and its predictions are judged here.
"""

import functools

import cv2
import numpy as np
from skimage.feature import hog

from autograder.hidden import array, close, driver, shape, test, true, unchanged_call
from autograder.student import Handle, Ref
from course_lib import datasets


@driver
def on_strided_view(fn, image, row_step, col_step, *args, **kwargs):
    """Call fn on image[::row_step, ::col_step], a view that is not contiguous in memory."""
    return fn(image[::row_step, ::col_step], *args, **kwargs)


@functools.lru_cache(maxsize=None)
def _fashion():
    """Fashion-MNIST as the notebook has it in smoke mode: the first 3,000 training and 1,000 test images."""
    return datasets.load("fashion_mnist", smoke=True)


# ------------------------------------------------------------------ colour_histogram


def _calc_hist(image, bins):
    image = np.ascontiguousarray(image)
    n = image.shape[0] * image.shape[1]
    return np.concatenate([cv2.calcHist([image], [c], None, [bins], [0, 256]).ravel() for c in range(3)]) / n


def _calc_joint(image, bins):
    image = np.ascontiguousarray(image)
    n = image.shape[0] * image.shape[1]
    return cv2.calcHist([image], [0, 1, 2], None, [bins] * 3, [0, 256] * 3).ravel() / n


@test("test_colour_histogram", numpy_only=True)
def colour_histogram_on_the_visible_examples(student, rng):
    small = np.array([[[0, 255, 128], [64, 63, 192]]], dtype=np.uint8)  # one row, two pixels
    got = shape(student.call("colour_histogram", small, 4), (12,), "colour_histogram of a 1 x 2 image with 4 bins")
    close(got, [0.5, 0.5, 0, 0, 0.5, 0, 0, 0.5, 0, 0, 0.5, 0.5], "colour_histogram(small, 4)")
    got = shape(student.call("colour_histogram", small, 2, joint=True), (8,), "colour_histogram(small, 2, joint=True)")
    close(got, [0, 0.5, 0, 0.5, 0, 0, 0, 0], "colour_histogram(small, 2, joint=True)")
    (patches, _), _ = datasets.load("photo_patches", smoke=True)
    patch = patches[int(rng.integers(len(patches)))]
    close(
        student.call("colour_histogram", patch, 16),
        _calc_hist(patch, 16),
        "colour_histogram(patch, 16) of a photo patch against cv2.calcHist",
    )
    close(
        student.call("colour_histogram", patch, 4, joint=True),
        _calc_joint(patch, 4),
        "colour_histogram(patch, 4, joint=True) of a photo patch against cv2.calcHist",
    )


@test("test_colour_histogram", numpy_only=True)
def colour_histogram_matches_cv2_calchist(student, rng):
    for trial in range(8):
        h, w = (int(v) for v in rng.integers(1, 40, size=2))
        image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        b = int(rng.choice([1, 2, 3, 5, 7, 10, 16, 30, 64, 256]))
        close(
            unchanged_call(student, "colour_histogram", image, b),
            _calc_hist(image, b),
            f"colour_histogram of a random {h} x {w} image, {b} bins",
            atol=1e-9,
        )
        jb = int(rng.choice([2, 3, 5, 8, 12]))
        close(
            unchanged_call(student, "colour_histogram", image, jb, joint=True),
            _calc_joint(image, jb),
            f"joint colour_histogram of a random {h} x {w} image, {jb} bins",
            atol=1e-9,
        )
    extremes = np.zeros((3, 3, 3), dtype=np.uint8)
    extremes[1:] = 255
    got = shape(student.call("colour_histogram", extremes, 8), (24,), "colour_histogram of a 3 x 3 image, 8 bins")
    close(got[[0, 7]], [1 / 3, 2 / 3], "bins of the values 0 and 255")
    image = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    view = image[::2, ::3]
    close(
        student.run(on_strided_view, Ref("colour_histogram"), image, 2, 3, 6),
        _calc_hist(view, 6),
        "colour_histogram of an array view (image[::2, ::3])",
    )
    close(
        student.run(on_strided_view, Ref("colour_histogram"), image, 2, 3, 4, joint=True),
        _calc_joint(view, 4),
        "joint colour_histogram of an array view (image[::2, ::3])",
    )


# -------------------------------------------------------------------- hog_descriptor


def _skimage_hog(image, orientations, cell, block):
    return hog(image, orientations, (cell, cell), (block, block), block_norm="L2-Hys")


@test("test_hog_descriptor", numpy_only=True)
def hog_descriptor_on_the_visible_examples(student, rng):
    edge = np.zeros((16, 16))
    edge[:, 8:] = 1.0  # a vertical edge: every gradient points along the columns
    got = shape(student.call("hog_descriptor", edge, 9, 8, 1), (36,), "hog_descriptor(edge, 9, 8, 1)")
    true(
        bool(np.all(got.reshape(4, 9)[:, 1:] == 0)),
        "hog_descriptor(edge, 9, 8, 1): on a vertical edge only orientation bin 0 should be non-zero.",
    )
    close(got, _skimage_hog(edge, 9, 8, 1), "hog_descriptor(edge, 9, 8, 1) against skimage's hog", rtol=0, atol=1e-6)
    (fashion, labels), _ = _fashion()
    boot = fashion[np.flatnonzero(labels == 9)[0]]
    close(
        student.call("hog_descriptor", boot, 9, 7, 2),
        _skimage_hog(boot, 9, 7, 2),
        "hog_descriptor(boot, 9, 7, 2) against skimage's hog",
        rtol=0,
        atol=1e-6,
    )


@test("test_hog_descriptor", numpy_only=True)
def hog_descriptor_matches_skimage(student, rng):
    settings = [
        (9, 8, 2, (32, 32)),
        (9, 6, 3, (40, 30)),
        (8, 4, 2, (23, 29)),
        (12, 5, 1, (20, 27)),
        (6, 7, 2, (28, 28)),
        (4, 3, 3, (17, 13)),
    ]
    for orientations, cell, block, size in settings:
        image = rng.random(size)
        close(
            unchanged_call(student, "hog_descriptor", image, orientations, cell, block),
            _skimage_hog(image, orientations, cell, block),
            f"hog_descriptor of a random {size} image, {orientations} bins, cells {cell}, blocks {block}",
            rtol=0,
            atol=1e-6,
        )
    coffee = datasets.photo("coffee", grey=True)
    top, left = int(rng.integers(0, coffee.shape[0] - 64)), int(rng.integers(0, coffee.shape[1] - 80))
    crop = np.ascontiguousarray(coffee[top : top + 64, left : left + 80])  # uint8 input
    close(
        student.call("hog_descriptor", crop),
        _skimage_hog(crop, 9, 8, 2),
        "hog_descriptor of a 64 x 80 uint8 photo crop with the default settings",
        rtol=0,
        atol=1e-6,
    )
    flat = np.full((16, 24), float(rng.uniform(0, 255)))
    close(
        student.call("hog_descriptor", flat, 9, 8, 2),
        _skimage_hog(flat, 9, 8, 2),
        "hog_descriptor of a flat image",
        rtol=0,
        atol=1e-6,
    )


# ----------------------------------------------------------------------- fit_hog_svm


def _accuracy(student, model, images, labels, what, exact_shape=False):
    true(
        isinstance(model, Handle), "fit_hog_svm must return a fitted model (an object with a predict method), not data"
    )
    predicted = array(student.call((model, "predict"), images), f"{what}: predict's result")
    if exact_shape:
        shape(predicted, (len(images),), f"{what}: the predictions for {len(images)} images")
    predicted = predicted.ravel()
    true(predicted.size == len(images), f"{what}: predict gave {predicted.size} labels for {len(images)} images")
    return float(np.mean(predicted == labels))


@test("test_fit_hog_svm", seconds=240)
def hog_svm_on_fashion_mnist_visible_split(student, rng):
    (train, train_y), (test_x, test_y) = _fashion()
    model = student.call("fit_hog_svm", train[:1000], train_y[:1000])
    accuracy = _accuracy(
        student, model, test_x[:500], test_y[:500], "the first 500 Fashion-MNIST test images", exact_shape=True
    )
    true(accuracy >= 0.75, f"accuracy {accuracy:.3f} on the first 500 Fashion-MNIST test images is below 0.75.")


@test("test_fit_hog_svm", seconds=240)
def hog_svm_on_a_hidden_digits_split(student, rng):
    (digits_a, digits_a_y), (digits_b, digits_b_y) = datasets.load("opencv_digits", smoke=False)
    digits, digits_y = np.concatenate([digits_a, digits_b]), np.concatenate([digits_a_y, digits_b_y])
    order = np.random.default_rng(3131).permutation(len(digits))
    train_idx, test_idx = order[:1000], order[1000:2000]
    model = student.call("fit_hog_svm", digits[train_idx], digits_y[train_idx])
    accuracy = _accuracy(student, model, digits[test_idx], digits_y[test_idx], "a hidden digits split")
    true(accuracy >= 0.92, f"accuracy {accuracy:.3f} on a hidden digits split is too low.")
    # The same digits in other light: dark ink on pale paper, at half the contrast. Normalised
    # histograms of unsigned gradient directions do not change; raw pixels become strangers
    # (an SVM on them falls to chance, about 0.1).
    relit = (255 - digits[test_idx]) // 2 + 64
    accuracy = _accuracy(student, model, relit.astype(np.uint8), digits_y[test_idx], "the hidden digits, relit")
    true(
        accuracy >= 0.92,
        f"accuracy {accuracy:.3f} on the hidden digits in other light (dark on pale, half the "
        "contrast) is too low: raw pixels change with the light, HOG's normalised gradient directions do not.",
    )


@test("test_fit_hog_svm", seconds=240)
def hog_svm_on_a_hidden_fashion_split(student, rng):
    (train, train_y), (test_x, test_y) = _fashion()
    order = np.random.default_rng(77).permutation(len(train))[:1200]
    model = student.call("fit_hog_svm", train[order], train_y[order])
    accuracy = _accuracy(student, model, test_x[500:1000], test_y[500:1000], "a hidden Fashion-MNIST split")
    true(accuracy >= 0.78, f"accuracy {accuracy:.3f} on a hidden Fashion-MNIST split is too low.")

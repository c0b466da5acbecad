"""How each dataset's files are read: one parser per format, from files to NumPy arrays.

A parser takes ``{file name: path}`` (files already found and checked against their
pinned sha256, see `course_lib.sources`) and returns ``(x_train, y_train), (x_test,
y_test)``; options a lesson may pass to `datasets.load` (``num_words``, ``categories``,
``patch``) are its keyword arguments. Parsers know nothing about where files come from,
so each can be tested on a tiny file made on the spot. Data that ships inside a Python
package (scikit-learn's digits, scikit-image's photographs) is read here too.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import re
import tarfile
from pathlib import Path

import numpy as np

from course_lib.errors import DataError

# ------------------------------------------------------------------ the MNIST family


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST family's format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path.name} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path.name} holds {data.size} bytes of data, expected {int(np.prod(dims))}")
    return data.reshape(dims)


def parse_idx_set(paths: dict[str, Path]) -> tuple:
    x_train = read_idx(paths["train-images-idx3-ubyte.gz"])
    y_train = read_idx(paths["train-labels-idx1-ubyte.gz"])
    x_test = read_idx(paths["t10k-images-idx3-ubyte.gz"])
    y_test = read_idx(paths["t10k-labels-idx1-ubyte.gz"])
    return (x_train, y_train), (x_test, y_test)


def parse_mnist(paths: dict[str, Path]) -> tuple:
    with np.load(paths["mnist.npz"], allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


# ------------------------------------------------------------------- Keras's downloads


def parse_cifar10(paths: dict[str, Path]) -> tuple:
    """Read the python-pickled batches straight out of the tar.gz, without unpacking."""

    def batch(tar: tarfile.TarFile, member: str) -> tuple[np.ndarray, np.ndarray]:
        handle = tar.extractfile(f"cifar-10-batches-py/{member}")
        if handle is None:
            raise ValueError(f"{member} missing from the archive")
        # The archive's sha256 was checked before we get here, so unpickling is safe.
        d = pickle.load(handle, encoding="bytes")
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return x, np.asarray(d[b"labels"], dtype=np.uint8)

    with tarfile.open(paths["cifar-10-python.tar.gz"], "r:gz") as tar:
        parts = [batch(tar, f"data_batch_{i}") for i in range(1, 6)]
        x_test, y_test = batch(tar, "test_batch")
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    return (x_train, y_train), (x_test, y_test)


def parse_imdb(paths: dict[str, Path], num_words: int | None = None) -> tuple:
    """Word-index sequences as keras.datasets.imdb gives them (start 1, OOV 2, index_from 3)."""
    start_char, oov_char, index_from = 1, 2, 3
    with np.load(paths["imdb.npz"], allow_pickle=True) as f:  # sha256-checked file
        splits = [(f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])]
    out = []
    for xs, ys in splits:
        seqs = []
        for seq in xs:
            seq = [start_char] + [int(w) + index_from for w in seq]
            if num_words is not None:
                seq = [w if w < num_words else oov_char for w in seq]
            seqs.append(seq)
        out.append((np.array(seqs, dtype=object), np.asarray(ys, dtype=np.int64)))
    return tuple(out)


# ---------------------------------------------------------------------------- digits


def parse_opencv_digits(paths: dict[str, Path]) -> tuple:
    """OpenCV's digits.png: 50 x 100 cells of 20 x 20 pixels, 500 of each digit.

    The split follows OpenCV's own SVM tutorial: the left 50 columns train, the
    right 50 test (2,500 each).
    """
    import cv2

    image = cv2.imread(str(paths["digits.png"]), cv2.IMREAD_GRAYSCALE)
    if image is None or image.shape != (1000, 2000):
        raise ValueError("digits.png is not the 2000 x 1000 digit sheet")
    cells = image.reshape(50, 20, 100, 20).transpose(0, 2, 1, 3)  # (row, col, 20, 20)
    labels = np.repeat(np.arange(10, dtype=np.uint8), 5)  # five rows per digit
    x_train = cells[:, :50].reshape(-1, 20, 20)
    x_test = cells[:, 50:].reshape(-1, 20, 20)
    y = np.repeat(labels, 50)
    return (x_train, y), (x_test, y.copy())


def parse_sklearn_digits(paths: dict[str, Path]) -> tuple:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.images.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, bunch.target, test_size=0.25, stratify=bunch.target, random_state=0
    )
    return (x_train, y_train), (x_test, y_test)


# -------------------------------------------------------------------------- fortunes

# The four topics lessons use by default (large, with distinct vocabularies); the files
# the "fortunes" dataset knows are its registry entry's (`registry.FORTUNE_FILES`).
FORTUNE_CATEGORIES = ("computers", "men-women", "politics", "science")


def read_fortunes(path: Path) -> list[str]:
    """The entries of one fortune file: text blocks separated by lines holding only '%'."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    entries, block = [], []
    for line in text.splitlines():
        if line.strip() == "%":
            entries.append("\n".join(block))
            block = []
        else:
            block.append(line.rstrip())
    entries.append("\n".join(block))
    return [e.strip("\n") for e in entries if e.strip()]


def parse_fortunes(paths: dict[str, Path], categories=FORTUNE_CATEGORIES) -> tuple:
    """Texts and topic labels (indices into ``categories``), split 3:1 in every topic.

    ``categories`` are names of fortune files in ``paths``. The split is fixed without
    random numbers: the entries of each topic are ordered by the sha256 of their text and
    every fourth goes to the test set; both sets are then ordered by that hash, which mixes
    the topics. A text repeated inside a topic is kept once; a text found in two of the
    chosen topics is dropped (its label is ambiguous).
    """
    categories = tuple(categories)
    unknown = [c for c in categories if c not in paths]
    if unknown or len(set(categories)) != len(categories) or len(categories) < 2:
        raise DataError(
            f"fortunes: categories must be two or more distinct names from {', '.join(paths)}; got {list(categories)}"
        )
    key = lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()  # noqa: E731
    per_topic = {c: set(read_fortunes(paths[c])) for c in categories}
    seen: dict[str, int] = {}
    for texts in per_topic.values():
        for t in texts:
            seen[t] = seen.get(t, 0) + 1
    train, test = [], []
    for label, c in enumerate(categories):
        ordered = sorted((t for t in per_topic[c] if seen[t] == 1), key=key)
        for i, t in enumerate(ordered):
            (test if i % 4 == 3 else train).append((key(t), t, label))
    out = []
    for part in (train, test):
        part.sort()
        texts = np.empty(len(part), dtype=object)
        texts[:] = [t for _, t, _ in part]
        out.append((texts, np.array([label for _, _, label in part], dtype=np.int64)))
    return tuple(out)


# The two topics that stand in for IMDB's two sentiments (the largest pair: 1,225 + 407 texts).
IMDB_STAND_IN_TOPICS = ("computers", "men-women")
_WORD = re.compile(r"[a-z0-9']+")


def parse_fortunes_as_imdb(paths: dict[str, Path], num_words: int | None = None) -> tuple:
    """Two fortune topics (IMDB_STAND_IN_TOPICS, labels 0 and 1) encoded as `parse_imdb` gives IMDB.

    Texts are lower-cased and cut into words (runs of letters, digits and apostrophes);
    words are ranked by their count in the training texts (ties alphabetical), and a text
    becomes [1] + [rank + 3 for each word], as in keras.datasets.imdb: 1 marks the start,
    the most frequent word is 4, and 2 stands for a word beyond ``num_words`` or one
    never seen in training.
    """
    (texts_train, y_train), (texts_test, y_test) = parse_fortunes(paths, IMDB_STAND_IN_TOPICS)
    start_char, oov_char, index_from = 1, 2, 3
    counts: dict[str, int] = {}
    for text in texts_train:
        for word in _WORD.findall(text.lower()):
            counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    index = {word: rank + index_from for rank, word in enumerate(ranked, start=1)}
    out = []
    for texts, ys in ((texts_train, y_train), (texts_test, y_test)):
        seqs = np.empty(len(texts), dtype=object)
        for i, text in enumerate(texts):
            seq = [start_char] + [index.get(word, oov_char) for word in _WORD.findall(text.lower())]
            if num_words is not None:
                seq = [w if w < num_words else oov_char for w in seq]
            seqs[i] = seq
        out.append((seqs, ys))
    return tuple(out)


# -------------------------------------------------------------------- photo patches


def read_photo(path: Path) -> np.ndarray:
    """A photograph file (JPEG, PNG, ...) as an (H, W, 3) uint8 RGB array (OpenCV reads BGR)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path.name} could not be decoded")
    return np.ascontiguousarray(image[:, :, ::-1])


def skimage_photo(name: str) -> np.ndarray:
    """One of the images scikit-image ships (``skimage.data.<name>()``), as it comes."""
    import skimage.data

    return getattr(skimage.data, name)()


# Photo patches: the colour photographs scikit-image and opencv-doc ship, cut into small
# patches and labelled by the photo they come from, so colour features can be tested offline.
# A name ending in .jpg is a file of the dataset (an OpenCV sample); the others ship in scikit-image.
PHOTO_PATCH_SOURCES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "baboon.jpg",
    "fruits.jpg",
    "butterfly.jpg",
    "starry_night.jpg",
    "building.jpg",
    "messi5.jpg",
)
PHOTO_PATCH_CLASSES = (
    "astronaut",
    "coffee",
    "cat",
    "rocket",
    "baboon",
    "fruits",
    "butterfly",
    "starry night",
    "building",
    "football",
)
# Blocks (row, column) of each photo's 4 x 4 grid that go to the test set: one per row and column.
PHOTO_PATCH_TEST_BLOCKS = frozenset({(0, 1), (1, 3), (2, 0), (3, 2)})


def parse_photo_patches(paths: dict[str, Path], patch: int = 32) -> tuple:
    """RGB patches (n, patch, patch, 3) of ten photographs, labelled by photo (PHOTO_PATCH_CLASSES).

    The OpenCV photos are the dataset's files; scikit-image's come from the installed
    package. See `cut_photo_patches` for how they are cut: with the default size, 3,000
    training and 1,000 test patches, 300 and 100 per photo.
    """
    images = [read_photo(paths[s]) if s.endswith(".jpg") else skimage_photo(s) for s in PHOTO_PATCH_SOURCES]
    return cut_photo_patches(images, patch)


def cut_photo_patches(images: list[np.ndarray], patch: int = 32) -> tuple:
    """Patches (n, patch, patch, 3) of RGB ``images``, labelled by the index of their image.

    Each photo is centre-cropped to a square, resized to 12 * patch pixels a side
    (cv2.INTER_AREA) and cut into a 4 x 4 grid of blocks 3 * patch wide. The four blocks
    in PHOTO_PATCH_TEST_BLOCKS make the test set, the other twelve the training set;
    inside a block, patches are taken every patch // 2 pixels (5 x 5 per block). Patches
    overlap only inside a block, so no test pixel is ever seen in training. Each set is
    shuffled with a fixed seed.
    """
    import cv2

    if patch < 2 or patch % 2:
        raise ValueError(f"patch must be an even number of pixels >= 2, got {patch}")
    block, stride = 3 * patch, patch // 2
    parts: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    for label, image in enumerate(images):
        h, w = image.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = np.ascontiguousarray(image[top : top + side, left : left + side])
        square = cv2.resize(square, (4 * block, 4 * block), interpolation=cv2.INTER_AREA)
        for br in range(4):
            for bc in range(4):
                xs, ys = parts["test" if (br, bc) in PHOTO_PATCH_TEST_BLOCKS else "train"]
                for r in range(br * block, (br + 1) * block - patch + 1, stride):
                    for c in range(bc * block, (bc + 1) * block - patch + 1, stride):
                        xs.append(square[r : r + patch, c : c + patch])
                        ys.append(label)
    out = []
    for seed, split in enumerate(("train", "test")):
        xs, ys = parts[split]
        order = np.random.default_rng(seed).permutation(len(xs))
        out.append((np.stack(xs)[order].astype(np.uint8), np.asarray(ys, dtype=np.uint8)[order]))
    return tuple(out)

"""Every dataset the course uses, found offline first.

Each dataset is looked for, in order, in

1. the course data directory (``COURSE_DATA_DIR``, default ``~/.keras-course/data``),
   one folder per dataset;
2. the Keras cache (``KERAS_HOME`` or ``~/.keras``), where ``keras.datasets`` leaves
   its downloads;
3. files that distribution packages install (Debian's ``dataset-fashion-mnist``,
   ``opencv-doc`` and ``fortunes``);
4. and only when `fetch` is asked to: a download checked against a pinned sha256, from
   the dataset's home or from a mirror (``COURSE_DATA_MIRROR``: a URL or a folder laid
   out like the data directory, ``<mirror>/<dataset>/<file>``).

Files are verified by what they hold. Fashion-MNIST's gzipped files are pinned by the
sha256 of their decompressed bytes, because upstream, Debian, the Keras cache and
mirrors compress the same data with different tools and settings; an unpacked copy is
accepted too. Files that come from one source only are pinned as they are.
A file that is missing or fails its check is an error naming the command that
provisions it; one dataset is never quietly replaced by another.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from course_lib import runtime
from course_lib.errors import CourseError

SMOKE_SIZES = {"train": 3000, "test": 1000}
# Decompressing more than this is not the file we pinned (a gzip bomb, or the wrong file).
MAX_CONTENT_BYTES = 2 * 2**30


class DataError(CourseError):
    """A dataset is missing or damaged; the message names the command that fixes it."""


@dataclasses.dataclass(frozen=True)
class DataFile:
    name: str
    url: str
    # sha256 of the file; with `by_content`, of its decompressed bytes (a .gz file).
    sha256: str
    # Other places a copy may already sit, relative to the Keras home folder.
    keras_cache: tuple[str, ...] = ()
    # The same data reaches students gzipped by different tools (upstream, Debian, a
    # mirror), so it is pinned by what it holds; an unpacked copy is accepted too.
    by_content: bool = False

    def names(self) -> tuple[str, ...]:
        """File names a copy may have."""
        return (self.name, self.name.removesuffix(".gz")) if self.by_content else (self.name,)


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    files: tuple[DataFile, ...]
    parse: Callable[[dict[str, Path]], tuple]
    system_dir: str | None = None
    system_package: str | None = None
    # Datasets that ship inside an installed Python package need no files at all.
    builtin: bool = False
    notes: str = ""


# ----------------------------------------------------------------------------- parsers


def _read_idx(path: Path) -> np.ndarray:
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


def _parse_idx_set(paths: dict[str, Path]) -> tuple:
    x_train = _read_idx(paths["train-images-idx3-ubyte.gz"])
    y_train = _read_idx(paths["train-labels-idx1-ubyte.gz"])
    x_test = _read_idx(paths["t10k-images-idx3-ubyte.gz"])
    y_test = _read_idx(paths["t10k-labels-idx1-ubyte.gz"])
    return (x_train, y_train), (x_test, y_test)


def _parse_mnist(paths: dict[str, Path]) -> tuple:
    with np.load(paths["mnist.npz"], allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _parse_cifar10(paths: dict[str, Path]) -> tuple:
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


def _parse_imdb(paths: dict[str, Path], num_words: int | None = None) -> tuple:
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


def _parse_opencv_digits(paths: dict[str, Path]) -> tuple:
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


def _parse_sklearn_digits(paths: dict[str, Path]) -> tuple:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.images.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, bunch.target, test_size=0.25, stratify=bunch.target, random_state=0
    )
    return (x_train, y_train), (x_test, y_test)


# The fortune files of Debian's `fortunes` package that the "fortunes" dataset knows, and
# the four topics lessons use by default (large, with distinct vocabularies).
FORTUNE_FILES = {
    "computers": "a86be224d9f733b88eeaf8a46ea0427e05cc69c69edcf5f6db47ddf561ca37fd",
    "food": "78077a65b9288df71e7b2a8e8258cd3b1005d1282f7c7e57ad53927f374df45d",
    "law": "f04141f94e788b7899e0adb0490d182ce711f8fdbb8252343a5257e717e9279d",
    "love": "4d4fb7c540e5500e44643524dae41dd7d2b21b80be184253fd9f8541f6029fc5",
    "men-women": "8fc4eb68a8d16826372d9bfdc910c8ab917b8aa59e2aac533f3ec2b49a1314ba",
    "politics": "b56ca45a046edd5c459090a5c6b335332661b436e814b41ac87bb58065ad6131",
    "science": "7ab350b142ee6c70c1d8517c5a1b3790c09b190a62859427cad98e6e35a19fcc",
    "sports": "b71dd524d7bca888ec1014fb849a8a15cf58017c59127e572d393ef7632c35c8",
}
FORTUNE_CATEGORIES = ("computers", "men-women", "politics", "science")


def _read_fortunes(path: Path) -> list[str]:
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


def _parse_fortunes(paths: dict[str, Path], categories=FORTUNE_CATEGORIES) -> tuple:
    """Texts and topic labels (indices into ``categories``), split 3:1 in every topic.

    The split is fixed without random numbers: the entries of each topic are ordered by
    the sha256 of their text and every fourth goes to the test set; both sets are then
    ordered by that hash, which mixes the topics. A text repeated inside a topic is kept
    once; a text found in two of the chosen topics is dropped (its label is ambiguous).
    """
    categories = tuple(categories)
    unknown = [c for c in categories if c not in FORTUNE_FILES]
    if unknown or len(set(categories)) != len(categories) or len(categories) < 2:
        raise DataError(
            f"fortunes: categories must be two or more distinct names from "
            f"{', '.join(FORTUNE_FILES)}; got {list(categories)}"
        )
    key = lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()  # noqa: E731
    per_topic = {c: set(_read_fortunes(paths[c])) for c in categories}
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


# Photo patches: the colour photographs scikit-image and opencv-doc ship, cut into small
# patches and labelled by the photo they come from, so colour features can be tested offline.
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
_PHOTO_PATCH_SHA256 = {
    "baboon.jpg": "1a1dd18d78eec44420af3b0b7f08ee3d41c982916cae3ce203d7ff35d754cc0f",
    "fruits.jpg": "9c031d80a1c52da5eca790db896baffec6a7e52bf786cdb7bbfca5c7f880e6a1",
    "butterfly.jpg": "34a99716b78ded10eae87b4880de739d3e68cc7dd1a96812bb28f469d5eeaea8",
    "starry_night.jpg": "accda7a19a90f22a4a922fdc8c230167d7abf5f80882171e2cee125c5f12481d",
    "building.jpg": "742a1baad62ac82e91e718e77eedf7e85c2eddc4badfb8c87c6cbc86c45a8b07",
    "messi5.jpg": "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",
}


def _parse_photo_patches(paths: dict[str, Path], patch: int = 32) -> tuple:
    """RGB patches (n, patch, patch, 3) of ten photographs, labelled by photo (PHOTO_PATCH_CLASSES).

    Each photo is centre-cropped to a square, resized to 12 * patch pixels a side
    (cv2.INTER_AREA) and cut into a 4 x 4 grid of blocks 3 * patch wide. The four blocks
    in PHOTO_PATCH_TEST_BLOCKS make the test set, the other twelve the training set;
    inside a block, patches are taken every patch // 2 pixels (5 x 5 per block). Patches
    overlap only inside a block, so no test pixel is ever seen in training. With the
    default size: 3,000 training and 1,000 test patches, 300 and 100 per photo, each set
    shuffled with a fixed seed.
    """
    import cv2

    if patch < 2 or patch % 2:
        raise ValueError(f"patch must be an even number of pixels >= 2, got {patch}")
    block, stride = 3 * patch, patch // 2
    parts: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    for label, source in enumerate(PHOTO_PATCH_SOURCES):
        if source in paths:
            image = cv2.imread(str(paths[source]), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{source} could not be decoded")
            image = image[:, :, ::-1]  # BGR -> RGB
        else:
            image = photo(source)
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


# ---------------------------------------------------------------------------- registry

_TFK = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# sha256 of the decompressed IDX files: the same for Zalando's and Keras's downloads, Debian's
# package and any copy gzipped again (the .gz files themselves differ between those sources).
_FASHION_FILES = (
    ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
)

REGISTRY: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "fashion_mnist",
            "Zalando Fashion-MNIST: 60,000 + 10,000 grey 28x28 clothing images, 10 classes",
            tuple(
                DataFile(n, _TFK + n, h, (f"datasets/fashion-mnist/{n}",), by_content=True) for n, h in _FASHION_FILES
            ),
            _parse_idx_set,
            system_dir="/usr/share/datasets/fashion-mnist",
            system_package="dataset-fashion-mnist",
        ),
        Dataset(
            "mnist",
            "MNIST handwritten digits: 60,000 + 10,000 grey 28x28 images, 10 classes",
            (
                DataFile(
                    "mnist.npz",
                    _TFK + "mnist.npz",
                    "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
                    ("datasets/mnist.npz",),
                ),
            ),
            _parse_mnist,
        ),
        Dataset(
            "cifar10",
            "CIFAR-10: 50,000 + 10,000 colour 32x32 photos, 10 classes",
            (
                DataFile(
                    "cifar-10-python.tar.gz",
                    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                    ("datasets/cifar-10-batches-py-target.tar.gz", "datasets/cifar-10-batches-py.tar.gz"),
                ),
            ),
            _parse_cifar10,
        ),
        Dataset(
            "imdb",
            "IMDB movie reviews: 25,000 + 25,000 reviews as word indices, positive/negative",
            (
                DataFile(
                    "imdb.npz",
                    _TFK + "imdb.npz",
                    "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
                    ("datasets/imdb.npz",),
                ),
            ),
            _parse_imdb,
        ),
        Dataset(
            "opencv_digits",
            "OpenCV's digits.png: 5,000 handwritten digits, 20x20, split 2,500 / 2,500",
            (
                DataFile(
                    "digits.png",
                    "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/digits.png",
                    "60c917758ef97cc090f35cd8e293e4de691ef942847da0ff80dedab33d57c662",
                ),
            ),
            _parse_opencv_digits,
            system_dir="/usr/share/doc/opencv-doc/examples/data",
            system_package="opencv-doc",
        ),
        Dataset(
            "sklearn_digits",
            "scikit-learn's digits: 1,797 handwritten digits, 8x8, split 75 / 25 %",
            (),
            _parse_sklearn_digits,
            builtin=True,
            notes="ships inside scikit-learn",
        ),
        Dataset(
            "photo_patches",
            "Photo patches: 3,000 + 1,000 colour 32x32 patches of ten photographs (scikit-image and "
            "opencv-doc), labelled by photo; train and test patches come from different blocks",
            tuple(
                DataFile(n, "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/" + n, h)
                for n, h in _PHOTO_PATCH_SHA256.items()
            ),
            _parse_photo_patches,
            system_dir="/usr/share/doc/opencv-doc/examples/data",
            system_package="opencv-doc",
        ),
        Dataset(
            "fortunes",
            "Fortune-cookie texts by topic (Debian's fortunes): texts and labels, split 3:1 per topic; "
            "choose topics with categories=, default FORTUNE_CATEGORIES",
            tuple(
                DataFile(c, f"https://sources.debian.org/data/main/f/fortune-mod/1:1.99.1-7.3/datfiles/{c}", h)
                for c, h in FORTUNE_FILES.items()
            ),
            _parse_fortunes,
            system_dir="/usr/share/games/fortunes",
            system_package="fortunes",
        ),
    ]
}


# ------------------------------------------------------------------------------ places


def data_dir() -> Path:
    """The course data directory: ``COURSE_DATA_DIR`` or ``~/.keras-course/data``."""
    return Path(os.environ.get("COURSE_DATA_DIR") or Path.home() / ".keras-course" / "data").expanduser()


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def _spec(name: str) -> Dataset:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def fix_hint(spec: Dataset) -> str:
    """How to provision a dataset, in the words of the commands that do it."""
    ways = []
    if spec.system_package:
        ways.append(f"`sudo apt-get install {spec.system_package}` (Debian, Ubuntu)")
    ways.append(f"`course data fetch {spec.name}` (needs network, or COURSE_DATA_MIRROR)")
    ways.append(f"copy {', '.join(f.name for f in spec.files)} into {data_dir() / spec.name}/")
    return "Provision it with " + ", or ".join(ways) + "."


def _candidates(spec: Dataset, f: DataFile) -> list[tuple[str, Path]]:
    folders = [("data dir", data_dir() / spec.name)]
    folders += [("keras cache", (keras_home() / rel).parent) for rel in f.keras_cache]
    if spec.system_dir:
        folders.append((f"package {spec.system_package}", Path(spec.system_dir)))
    return [(src, folder / name) for src, folder in folders for name in f.names()]


def sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_sha256(path: Path) -> str:
    """sha256 of a .gz file's decompressed bytes (of any other file's own bytes).

    Raises DataError for a .gz file that does not decompress, or decompresses to more
    than MAX_CONTENT_BYTES.
    """
    if path.suffix != ".gz":
        return sha256(path)
    digest, total = hashlib.sha256(), 0
    try:
        with gzip.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                total += len(chunk)
                if total > MAX_CONTENT_BYTES:
                    raise DataError(f"{path} decompresses to more than {MAX_CONTENT_BYTES} bytes")
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc})") from exc
    return digest.hexdigest()


def fingerprint(path: Path, f: DataFile) -> str:
    """The sha256 that `f.sha256` pins, computed for a copy at ``path``."""
    return content_sha256(path) if f.by_content else sha256(path)


def _matches(path: Path, f: DataFile) -> bool:
    try:
        return fingerprint(path, f) == f.sha256
    except DataError:
        return False


def locate(name: str) -> dict[str, tuple[str, Path]] | None:
    """Where each of a dataset's files is found, as {file: (source, path)}; None if any is missing.

    Only existence is checked here; `load` verifies content.
    """
    spec = _spec(name)
    found = {}
    for f in spec.files:
        hit = next(((src, p) for src, p in _candidates(spec, f) if p.is_file()), None)
        if hit is None:
            return None
        found[f.name] = hit
    return found


def available(name: str) -> str | None:
    """A one-line description of where a dataset comes from, or None when it is absent."""
    spec = _spec(name)
    if spec.builtin:
        return spec.notes
    found = locate(name)
    if found is None:
        return None
    sources = sorted({f"{src} ({p.parent})" for src, p in found.values()})
    return "; ".join(sources)


def _verified_paths(spec: Dataset) -> dict[str, Path]:
    """Each file's first copy whose content is the pinned one.

    A damaged copy in one place does not hide a good one further down the search order;
    when no copy is good, the error names the first damaged one and the fix.
    """
    paths = {}
    for f in spec.files:
        present = [(src, p) for src, p in _candidates(spec, f) if p.is_file()]
        good = next((p for _, p in present if _matches(p, f)), None)
        if good is not None:
            paths[f.name] = good
        elif present:
            src, path = present[0]
            raise DataError(
                f"Dataset {spec.name!r}: {path} (from {src}) is damaged: its content does not match the pinned sha256. "
                f"Delete it and run `course data fetch {spec.name} --force`, or reinstall its source. {fix_hint(spec)}"
            )
        else:
            missing = [g.name for g in spec.files if not any(p.is_file() for _, p in _candidates(spec, g))]
            raise DataError(
                f"Dataset {spec.name!r} is not available here (missing {', '.join(missing)}). {fix_hint(spec)}"
            )
    return paths


def _subset(split: tuple, size: int | None) -> tuple:
    if size is None:
        return split
    return tuple(part[:size] for part in split)


def load(name: str, *, smoke: bool | None = None, **options) -> tuple:
    """Load a dataset as ``(x_train, y_train), (x_test, y_test)`` NumPy arrays.

    In smoke mode (or with ``smoke=True``) only the first 3,000 training and 1,000
    test examples are returned, so CI stays fast; full mode returns everything.
    Extra options go to the dataset's parser (e.g. ``num_words`` for imdb).
    """
    spec = _spec(name)
    paths = {} if spec.builtin else _verified_paths(spec)
    try:
        train, test = spec.parse(paths, **options)
    except (OSError, ValueError, EOFError, KeyError, pickle.UnpicklingError, tarfile.TarError) as exc:
        raise DataError(f"Dataset {name!r} could not be read ({exc}). {fix_hint(spec)}") from exc
    if smoke is None:
        smoke = runtime.mode() == "smoke"
    if smoke:
        train, test = _subset(train, SMOKE_SIZES["train"]), _subset(test, SMOKE_SIZES["test"])
    return train, test


# ------------------------------------------------------------------------------- fetch


def mirror() -> str | None:
    """The data mirror from ``COURSE_DATA_MIRROR``, as a URL, or None when unset.

    A mirror is laid out like the data directory (``<dataset>/<file>``); it may be an
    http(s) or file URL, or a folder (a USB stick, a shared drive).
    """
    value = os.environ.get("COURSE_DATA_MIRROR", "").strip()
    if not value:
        return None
    if "://" not in value:
        value = Path(value).expanduser().resolve().as_uri()
    return value.rstrip("/")


def _sources(spec: Dataset, f: DataFile) -> list[str]:
    base = mirror()
    if base:
        return [f"{base}/{urllib.parse.quote(spec.name)}/{urllib.parse.quote(f.name)}"]
    return [f.url]


def _download(url: str, dest: Path, f: DataFile, timeout: float = 60) -> None:
    """Download to a temporary file, check it, then move it into place (never a half file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=dest.suffix, dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        try:
            got = fingerprint(tmp, f)
        except DataError as exc:
            raise DataError(f"{url} downloaded, but it is damaged ({exc}); nothing was kept") from None
        if got != f.sha256:
            what = "decompressed content" if f.by_content else "file"
            raise DataError(
                f"{url} downloaded, but the sha256 of its {what} is {got}, not the pinned {f.sha256}; nothing was kept"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(name: str, *, force: bool = False, log: Callable[[str], None] = print) -> str:
    """Make a dataset available: report where it already is, or download and verify it."""
    spec = _spec(name)
    if spec.builtin:
        log(f"{name}: {spec.notes}; nothing to fetch")
        return spec.notes
    if not force:
        try:
            _verified_paths(spec)
            where = available(name)
            log(f"{name}: available from {where}")
            return where
        except DataError:
            pass  # missing or damaged: download below
    target = data_dir() / spec.name
    for f in spec.files:
        for url in _sources(spec, f):
            log(f"{name}: downloading {f.name} from {url}")
            try:
                _download(url, target / f.name, f)
            except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
                raise DataError(f"Dataset {name!r}: download of {url} failed ({exc}). {fix_hint(spec)}") from exc
    where = available(name)
    log(f"{name}: downloaded and verified into {target}")
    return where


# ------------------------------------------------------------------------------ photos

# Real photographs that installed packages ship, so image-processing demos need no download.
_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel", "coins")
_OPENCV_PHOTOS_DIR = "/usr/share/doc/opencv-doc/examples/data"


def photos() -> list[str]:
    """Names that `photo` accepts: scikit-image's photographs, then OpenCV's sample photos.

    OpenCV's come from the opencv-doc package or from the photo_patches dataset's files
    (`course data fetch photo_patches`).
    """
    names = set(_PHOTO_PATCH_SHA256)
    folder = Path(_OPENCV_PHOTOS_DIR)
    if folder.is_dir():
        names |= {p.name for p in folder.glob("*.jpg")}
    return list(_SKIMAGE_PHOTOS) + sorted(names)


def _opencv_photo_path(name: str) -> Path:
    """Where an OpenCV sample photo is: verified like the photo_patches files it is one of."""
    spec = REGISTRY["photo_patches"]
    pinned = next((f for f in spec.files if f.name == name), None)
    if pinned is None:  # not one we pin: only opencv-doc has it
        path = Path(_OPENCV_PHOTOS_DIR) / name
        if path.is_file():
            return path
        raise DataError(
            f"Photo {name!r} is not available here ({path} is missing). "
            "Provision it with `sudo apt-get install opencv-doc`, or pick one of " + ", ".join(photos()) + "."
        )
    return _verified_paths(dataclasses.replace(spec, files=(pinned,)))[name]


def photo(name: str = "astronaut", *, grey: bool = False) -> np.ndarray:
    """A real photograph as a uint8 array, (H, W, 3) RGB or (H, W) when ``grey``.

    ``name`` is one of scikit-image's bundled images (``"astronaut"``, ``"coffee"``,
    ...) or one of OpenCV's sample photos (``"fruits.jpg"``, ``"baboon.jpg"``).
    """
    if name in _SKIMAGE_PHOTOS:
        import skimage.data

        image = getattr(skimage.data, name)()
    elif name.endswith(".jpg") and "/" not in name and "\\" not in name and not name.startswith("."):
        import cv2

        path = _opencv_photo_path(name)
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(f"Photo {name!r} ({path}) could not be decoded. {fix_hint(REGISTRY['photo_patches'])}")
        image = image[:, :, ::-1]  # OpenCV reads BGR
    else:
        raise DataError(f"unknown photo {name!r}; known: {', '.join(photos())}")
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if grey and image.ndim == 3:
        # ITU-R BT.601 luma, the weights OpenCV and most textbooks use.
        image = np.round(image @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    if not grey and image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image


# ------------------------------------------------------------------------------ series

# Real time series that statsmodels ships, so forecasting lessons need no download.
SERIES = {
    "sunspots": "yearly mean sunspot number, 1700-2008",
    "co2": "weekly atmospheric CO2 at Mauna Loa (ppm), 1958-2001; the 59 missing weeks are filled "
    "by linear interpolation",
    "nile": "yearly flow of the Nile at Aswan (10^8 m^3), 1871-1970",
    "elnino": "monthly sea-surface temperature of the El Nino region (deg C), 1950-2010",
}


def series(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A real time series as ``(values, index)``: float64 values and their time stamps.

    ``name`` is one of `SERIES`. The index holds years (int64) for the yearly series,
    ``datetime64[D]`` days for co2 and ``datetime64[M]`` months for elnino.
    """
    if name not in SERIES:
        raise DataError(f"unknown series {name!r}; known: {', '.join(SERIES)}")
    try:
        from statsmodels import datasets as sm_datasets
    except ImportError as exc:
        raise DataError(
            f"Series {name!r} ships with statsmodels, which is not installed: `pip install statsmodels`."
        ) from exc
    if name == "sunspots":
        frame = sm_datasets.sunspots.load_pandas().data
        values, index = frame["SUNACTIVITY"].to_numpy(), frame["YEAR"].to_numpy()
    elif name == "nile":
        frame = sm_datasets.nile.load_pandas().data
        values, index = frame["volume"].to_numpy(), frame["year"].to_numpy()
    elif name == "co2":
        frame = sm_datasets.co2.load_pandas().data["co2"].interpolate(method="linear")
        values, index = frame.to_numpy(), frame.index.to_numpy().astype("datetime64[D]")
    else:  # elnino: one row per year, one column per month
        frame = sm_datasets.elnino.load_pandas().data
        values = frame.drop(columns="YEAR").to_numpy().ravel()
        first = f"{int(frame['YEAR'].iloc[0])}-01"
        index = np.arange(np.datetime64(first, "M"), np.datetime64(first, "M") + len(values))
    if name in ("sunspots", "nile"):
        index = index.astype(np.int64)
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        raise DataError(f"Series {name!r} has missing values; is statsmodels damaged?")
    return values, np.asarray(index)

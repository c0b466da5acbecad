"""Every dataset the course uses, found offline first.

Each dataset is looked for, in order, in

1. the course data directory (``COURSE_DATA_DIR``, default ``~/.keras-course/data``),
   one folder per dataset;
2. the Keras cache (``KERAS_HOME`` or ``~/.keras``), where ``keras.datasets`` leaves
   its downloads;
3. files that distribution packages install (Debian's ``dataset-fashion-mnist`` and
   ``opencv-doc``);
4. and only when `fetch` is asked to: a download checked against a pinned sha256.

A file that is missing or fails its checksum is an error naming the command that
provisions it; one dataset is never quietly replaced by another.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from course_lib import runtime

SMOKE_SIZES = {"train": 3000, "test": 1000}


class DataError(RuntimeError):
    """A dataset is missing or damaged; the message names the command that fixes it."""


@dataclass(frozen=True)
class DataFile:
    name: str
    url: str
    sha256: str
    # Other places a copy may already sit, relative to the Keras home folder.
    keras_cache: tuple[str, ...] = ()


@dataclass(frozen=True)
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


# ---------------------------------------------------------------------------- registry

_TFK = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FASHION_FILES = (
    ("train-images-idx3-ubyte.gz", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
    ("train-labels-idx1-ubyte.gz", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
    ("t10k-images-idx3-ubyte.gz", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
    ("t10k-labels-idx1-ubyte.gz", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
)

REGISTRY: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "fashion_mnist",
            "Zalando Fashion-MNIST: 60,000 + 10,000 grey 28x28 clothing images, 10 classes",
            tuple(DataFile(n, _TFK + n, h, (f"datasets/fashion-mnist/{n}",)) for n, h in _FASHION_FILES),
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
        ways.append(f"`sudo apt-get install {spec.system_package}`")
    ways.append(f"`course data fetch {spec.name}` (needs network)")
    ways.append(f"copy {', '.join(f.name for f in spec.files)} into {data_dir() / spec.name}/")
    return "Provision it with " + ", or ".join(ways) + "."


def _candidates(spec: Dataset, f: DataFile) -> list[tuple[str, Path]]:
    places = [("data dir", data_dir() / spec.name / f.name)]
    places += [("keras cache", keras_home() / rel) for rel in f.keras_cache]
    if spec.system_dir:
        places.append((f"package {spec.system_package}", Path(spec.system_dir) / f.name))
    return places


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate(name: str) -> dict[str, tuple[str, Path]] | None:
    """Where each of a dataset's files is found, as {file: (source, path)}; None if any is missing.

    Only existence is checked here; `load` verifies checksums.
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
    found = locate(spec.name)
    if found is None:
        missing = [f.name for f in spec.files if not any(p.is_file() for _, p in _candidates(spec, f))]
        raise DataError(f"Dataset {spec.name!r} is not available here (missing {', '.join(missing)}). {fix_hint(spec)}")
    by_name = {f.name: f for f in spec.files}
    for fname, (src, path) in found.items():
        if sha256(path) != by_name[fname].sha256:
            raise DataError(
                f"Dataset {spec.name!r}: {path} (from {src}) is damaged: its sha256 does not match. "
                f"Delete it and run `course data fetch {spec.name} --force`, or reinstall its source. {fix_hint(spec)}"
            )
    return {fname: path for fname, (_, path) in found.items()}


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


def _download(url: str, dest: Path, expected_sha256: str, timeout: float = 60) -> None:
    """Download to a temporary file, check it, then move it into place (never a half file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        got = sha256(tmp)
        if got != expected_sha256:
            raise DataError(f"{url} downloaded, but its sha256 is {got}, not the pinned {expected_sha256}; nothing was kept")
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
        log(f"{name}: downloading {f.name} from {f.url}")
        try:
            _download(f.url, target / f.name, f.sha256)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise DataError(f"Dataset {name!r}: download of {f.url} failed ({exc}). {fix_hint(spec)}") from exc
    where = available(name)
    log(f"{name}: downloaded and verified into {target}")
    return where


# ------------------------------------------------------------------------------ photos

# Real photographs that installed packages ship, so image-processing demos need no download.
_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel", "coins")
_OPENCV_PHOTOS_DIR = "/usr/share/doc/opencv-doc/examples/data"


def photos() -> list[str]:
    """Names that `photo` accepts: scikit-image's photographs, then opencv-doc's (if installed)."""
    names = list(_SKIMAGE_PHOTOS)
    folder = Path(_OPENCV_PHOTOS_DIR)
    if folder.is_dir():
        names += sorted(p.name for p in folder.glob("*.jpg"))
    return names


def photo(name: str = "astronaut", *, grey: bool = False) -> np.ndarray:
    """A real photograph as a uint8 array, (H, W, 3) RGB or (H, W) when ``grey``.

    ``name`` is one of scikit-image's bundled images (``"astronaut"``, ``"coffee"``,
    ...) or a ``.jpg`` from the opencv-doc package (``"fruits.jpg"``, ``"baboon.jpg"``).
    """
    if name in _SKIMAGE_PHOTOS:
        import skimage.data

        image = getattr(skimage.data, name)()
    elif name.endswith(".jpg") and "/" not in name:
        import cv2

        path = Path(_OPENCV_PHOTOS_DIR) / name
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(
                f"Photo {name!r} is not available here ({path} is missing). "
                "Provision it with `sudo apt-get install opencv-doc`, or pick one of scikit-image's: "
                + ", ".join(_SKIMAGE_PHOTOS) + "."
            )
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

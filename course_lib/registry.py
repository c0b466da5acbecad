"""The table of datasets the course knows: each one's files, their pinned sha256, and its parser.

One entry per dataset (`Dataset`), naming its files (`DataFile`: where upstream serves
it, its sha256, where the Keras cache or a Debian package may already hold a copy) and
the parser in `course_lib.formats` that reads them. Adding a dataset is adding an entry
here (and a parser there); finding, checking and fetching the files is
`course_lib.sources`'s job, the same for every dataset.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from course_lib import formats
from course_lib.errors import DataError


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
class StandIn:
    """Data in a dataset's shape, made from a small dataset the course provisions (`make data`).

    A lesson section built on a dataset too large to ship (CIFAR-10, IMDB) asks for it
    with ``datasets.load(name, allow_stand_in=True)``: where the dataset is absent, this
    stands in for it, so the section's code runs everywhere (CI included), and `load`
    says so.
    """

    dataset: str  # the registry entry whose files it is made from
    parse: Callable[..., tuple]  # reads those files, giving arrays shaped like the real dataset's
    description: str


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
    stand_in: StandIn | None = None


_TFK = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# sha256 of the decompressed IDX files: the same for Zalando's and Keras's downloads, Debian's
# package and any copy gzipped again (the .gz files themselves differ between those sources).
_FASHION_FILES = (
    ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
)
# The fortune files of Debian's `fortunes` package that the "fortunes" dataset knows.
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
# The OpenCV sample photos among formats.PHOTO_PATCH_SOURCES (scikit-image ships the others).
PHOTO_PATCH_FILES = {
    "baboon.jpg": "1a1dd18d78eec44420af3b0b7f08ee3d41c982916cae3ce203d7ff35d754cc0f",
    "fruits.jpg": "9c031d80a1c52da5eca790db896baffec6a7e52bf786cdb7bbfca5c7f880e6a1",
    "butterfly.jpg": "34a99716b78ded10eae87b4880de739d3e68cc7dd1a96812bb28f469d5eeaea8",
    "starry_night.jpg": "accda7a19a90f22a4a922fdc8c230167d7abf5f80882171e2cee125c5f12481d",
    "building.jpg": "742a1baad62ac82e91e718e77eedf7e85c2eddc4badfb8c87c6cbc86c45a8b07",
    "messi5.jpg": "1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9",
}

REGISTRY: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "fashion_mnist",
            "Zalando Fashion-MNIST: 60,000 + 10,000 grey 28x28 clothing images, 10 classes",
            tuple(
                DataFile(n, _TFK + n, h, (f"datasets/fashion-mnist/{n}",), by_content=True) for n, h in _FASHION_FILES
            ),
            formats.parse_idx_set,
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
            formats.parse_mnist,
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
            formats.parse_cifar10,
            stand_in=StandIn(
                "photo_patches",
                formats.parse_photo_patches,
                "the photo patches, 3,000 + 1,000 colour 32x32 patches cut from ten photographs and "
                "labelled by photograph (10 classes, PHOTO_PATCH_CLASSES)",
            ),
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
            formats.parse_imdb,
            stand_in=StandIn(
                "fortunes",
                formats.parse_fortunes_as_imdb,
                "fortunes about computers (label 0) or about men and women (label 1), 1,225 + 407 short "
                "texts as word indices in IMDB's encoding",
            ),
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
            formats.parse_opencv_digits,
            system_dir="/usr/share/doc/opencv-doc/examples/data",
            system_package="opencv-doc",
        ),
        Dataset(
            "sklearn_digits",
            "scikit-learn's digits: 1,797 handwritten digits, 8x8, split 75 / 25 %",
            (),
            formats.parse_sklearn_digits,
            builtin=True,
            notes="ships inside scikit-learn",
        ),
        Dataset(
            "photo_patches",
            "Photo patches: 3,000 + 1,000 colour 32x32 patches of ten photographs (scikit-image and "
            "opencv-doc), labelled by photo; train and test patches come from different blocks",
            tuple(
                DataFile(n, "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/" + n, h)
                for n, h in PHOTO_PATCH_FILES.items()
            ),
            formats.parse_photo_patches,
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
            formats.parse_fortunes,
            system_dir="/usr/share/games/fortunes",
            system_package="fortunes",
        ),
    ]
}


def lookup(name: str) -> Dataset:
    """The registry entry of a dataset; an unknown name is a DataError listing the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}") from None

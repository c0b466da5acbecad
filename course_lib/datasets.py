"""Every dataset the course uses, found offline first: what lessons import.

``datasets.load(name)`` returns ``(x_train, y_train), (x_test, y_test)``, a fixed small
subset in smoke mode; ``datasets.photo(name)`` a real photograph and
``datasets.series(name)`` a real time series, both shipped by installed packages;
``datasets.available(name)`` says where a dataset would come from, ``datasets.fetch(name)``
provisions it. A missing or damaged dataset is an error naming the command that
provisions it; one dataset is never quietly replaced by another.

This module is the front; each concept has a small module behind it, as Keras keeps one
small module per dataset over one shared downloader:

- `course_lib.formats`: the parsers, one per file format (files to NumPy arrays);
- `course_lib.registry`: the table of datasets, their files and pinned sha256;
- `course_lib.sources`: where files are found (data dir, Keras cache, distribution
  packages), how they are verified, and how they are fetched (from upstream or a mirror);
- `course_lib.photos` and `course_lib.timeseries`: photographs and time series that
  installed packages ship.
"""

from __future__ import annotations

import pickle
import tarfile

from course_lib import runtime
from course_lib.errors import DataError
from course_lib.formats import FORTUNE_CATEGORIES, PHOTO_PATCH_CLASSES, PHOTO_PATCH_SOURCES, PHOTO_PATCH_TEST_BLOCKS
from course_lib.photos import photo, photos
from course_lib.registry import FORTUNE_FILES, REGISTRY, DataFile, Dataset, lookup
from course_lib.sources import (
    available,
    content_sha256,
    data_dir,
    fetch,
    fingerprint,
    fix_hint,
    keras_home,
    locate,
    mirror,
    sha256,
    verified_paths,
)
from course_lib.timeseries import SERIES, series

__all__ = [
    "FORTUNE_CATEGORIES",
    "FORTUNE_FILES",
    "PHOTO_PATCH_CLASSES",
    "PHOTO_PATCH_SOURCES",
    "PHOTO_PATCH_TEST_BLOCKS",
    "REGISTRY",
    "SERIES",
    "SMOKE_SIZES",
    "DataError",
    "DataFile",
    "Dataset",
    "available",
    "content_sha256",
    "data_dir",
    "fetch",
    "fingerprint",
    "fix_hint",
    "keras_home",
    "load",
    "locate",
    "mirror",
    "photo",
    "photos",
    "series",
    "sha256",
]

SMOKE_SIZES = {"train": 3000, "test": 1000}


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
    spec = lookup(name)
    paths = {} if spec.builtin else verified_paths(spec)
    try:
        train, test = spec.parse(paths, **options)
    except (OSError, ValueError, EOFError, KeyError, pickle.UnpicklingError, tarfile.TarError) as exc:
        raise DataError(f"Dataset {name!r} could not be read ({exc}). {fix_hint(spec)}") from exc
    if smoke is None:
        smoke = runtime.mode() == "smoke"
    if smoke:
        train, test = _subset(train, SMOKE_SIZES["train"]), _subset(test, SMOKE_SIZES["test"])
    return train, test

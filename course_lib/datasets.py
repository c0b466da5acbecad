"""Every dataset the course uses, found offline first: what lessons import.

``datasets.load(name)`` returns ``(x_train, y_train), (x_test, y_test)``, a fixed small
subset in smoke mode; ``datasets.photo(name)`` a real photograph and
``datasets.series(name)`` a real time series, both shipped by installed packages;
``datasets.available(name)`` says where a dataset would come from, ``datasets.fetch(name)``
provisions it. A missing or damaged dataset is an error naming the command that
provisions it; one dataset is never quietly replaced by another. A lesson section built
on a dataset too large to ship (CIFAR-10, IMDB) loads it with ``allow_stand_in=True``
instead: where it is absent, a stand-in of the same shape made from data at hand takes
its place, and `load` prints which data is used and how to get the real one, so the
section's code is the same, and runs, everywhere.

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
from typing import Callable

from course_lib import runtime
from course_lib.errors import DataError
from course_lib.formats import (
    FORTUNE_CATEGORIES,
    IMDB_STAND_IN_TOPICS,
    PHOTO_PATCH_CLASSES,
    PHOTO_PATCH_SOURCES,
    PHOTO_PATCH_TEST_BLOCKS,
)
from course_lib.photos import photo, photos
from course_lib.registry import FORTUNE_FILES, REGISTRY, DataFile, Dataset, StandIn, lookup
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
    "IMDB_STAND_IN_TOPICS",
    "PHOTO_PATCH_CLASSES",
    "PHOTO_PATCH_SOURCES",
    "PHOTO_PATCH_TEST_BLOCKS",
    "REGISTRY",
    "SERIES",
    "SMOKE_SIZES",
    "DataError",
    "DataFile",
    "Dataset",
    "StandIn",
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


def load(
    name: str,
    *,
    smoke: bool | None = None,
    allow_stand_in: bool = False,
    log: Callable[[str], None] = print,
    **options,
) -> tuple:
    """Load a dataset as ``(x_train, y_train), (x_test, y_test)`` NumPy arrays.

    In smoke mode (or with ``smoke=True``) only the first 3,000 training and 1,000
    test examples are returned, so CI stays fast; full mode returns everything.
    Extra options go to the dataset's parser (e.g. ``num_words`` for imdb).

    With ``allow_stand_in=True``, a dataset that has a stand-in (cifar10, imdb: see
    `registry.StandIn`) and is absent here is replaced by data of its shape made from a
    dataset at hand, so that a lesson's code runs the same everywhere; ``log`` then says
    which data is used and how to get the real one. The real data is used wherever it is
    found, in every mode; a damaged copy is an error, as without the flag.
    """
    spec = lookup(name)
    parse, source = spec.parse, spec
    if allow_stand_in:
        if spec.stand_in is None:
            raise DataError(f"Dataset {name!r} has no stand-in; load it without allow_stand_in.")
        if locate(name) is None:
            parse, source = spec.stand_in.parse, lookup(spec.stand_in.dataset)
            log(
                f"{name} is not available here, so a stand-in of the same shape is used: "
                f"{spec.stand_in.description}. For the real data, run `course data fetch {name}` "
                "(needs the network) and run this cell again."
            )
        else:
            log(f"{name}: the real data, from {available(name)}")
    paths = {} if source.builtin else verified_paths(source)
    try:
        train, test = parse(paths, **options)
    except (OSError, ValueError, EOFError, KeyError, pickle.UnpicklingError, tarfile.TarError) as exc:
        raise DataError(f"Dataset {source.name!r} could not be read ({exc}). {fix_hint(source)}") from exc
    if smoke is None:
        smoke = runtime.mode() == "smoke"
    if smoke:
        train, test = _subset(train, SMOKE_SIZES["train"]), _subset(test, SMOKE_SIZES["test"])
    return train, test

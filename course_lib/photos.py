"""Real photographs that installed packages ship, so image-processing demos need no download.

`photo` returns scikit-image's bundled images and OpenCV's sample photos (from Debian's
``opencv-doc``, or from the photo_patches dataset's files once `course data fetch
photo_patches` has put them in the data directory; the latter are checked against their
pinned sha256 like any dataset file).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from course_lib import formats, sources
from course_lib.errors import DataError
from course_lib.registry import REGISTRY

_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel", "coins")
_OPENCV_PHOTOS_DIR = "/usr/share/doc/opencv-doc/examples/data"


def photos() -> list[str]:
    """Names that `photo` accepts: scikit-image's photographs, then OpenCV's sample photos.

    OpenCV's come from the opencv-doc package or from the photo_patches dataset's files
    (`course data fetch photo_patches`).
    """
    names = {f.name for f in REGISTRY["photo_patches"].files}
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
    return sources.verified_paths(dataclasses.replace(spec, files=(pinned,)))[name]


def photo(name: str = "astronaut", *, grey: bool = False) -> np.ndarray:
    """A real photograph as a uint8 array, (H, W, 3) RGB or (H, W) when ``grey``.

    ``name`` is one of scikit-image's bundled images (``"astronaut"``, ``"coffee"``,
    ...) or one of OpenCV's sample photos (``"fruits.jpg"``, ``"baboon.jpg"``).
    """
    if name in _SKIMAGE_PHOTOS:
        image = formats.skimage_photo(name)
    elif name.endswith(".jpg") and "/" not in name and "\\" not in name and not name.startswith("."):
        path = _opencv_photo_path(name)
        try:
            image = formats.read_photo(path)
        except ValueError:
            raise DataError(
                f"Photo {name!r} ({path}) could not be decoded. {sources.fix_hint(REGISTRY['photo_patches'])}"
            ) from None
    else:
        raise DataError(f"unknown photo {name!r}; known: {', '.join(photos())}")
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if grey and image.ndim == 3:
        # ITU-R BT.601 luma, the weights OpenCV and most textbooks use.
        image = np.round(image @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    if not grey and image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image

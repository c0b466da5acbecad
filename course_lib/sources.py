"""Where a dataset's files are found, how they are checked, and how they are fetched.

One mechanism for every dataset in `course_lib.registry`. Each file is looked for, in
order, in

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
provisions it (`fix_hint`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path
from typing import Callable

from course_lib.errors import DataError
from course_lib.registry import DataFile, Dataset, lookup

# Decompressing more than this is not the file we pinned (a gzip bomb, or the wrong file).
MAX_CONTENT_BYTES = 2 * 2**30

# ------------------------------------------------------------------------------ places


def data_dir() -> Path:
    """The course data directory: ``COURSE_DATA_DIR`` or ``~/.keras-course/data``."""
    return Path(os.environ.get("COURSE_DATA_DIR") or Path.home() / ".keras-course" / "data").expanduser()


def keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


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


# ---------------------------------------------------------------------------- checking


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


# ----------------------------------------------------------------------------- finding


def locate(name: str) -> dict[str, tuple[str, Path]] | None:
    """Where each of a dataset's files is found, as {file: (source, path)}; None if any is missing.

    Only existence is checked here; `verified_paths` (and so `datasets.load`) checks content.
    """
    spec = lookup(name)
    found = {}
    for f in spec.files:
        hit = next(((src, p) for src, p in _candidates(spec, f) if p.is_file()), None)
        if hit is None:
            return None
        found[f.name] = hit
    return found


def available(name: str) -> str | None:
    """A one-line description of where a dataset comes from, or None when it is absent."""
    spec = lookup(name)
    if spec.builtin:
        return spec.notes
    found = locate(name)
    if found is None:
        return None
    sources = sorted({f"{src} ({p.parent})" for src, p in found.values()})
    return "; ".join(sources)


def verified_paths(spec: Dataset) -> dict[str, Path]:
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


# ---------------------------------------------------------------------------- fetching


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


def _urls(spec: Dataset, f: DataFile) -> list[str]:
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
    spec = lookup(name)
    if spec.builtin:
        log(f"{name}: {spec.notes}; nothing to fetch")
        return spec.notes
    if not force:
        try:
            verified_paths(spec)
            where = available(name)
            log(f"{name}: available from {where}")
            return where
        except DataError:
            pass  # missing or damaged: download below
    target = data_dir() / spec.name
    for f in spec.files:
        for url in _urls(spec, f):
            log(f"{name}: downloading {f.name} from {url}")
            try:
                _download(url, target / f.name, f)
            except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
                raise DataError(f"Dataset {name!r}: download of {url} failed ({exc}). {fix_hint(spec)}") from exc
    where = available(name)
    log(f"{name}: downloaded and verified into {target}")
    return where

"""The course as a student off Debian gets it: no data packages, the data from a download.

A bubblewrap view of this machine hides every file of Debian's dataset-fashion-mnist,
opencv-doc and fortunes packages. The data is served from a loopback HTTP server laid
out as a course data mirror, with Fashion-MNIST gzipped by Python's zlib, not by the
tool Debian used (so the .gz files differ byte for byte from Debian's, as upstream's
do). In that view `course data fetch` provisions the datasets into an empty home and
lesson 12 (Fashion-MNIST, OpenCV's digits, the photo patches and OpenCV's photos) runs
in smoke mode.
"""

import gzip
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

from course_lib import datasets

PACKAGES = ("dataset-fashion-mnist", "opencv-doc", "fortunes")
DATASETS = ("fashion_mnist", "opencv_digits", "photo_patches", "fortunes")


def _package_files() -> list[Path]:
    listed = subprocess.run(["dpkg", "-L", *PACKAGES], capture_output=True, text=True, check=True).stdout
    return [Path(line) for line in listed.splitlines() if Path(line).is_file()]


def _hidden_dirs(files: list[Path]) -> list[Path]:
    """The fewest folders whose hiding hides every file: each file's folder, minus nested ones."""
    folders = sorted({f.parent for f in files}, key=lambda p: len(p.parts))
    chosen: list[Path] = []
    for folder in folders:
        if not any(folder.is_relative_to(c) for c in chosen):
            chosen.append(folder)
    assert all(len(c.parts) > 3 for c in chosen), chosen  # never /usr/share itself
    return chosen


def _mirror(folder: Path) -> None:
    """A course data mirror (DATASET/FILE) made from the installed packages' files."""
    for spec_name in DATASETS:
        spec = datasets.REGISTRY[spec_name]
        (folder / spec_name).mkdir(parents=True)
        for f in spec.files:
            source = Path(spec.system_dir) / f.name
            if f.by_content:
                again = gzip.compress(gzip.decompress(source.read_bytes()), compresslevel=9, mtime=0)
                assert hashlib.sha256(again).digest() != hashlib.sha256(source.read_bytes()).digest()
                (folder / spec_name / f.name).write_bytes(again)
            else:
                shutil.copyfile(source, folder / spec_name / f.name)


@pytest.fixture(scope="module")
def served_mirror(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mirror")
    _mirror(folder)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(folder), **kw)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_student_off_debian_fetches_the_data_and_runs_a_lesson(served_mirror, tmp_path):
    files = _package_files()
    assert any(f.name == "train-images-idx3-ubyte.gz" for f in files)
    home = tmp_path / "home"
    home.mkdir()
    view = ["bwrap", "--dev-bind", "/", "/"]
    for folder in _hidden_dirs(files):
        view += ["--tmpfs", str(folder)]
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_DATA_DIR", "KERAS_HOME", "COURSE_ROOT")}
    env.update(HOME=str(home), COURSE_DATA_MIRROR=served_mirror, COURSE_MODE="smoke")
    course = [sys.executable, "-m", "autograder.cli"]

    def inside(*argv, timeout=900):
        return subprocess.run(view + ["--", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)

    listing = tmp_path / "package-files.txt"
    listing.write_text("\n".join(map(str, files)))
    still_there = inside(
        sys.executable,
        "-c",
        "import sys, os; print([p for p in open(sys.argv[1]).read().split() if os.path.exists(p)])",
        str(listing),
    )
    assert still_there.returncode == 0 and still_there.stdout.strip() == "[]", still_there.stdout + still_there.stderr

    before = inside(*course, "doctor")
    assert "fashion_mnist  MISSING" in before.stdout and "fortunes       MISSING" in before.stdout, before.stdout

    fetched = inside(*course, "data", "fetch", *DATASETS)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert f"downloading train-images-idx3-ubyte.gz from {served_mirror}/fashion_mnist/" in fetched.stdout
    data_dir = home / ".keras-course" / "data"
    for name in DATASETS:
        assert f"{name}: downloaded and verified into {data_dir / name}" in fetched.stdout

    after = inside(*course, "doctor")
    assert f"fashion_mnist  available: data dir ({data_dir / 'fashion_mnist'})" in after.stdout, after.stdout

    texts = inside(
        sys.executable,
        "-c",
        "from course_lib import datasets; (x, y), _ = datasets.load('fortunes', smoke=False); print(len(x))",
    )
    assert texts.stdout.strip() == "2220", texts.stdout + texts.stderr

    out = tmp_path / "run"
    run = inside(*course, "run", "12", "--mode", "smoke", "--out", str(out), timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "| 12-traditional-vision | passed |" in (out / "report.md").read_text()

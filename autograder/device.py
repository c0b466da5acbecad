"""The whole course in full mode on a lent GPU, in one call: ``make gpu-pack``, then ``make gpu-run`` there.

The GPU machine runs an image of its own (Python 3.12 with JAX for CUDA, NumPy, SciPy,
scikit-learn, scikit-image, OpenCV, statsmodels, Matplotlib) with no Keras, no Jupyter
and no network. So, here, `pack` puts into ``build/gpu/`` what the course needs and the
image lacks: the wheels of Keras, nbclient, ipykernel and their dependencies, at the
versions this checkout's venv runs (downloaded for CPython 3.12 on manylinux), and the
datasets the lessons read, laid out as a course data directory. There, `run` installs
the wheels into a folder of their own (the image's packages stay as they are), checks
that every requirement is met before anything runs, points the course at the data and
runs every lesson in full mode on the JAX backend. The report is written after each
lesson, so a run cut short still brings back the lessons it finished.

This module imports only the standard library at the top: `run` starts on a bare image.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "build" / "gpu"
# What the course runs on top of the image: the notebook runner, the kernel, Keras, and
# the widgets lesson 04's playground uses.
TOP = ("keras", "nbclient", "ipykernel", "ipywidgets")
# Of their dependencies, those the GPU image already has (the device tool's KINDS.md,
# package list read 2026-11-17). Carrying these would shadow the image's own builds.
IMAGE_HAS = frozenset(
    "absl-py attrs h5py markdown-it-py mdurl ml-dtypes numpy packaging psutil pygments python-dateutil rich six "
    "typing-extensions".split()
)
# The rest of the image that the lessons import, for `rehearse`: JAX at the image's
# release (for the CPU here), the scientific stack at PyPI's newest, as the image has.
IMAGE_LESSONS_USE = (
    "jax[cpu]==0.11.2 scipy scikit-learn scikit-image opencv-python-headless<5 statsmodels matplotlib".split()
)
# The datasets the lessons load in full mode (CIFAR-10 and IMDB too, where this machine has them).
DATASETS = ("fashion_mnist", "opencv_digits", "photo_patches", "fortunes", "cifar10", "imdb")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
TARGET_PYTHON = {"python_version": "3.12", "python_full_version": "3.12.3"}
# The device call may run 600 s; lessons that start after this many seconds are left out.
DEFAULT_BUDGET_S = 540


def closure(top=TOP) -> dict[str, str]:
    """{distribution: version} for ``top`` and everything they require on Linux, CPython
    3.12, as this venv has them, without what the GPU image has."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    env = {**default_environment(), **TARGET_PYTHON, "sys_platform": "linux", "platform_system": "Linux"}
    found, todo = {}, list(top)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found or name in IMAGE_HAS:
            continue
        dist = importlib.metadata.distribution(name)
        found[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
                todo.append(req.name)
    return dict(sorted(found.items()))


def pack(out: Path = PACK, log=print) -> None:
    """Fill ``out`` with wheels/ and data/ for `run`."""
    from course_lib import sources

    wheels, data = out / "wheels", out / "data"
    shutil.rmtree(out, ignore_errors=True)
    wheels.mkdir(parents=True)
    pins = [f"{name}=={version}" for name, version in closure().items()]
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(wheels), *pins]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip could not download the wheels:\n{done.stderr[-2000:]}")
    for name in DATASETS:
        found = sources.locate(name)
        if found is None:
            log(f"  {name}: not on this machine, not carried")
            continue
        (data / name).mkdir(parents=True)
        for file_name, (_, path) in found.items():
            shutil.copyfile(path, data / name / file_name)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    log(f"{out}: {len(pins)} wheels, data for {len(list(data.iterdir()))} datasets, {size:.1f} MiB")


def unmet(site: Path) -> list[str]:
    """Requirements of the distributions in ``site`` that nothing installed meets."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    problems = []
    for dist in importlib.metadata.distributions(path=[str(site)]):
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            have = installed.get(canonicalize_name(req.name))
            if have is None or (req.specifier and not req.specifier.contains(have, prereleases=True)):
                problems.append(f"{dist.metadata['Name']} needs {req} (found {have or 'nothing'})")
    return problems


def run(
    out: Path,
    mode: str = "full",
    budget_s: float = DEFAULT_BUDGET_S,
    lessons: list[str] | None = None,
    pack_dir: Path = PACK,
) -> int:
    """Install the pack's wheels, check them, run the lessons (default all); report.json and
    report.md in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    site = Path("/tmp/course-site")
    wheels = sorted((pack_dir / "wheels").glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"no wheels in {pack_dir / 'wheels'}: run `make gpu-pack` here first and carry build/gpu")
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile"]
    subprocess.run([*install, "--upgrade", "--target", str(site), *map(str, wheels)], check=True)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]),
        KERAS_BACKEND="jax",
        COURSE_DATA_DIR=str((pack_dir / "data").resolve()),
        XLA_PYTHON_CLIENT_PREALLOCATE="false",  # one kernel at a time, but the runner's own process imports JAX too
        PYTHONUNBUFFERED="1",
    )
    check = f"from autograder import device; import sys; p = device.unmet({str(site)!r}); print(*p, sep='\\n'); sys.exit(bool(p))"
    if subprocess.run([sys.executable, "-c", check], env=env).returncode != 0:
        raise RuntimeError("the carried wheels leave requirements unmet (above): add them to the pack")
    course = (
        "import sys; from pathlib import Path; from autograder import course, runner; "
        f"report = runner.run(course.resolve({lessons or None!r}), {mode!r}, Path({str(out / 'run')!r}), "
        f"backend='jax', budget_s={budget_s!r}); "
        "sys.exit(any(r['status'] != 'passed' for r in report['lessons']))"
    )
    done = subprocess.run([sys.executable, "-c", course], env=env)
    for name in ("report.json", "report.md"):
        if (out / "run" / name).exists():
            shutil.copyfile(out / "run" / name, out / name)
    with tarfile.open(out / "notebooks.tar.gz", "w:gz") as tar:
        for nb in sorted((out / "run").glob("*.ipynb")):
            tar.add(nb, arcname=nb.name)
    shutil.rmtree(out / "run")
    return done.returncode


def rehearse(python: str, out: Path) -> int:
    """The GPU image imitated on this machine, then `run` in smoke mode from it: a venv of
    ``python`` (the image's 3.12) holding the image's packages from PyPI, and no Keras or
    Jupyter until the pack's wheels bring them."""
    if shutil.which(python) is None:
        raise RuntimeError(f"no {python} here: name a CPython 3.12 with --python (GPU_PYTHON= for make)")
    image = ROOT / "build" / "gpu-image"
    shutil.rmtree(image, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(image)], check=True)
    image_python = str(image / "bin" / "python")
    pip = [image_python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *sorted(IMAGE_HAS), *IMAGE_LESSONS_USE], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of this venv's
    command = [image_python, "-m", "autograder.device", "run", "--mode", "smoke", "--out", str(out.resolve())]
    return subprocess.run(command, env=env, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder.device", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("pack", help="wheels and data into build/gpu/ (here, with the course's venv)")
    r = sub.add_parser("run", help="install, check and run the course (there, with the image's python3)")
    r.add_argument("lessons", nargs="*", help="lessons (name or number); default all")
    r.add_argument("--out", default=os.environ.get("OUT", "build/gpu-out"), help="report folder (default $OUT)")
    r.add_argument("--mode", default="full", choices=("full", "smoke"))
    r.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="seconds after which no lesson starts")
    h = sub.add_parser("rehearse", help="here: imitate the image in build/gpu-image, then `run --mode smoke` from it")
    h.add_argument("--python", default="python3.12", help="a CPython 3.12, as on the image (default python3.12)")
    h.add_argument("--out", default="build/gpu-rehearsal", help="report folder (default build/gpu-rehearsal)")
    args = p.parse_args(argv)
    try:
        if args.action == "pack":
            pack()
            return 0
        if args.action == "rehearse":
            return rehearse(args.python, Path(args.out))
        return run(Path(args.out), args.mode, args.budget, args.lessons)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

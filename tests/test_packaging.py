"""The install files agree with each other and with what is installed."""

import importlib.metadata
import re

import tomllib
import yaml
from conftest import ROOT


def _pins(lines, environment=None):
    """{name: version} of the pins whose markers hold in ``environment`` (default: this machine)."""
    from packaging.requirements import Requirement

    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(environment):
            (spec,) = req.specifier
            assert spec.operator == "==", f"{line}: pin an exact version"
            assert req.name.lower() not in pins, f"{req.name} is pinned twice for {environment or 'this machine'}"
            pins[req.name.lower()] = spec.version
    return pins


def _requirements(environment=None):
    return _pins((ROOT / "requirements.txt").read_text().splitlines(), environment)


# Where students run the course, as pip's environment markers see them.
PLATFORMS = {
    "Linux x86_64": {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"},
    "Windows": {"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"},
    "macOS on Apple silicon": {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"},
}


def test_every_platform_gets_one_tensorflow_and_otherwise_the_same_pins():
    linux = _requirements(PLATFORMS["Linux x86_64"])
    for name, env in PLATFORMS.items():
        pins = _requirements(env)
        tensorflow = {k: v for k, v in pins.items() if k.startswith("tensorflow")}
        # PyPI has tensorflow-cpu 2.21 wheels for Linux and Windows only, tensorflow for macOS arm64.
        assert tensorflow == (
            {"tensorflow": "2.21.0"} if env["sys_platform"] == "darwin" else {"tensorflow-cpu": "2.21.0"}
        ), name
        rest = {k: v for k, v in pins.items() if not k.startswith("tensorflow")}
        assert rest == {k: v for k, v in linux.items() if not k.startswith("tensorflow")}, name


def test_python_310_gets_its_own_pins_for_the_same_packages():
    """Python 3.10 takes older releases of some packages; every package is pinned once either way."""
    newer = _requirements({"python_version": "3.11", "python_full_version": "3.11.7"})
    older = _requirements({"python_version": "3.10", "python_full_version": "3.10.13"})
    assert set(older) == set(newer)
    assert older["keras"].startswith("3.12") and older["tensorflow-cpu"] == newer["tensorflow-cpu"]
    changed = {k for k in older if older[k] != newer[k]}
    assert changed == {
        "keras",
        "jax",
        "jaxlib",
        "numpy",
        "matplotlib",
        "scikit-learn",
        "scikit-image",
        "ipykernel",
        "ipython",
        "nbgrader",
    }


def _conda():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return env, pip_section, _pins(pip_section)


def test_environment_yml_pins_the_same_versions_as_requirements():
    req = _requirements()
    _, pip_section, conda = _conda()
    # The CPU wheel on pip machines is the GPU-capable wheel for conda users.
    assert conda.pop("tensorflow") == req.pop("tensorflow-cpu")
    assert conda == req
    assert any("and-cuda" in line and "linux" in line for line in pip_section)


def test_requirements_respect_the_known_constraints():
    req = _requirements()
    assert req["tensorflow-cpu"].startswith("2.21")
    assert int(req["opencv-python-headless"].split(".")[0]) < 5, "OpenCV 5 has no HOGDescriptor or cv2.ml"
    assert req["keras"].startswith("3.")
    assert req["nbgrader"].startswith("0.9")


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_installed_versions_are_the_pinned_ones():
    """pip installs requirements.txt; conda's environment.yml installs the same pins, with the
    GPU-capable `tensorflow` wheel where pip has `tensorflow-cpu`."""
    for name, version in _requirements().items():
        installed = _installed(name)
        if name == "tensorflow-cpu" and installed is None:
            name, installed = "tensorflow (conda's environment.yml)", _installed("tensorflow")
        assert installed == version, f"{name}: {installed} installed, {version} pinned"


def test_pyproject_ships_both_packages_and_the_course_command():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["tool"]["setuptools"]["packages"] == ["course_lib", "autograder"]
    assert meta["project"]["scripts"]["course"] == "autograder.cli:main"
    req = _requirements()
    ranged = {re.split(r"[<>=!\[ ]", d)[0].lower(): d for d in meta["project"]["dependencies"]}
    for name, spec in ranged.items():
        assert "<" in spec and ">=" in spec, f"{spec}: give a version range"
        assert name in req, f"{name} is a dependency but not pinned in requirements.txt"


def test_nbgrader_config_uses_the_course_layout():
    text = (ROOT / "nbgrader_config.py").read_text()
    assert 'source_directory = "solutions"' in text and 'release_directory = "lessons"' in text


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


# Imported only when present: a backend the user chose, or a running Jupyter server to ask.
OPTIONAL_IMPORTS = {"tensorflow", "jax", "torch", "jupyter_server", "nbgrader", "dask", "distributed"}


def _third_party_imports(folder):
    import ast
    import sys

    found = {}
    for path in sorted((ROOT / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("course_lib", "autograder", "__future__"):
                    found.setdefault(top, path.name)
    return found


def test_every_import_of_the_packages_is_a_declared_dependency():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {
        re.split(r"[<>=!\[ ;]", d)[0].lower().replace("_", "-")
        for d in meta["project"]["dependencies"]
        + [d for extra in meta["project"]["optional-dependencies"].values() for d in extra]
    }
    student = {re.split(r"[<>=!\[ ;]", d)[0].lower().replace("_", "-") for d in meta["project"]["dependencies"]}
    dists = importlib.metadata.packages_distributions()
    for folder, allowed in (("course_lib", student), ("autograder", declared)):
        for module, where in _third_party_imports(folder).items():
            if module in OPTIONAL_IMPORTS:
                continue
            names = {d.lower().replace("_", "-") for d in dists.get(module, [])}
            assert names & allowed, f"{folder}/{where} imports {module} ({names or 'not installed'}), not a dependency"


PYTHONS = ("3.10", "3.11", "3.12", "3.13")
COMPILE_ALL = r"""
import json, sys, warnings
warnings.simplefilter("error")
bad = []
for name, source in json.load(sys.stdin):
    try:
        compile(source, name, "exec")
    except (SyntaxError, Warning) as exc:
        bad.append(f"{name}: {exc.__class__.__name__}: {exc}")
print(json.dumps(bad))
"""


def _interpreter(version):
    """A working interpreter of this version: pyenv's, or one on PATH (pyenv's shims may not run)."""
    import glob
    import shutil
    import subprocess
    from pathlib import Path

    candidates = sorted(glob.glob(str(Path.home() / f".pyenv/versions/{version}.*/bin/python")))
    candidates += [p for p in [shutil.which(f"python{version}")] if p]
    for python in candidates:
        probe = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return python
    return None


def test_code_compiles_without_warnings_on_every_supported_python():
    import json
    import subprocess

    sources = [
        (str(p.relative_to(ROOT)), p.read_text())
        for folder in ("course_lib", "autograder", "tests")
        for p in sorted((ROOT / folder).glob("*.py"))
    ]
    for nb in sorted(ROOT.glob("*/[0-9][0-9]-*/*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        sources += [
            (f"{nb.relative_to(ROOT)} cell {i}", "".join(c["source"]))
            for i, c in enumerate(cells)
            if c["cell_type"] == "code"
        ]
    assert len(sources) > 300
    tried = []
    for version in PYTHONS:
        python = _interpreter(version)
        if python is None:
            continue
        done = subprocess.run(
            [python, "-c", COMPILE_ALL], input=json.dumps(sources), capture_output=True, text=True, check=True
        )
        assert json.loads(done.stdout) == [], f"Python {version}: {done.stdout}"
        tried.append(version)
    # This machine (and CI on it) has all four; a laptop may have fewer.
    assert "3.11" in tried and len(tried) >= 2, tried

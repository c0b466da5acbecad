"""The install files agree with each other and with what is installed."""
import importlib.metadata
import re
import tomllib

import yaml
from conftest import ROOT


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(3)
    return pins


def _requirements():
    return _pins((ROOT / "requirements.txt").read_text().splitlines())


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


def test_installed_versions_are_the_pinned_ones():
    for name, version in _requirements().items():
        assert importlib.metadata.version(name) == version, name


def test_pyproject_ships_both_packages_and_the_course_command():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["tool"]["setuptools"]["packages"] == ["course_lib", "autograder"]
    assert meta["project"]["scripts"]["course"] == "course_lib.cli:main"
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

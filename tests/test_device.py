"""The GPU run's pack: which wheels travel, and the check that runs before any lesson there."""

import importlib.metadata
import json

from autograder import device, runner


def test_the_pack_carries_the_runner_and_kernel_but_not_what_the_image_has():
    wheels = device.closure()
    assert {"keras", "nbclient", "ipykernel", "jupyter-client", "pyzmq", "optree", "namex"} <= set(wheels)
    assert not set(wheels) & device.IMAGE_HAS
    assert wheels["keras"] == importlib.metadata.version("keras")  # the versions this venv runs


def _dist(site, name, requires):
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"] + [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def test_unmet_requirements_are_named_before_anything_runs(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _dist(site, "carried", ["numpy>=1", "not-installed-anywhere>=2", "only-on-windows; sys_platform == 'win32'"])
    monkeypatch.syspath_prepend(str(site))
    problems = device.unmet(site)
    assert problems == ["carried needs not-installed-anywhere>=2 (found nothing)"]
    _dist(site, "too-old-here", ["numpy<1"])
    assert any("too-old-here needs numpy<1" in p for p in device.unmet(site))


def test_a_run_out_of_time_reports_the_lessons_it_did_not_start(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(runner, "run_lesson", lambda lesson, *a: ran.append(lesson) or runner._empty(lesson))
    report = runner.run(["01-a", "02-b"], "full", tmp_path, budget_s=0, log=lambda m: None)
    assert ran == ["01-a"]  # the first always starts; the budget is spent before the second
    assert [r["status"] for r in report["lessons"]] == ["passed", "not run"]
    assert json.loads((tmp_path / "report.json").read_text())["lessons"][1]["error"] == "the run's 0 s were spent"


def test_a_rehearsal_without_the_images_python_says_how_to_name_one(capsys):
    assert device.main(["rehearse", "--python", "python3.12-not-on-this-machine"]) == 1
    assert "no python3.12-not-on-this-machine here: name a CPython 3.12 with --python" in capsys.readouterr().err

"""Run records and the generated results page (docs/results.md)."""

import json

from conftest import course_cmd

from autograder import records, runner


def _report(mode, backend, lessons, devices=("CPU:0",), started="2026-11-23T10:00:00+00:00"):
    return {
        "mode": mode,
        "started": started,
        "host": "box",
        "platform": "Linux",
        "processor": "x86_64, 2 CPU cores",
        "backend": backend,
        "backend_version": "1.0",
        "keras": "3.15.1",
        "numpy": "2.4.6",
        "python": "3.12",
        "devices": list(devices),
        "total_s": sum(r["wall_s"] for r in lessons),
        "lessons": lessons,
    }


def _lesson(name, wall, status="passed", metrics=(), error=None):
    return {
        "lesson": name,
        "status": status,
        "error": error,
        "wall_s": wall,
        "cells_s": wall - 1,
        "slowest": [[wall - 2, "model.fit(x, y)"]],
        "metrics": list(metrics),
        "ran": "2026-11-23T10:00:00+00:00",
        "setup": {},
    }


def test_a_lesson_run_again_replaces_only_its_own_row(tmp_path):
    records.add(_report("smoke", "jax", [_lesson("01-a", 10), _lesson("02-b", 20)]), tmp_path)
    path = records.add(_report("smoke", "jax", [_lesson("02-b", 5)]), tmp_path)
    record = json.loads(path.read_text())
    assert path.name == "smoke-jax-cpu.json"
    assert [(r["lesson"], r["wall_s"]) for r in record["lessons"]] == [("01-a", 10), ("02-b", 5)]
    assert record["total_s"] == 15
    gpu = records.add(_report("full", "jax", [_lesson("01-a", 3)], devices=["gpu:0 (NVIDIA H100)"]), tmp_path)
    assert gpu.name == "full-jax-gpu.json"


def test_page_judges_targets_and_course_time():
    met = {"name": "cnn_test_accuracy", "value": 0.9345, "target": 0.93, "verdict": "met by +0.0045"}
    missed = {"name": "mlp_test_accuracy", "value": 0.89, "target": 0.895, "verdict": "missed by 0.0050"}
    full = _report(
        "full",
        "tensorflow",
        [
            _lesson("05-keras-models-and-mlp", 100, "missed target", [missed]),
            _lesson("09-cnn-image-classifiers", 700, metrics=[met]),
        ],
    )
    smoke = _report(
        "smoke", "tensorflow", [_lesson("05-keras-models-and-mlp", 30), _lesson("09-cnn-image-classifiers", 40)]
    )
    torch = _report(
        "smoke",
        "torch",
        [_lesson("05-keras-models-and-mlp", 0, "cannot run", error="torch is not installed here (pip install torch)")],
    )
    page = records.render(
        records.load_from([full, smoke, torch]), ["05-keras-models-and-mlp", "09-cnn-image-classifiers"]
    )
    assert "| CNN, Fashion-MNIST (09) | >= 0.93 | 0.9345, met by +0.0045 |" in page
    assert "| MLP, Fashion-MNIST (05) | >= 0.895 | 0.8900, missed by 0.0050 |" in page
    assert "| LSTM on image rows (11) | >= 0.905 | not run |" in page
    assert "no full-mode GPU run recorded yet" in page
    assert "tensorflow: 70 s, met" in page  # smoke, the whole (two-lesson) course
    assert "| 05-keras-models-and-mlp | passed, 30 s | not run | cannot run: torch is not installed here" in page
    assert "torch: cannot run, torch is not installed here (pip install torch)" in page
    assert "### smoke, torch, CPU\n\nCould not run on `box` (2026-11-23): torch is not installed here" in page
    assert "box" in page and "x86_64, 2 CPU cores" in page  # says where it ran


def test_missing_backend_is_named_with_its_fix(monkeypatch):
    monkeypatch.setattr(runner.importlib.util, "find_spec", lambda name: None)
    assert runner.backend_missing("torch") == "torch is not installed here (pip install torch)"
    assert runner.backend_missing(None) is None


def test_record_regenerate_and_check_from_the_command_line(tiny_root, tmp_path):
    done = course_cmd("run", "00", "--mode", "smoke", "--out", str(tmp_path / "run"), "--record", cwd=tiny_root)
    assert done.returncode == 0, done.stdout + done.stderr
    page = (tiny_root / "docs" / "results.md").read_text()
    assert "| 00-tiny | passed |" in page and "tiny_metric = 0.5000" in page
    assert (tiny_root / "docs" / "figures" / "time_per_lesson.png").stat().st_size > 1000
    assert course_cmd("results", "--check", cwd=tiny_root).returncode == 0

    (tiny_root / "docs" / "results.md").write_text(page.replace("passed", "typed by hand"))
    stale = course_cmd("results", "--check", cwd=tiny_root)
    assert stale.returncode == 1 and "out of date" in stale.stdout

    # A report made on another machine (e.g. the GPU) is filed the same way.
    other = _report("full", "jax", [_lesson("00-tiny", 4)], devices=["gpu:0 (NVIDIA H100)"])
    (tmp_path / "gpu.json").write_text(json.dumps(other))
    assert course_cmd("results", "--add", str(tmp_path / "gpu.json"), cwd=tiny_root).returncode == 0
    assert "### full, jax, GPU" in (tiny_root / "docs" / "results.md").read_text()
    assert course_cmd("results", "--add", str(tmp_path / "nope.json"), cwd=tiny_root).returncode != 0


def test_unavailable_backend_without_record_is_a_clear_error(tiny_root, monkeypatch):
    done = course_cmd("run", "00", "--mode", "smoke", "--backend", "torch", cwd=tiny_root)
    if runner.backend_missing("torch"):
        assert done.returncode != 0 and "pip install torch" in done.stderr
    else:  # torch is installed here: then the lesson simply runs on it
        assert done.returncode == 0, done.stdout + done.stderr


def test_committed_results_page_matches_its_records():
    assert records.write(check=True), "docs/results.md is out of date: run `course results`"


def test_a_run_names_the_vector_units_that_set_its_speed():
    cpuinfo = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx avx2 fma\n"
    assert runner.vector_units(cpuinfo) == "AVX2"
    assert runner.vector_units(cpuinfo.replace("fma", "fma avx512f avx512bw")) == "AVX-512"
    assert runner.vector_units("flags : fpu sse2\n") == ""
    assert runner.vector_units("") == ""  # not Linux: no /proc/cpuinfo
    assert runner._processor().startswith(f"{runner.platform.machine()}, ")

"""`course run`: execute solution notebooks and report time and key metrics per lesson."""

from __future__ import annotations

import importlib.util
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from autograder import course, notebooks
from course_lib.runtime import SETUP_MIME

# DESIGN.md's targets: the metric each lesson must record in full mode, and its goal.
TARGETS = {
    "mlp_test_accuracy": ("05-keras-models-and-mlp", "MLP, Fashion-MNIST", 0.895),
    "cnn_test_accuracy": ("09-cnn-image-classifiers", "CNN, Fashion-MNIST", 0.930),
    "simplernn_test_accuracy": ("11-sequence-models", "SimpleRNN on image rows", 0.880),
    "lstm_test_accuracy": ("11-sequence-models", "LSTM on image rows", 0.905),
    "gru_test_accuracy": ("11-sequence-models", "GRU on image rows", 0.905),
    "hog_svm_digits_accuracy": ("12-traditional-vision", "HOG + SVM, OpenCV digits.png", 0.982),
    "hog_svm_fashion_accuracy": ("12-traditional-vision", "HOG + SVM, Fashion-MNIST", 0.926),
}
# The whole course: full mode on one GPU, smoke mode on a 2-core CPU, each within ten minutes.
COURSE_TIME_TARGET_S = 600


def backend_missing(backend: str | None) -> str | None:
    """Why a Keras backend cannot run here, or None when it can."""
    if backend is None:
        return None
    package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    if importlib.util.find_spec(package) is None:
        hint = {"tensorflow": "tensorflow-cpu", "jax": "jax", "torch": "torch"}[backend]
        return f"{package} is not installed here (pip install {hint})"
    return None


def _setup_info(nb) -> dict:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if SETUP_MIME in out.get("data", {}):
                return dict(out["data"][SETUP_MIME])
    return {}


def cell_times(nb) -> list[tuple[float, str]]:
    """(seconds, first line) for every executed code cell, from nbclient's timing metadata."""
    times = []
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        began, ended = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type != "code" or not began or not ended:
            continue
        seconds = (
            datetime.fromisoformat(ended.replace("Z", "+00:00")) - datetime.fromisoformat(began.replace("Z", "+00:00"))
        ).total_seconds()
        lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        times.append((round(seconds, 2), (lines[0].strip() if lines else "(comments only)")[:70]))
    return times


def _judge(metric: dict, mode: str) -> str:
    target = metric.get("target")
    if target is None:
        return "-"
    if mode != "full":
        return "n/a (smoke)"
    gap = metric["value"] - target
    return f"met by {gap:+.4f}" if gap >= 0 else f"missed by {-gap:.4f}"


def _empty(lesson: str) -> dict:
    return {
        "lesson": lesson,
        "status": "passed",
        "error": None,
        "wall_s": 0.0,
        "setup": {},
        "metrics": [],
        "cells_s": 0.0,
        "slowest": [],
        "ran": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def run_lesson(lesson: str, mode: str, out_dir: Path, backend: str | None, timeout: int) -> dict:
    """Execute one solution notebook in a fresh kernel; save the executed copy; summarize it."""
    result = _empty(lesson)
    missing = backend_missing(backend)
    if missing:
        return dict(result, status="cannot run", error=missing)
    source = course.solution_notebook(lesson)
    nb = notebooks.read(source)
    start = time.perf_counter()
    try:
        notebooks.execute(nb, cwd=source.parent, mode=mode, backend=backend, timeout=timeout)
    except notebooks.NotebookError as exc:
        result.update(status="failed", error=str(exc))
    result["wall_s"] = round(time.perf_counter() - start, 2)
    notebooks.write(nb, out_dir / f"{lesson}.ipynb")
    result["setup"] = _setup_info(nb)
    times = cell_times(nb)
    # What the cells do not account for is mostly starting the kernel.
    result["cells_s"] = round(sum(t for t, _ in times), 2)
    result["slowest"] = sorted(times, reverse=True)[:3]
    result["metrics"] = [dict(m, verdict=_judge(m, mode)) for m in notebooks.metrics(nb)]
    if mode == "full" and result["status"] == "passed":
        recorded = {m["name"] for m in result["metrics"]}
        absent = [name for name, (owner, _, _) in TARGETS.items() if owner == lesson and name not in recorded]
        if absent:
            result.update(status="missed target", error=f"did not record {', '.join(absent)}")
        elif any(m["verdict"].startswith("missed") for m in result["metrics"]):
            result["status"] = "missed target"
    return result


def run(
    lessons: list[str],
    mode: str,
    out_dir: Path,
    backend: str | None = None,
    timeout: int = 1800,
    log=print,
    budget_s: float | None = None,
) -> dict:
    """Run lessons one after another; write report.json and report.md into out_dir after
    each, so a run cut short keeps what it finished. With ``budget_s``, lessons that would
    start after that many seconds (the first always starts) are reported as not run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    results = []
    report = _report(mode, started, backend, results)
    for lesson in lessons:
        if results and budget_s is not None and time.perf_counter() - clock > budget_s:
            r = dict(_empty(lesson), status="not run", error=f"the run's {budget_s:g} s were spent")
        else:
            log(f"running {lesson} ({mode}) ...")
            r = run_lesson(lesson, mode, out_dir, backend, timeout)
            log(f"  {r['status']} in {r['wall_s']:.1f} s" + (f": {r['error']}" if r["error"] else ""))
        results.append(r)
        report = _report(mode, started, backend, results)
        (out_dir / "report.json").write_text(json.dumps(report, indent=2))
        (out_dir / "report.md").write_text(markdown(report))
    return report


def _report(mode: str, started: datetime, backend: str | None, results: list[dict]) -> dict:
    first_setup = next((r["setup"] for r in results if r["setup"]), {})
    return {
        "mode": mode,
        "started": started.isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": _processor(),
        "backend": first_setup.get("backend") or backend,
        "backend_version": first_setup.get("backend_version"),
        "keras": first_setup.get("keras"),
        "numpy": first_setup.get("numpy"),
        "python": first_setup.get("python") or platform.python_version(),
        "devices": first_setup.get("devices"),
        "total_s": round(sum(r["wall_s"] for r in results), 2),
        "lessons": results,
    }


def _processor() -> str:
    """Architecture, usable cores and, on Linux, the widest vector units: TensorFlow
    takes other kernels with AVX-512 (lesson 09's CNN trained 84 times slower in float16
    than in float32 on an AVX-512 host, 4.5 times on an AVX2 one), so two runs on
    "2 CPU cores" are comparable only when this part matches too."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        cpuinfo = ""
    units = vector_units(cpuinfo)
    return f"{platform.machine()}, {_cpu_count()} CPU cores" + (f", {units}" if units else "")


def vector_units(cpuinfo: str) -> str:
    """'AVX-512', 'AVX2' or '' from the first flags line of a /proc/cpuinfo text."""
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    if "avx512f" in flags:
        return "AVX-512"
    return "AVX2" if "avx2" in flags else ""


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def where(report: dict) -> str:
    """One sentence on where and with what a run happened."""
    versions = [f"backend `{report['backend']}` {report.get('backend_version') or '(not installed)'}".rstrip()]
    versions += [
        f"{name} {report[key]}"
        for name, key in (("Keras", "keras"), ("NumPy", "numpy"), ("Python", "python"))
        if report.get(key)
    ]
    devices = ", ".join(report.get("devices") or []) or "none found"
    return (
        f"{report['mode']} mode, {report['started'][:16].replace('T', ' ')} UTC on `{report['host']}` "
        f"({report['platform']}; {report.get('processor', '?')}); {', '.join(versions)}; devices: {devices}"
    )


def metric_text(m: dict) -> str:
    text = f"{m['name']} = {m['value']:.4f}"
    if m.get("target") is not None:
        text += f" (target {m['target']}: {m['verdict']})"
    return text


def markdown(report: dict) -> str:
    lines = [
        f"# Course run: {report['mode']} mode",
        "",
        f"Ran in {where(report)}.",
        "",
        f"Total wall time: {report['total_s']:.1f} s.",
        "",
        "| lesson | status | wall time (s) | slowest cell (s) | key metrics |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for r in report["lessons"]:
        shown = "; ".join(metric_text(m) for m in r["metrics"]) or "-"
        status = r["status"] + (f": {r['error']}" if r["error"] else "")
        slow = f"{r['slowest'][0][0]:.1f} `{r['slowest'][0][1]}`" if r.get("slowest") else "-"
        lines.append(f"| {r['lesson']} | {status} | {r['wall_s']:.1f} | {slow} | {shown} |")
    return "\n".join(lines) + "\n"

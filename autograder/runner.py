"""`course run`: execute solution notebooks and report time and key metrics per lesson."""
from __future__ import annotations

import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from autograder import course, notebooks
from course_lib.runtime import SETUP_MIME


def _setup_info(nb) -> dict:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if SETUP_MIME in out.get("data", {}):
                return dict(out["data"][SETUP_MIME])
    return {}


def _judge(metric: dict, mode: str) -> str:
    target = metric.get("target")
    if target is None:
        return "-"
    if mode != "full":
        return "n/a (smoke)"
    gap = metric["value"] - target
    return "met" if gap >= 0 else f"missed by {-gap:.4f}"


def run_lesson(lesson: str, mode: str, out_dir: Path, backend: str | None, timeout: int) -> dict:
    """Execute one solution notebook in a fresh kernel; save the executed copy; summarize it."""
    source = course.solution(lesson)
    nb = notebooks.read(source)
    result = {"lesson": lesson, "status": "passed", "error": None}
    start = time.perf_counter()
    try:
        notebooks.execute(nb, cwd=source.parent, mode=mode, backend=backend, timeout=timeout)
    except notebooks.NotebookError as exc:
        result.update(status="failed", error=str(exc))
    result["wall_s"] = round(time.perf_counter() - start, 2)
    notebooks.write(nb, out_dir / f"{lesson}.ipynb")
    result["setup"] = _setup_info(nb)
    result["metrics"] = [dict(m, verdict=_judge(m, mode)) for m in notebooks.metrics(nb)]
    if mode == "full" and any(m["verdict"].startswith("missed") for m in result["metrics"]):
        result["status"] = "missed target"
    return result


def run(lessons: list[str], mode: str, out_dir: Path, backend: str | None = None, timeout: int = 1800,
        log=print) -> dict:
    """Run lessons one after another and write report.json and report.md into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    results = []
    for lesson in lessons:
        log(f"running {lesson} ({mode}) ...")
        r = run_lesson(lesson, mode, out_dir, backend, timeout)
        log(f"  {r['status']} in {r['wall_s']:.1f} s" + (f": {r['error']}" if r["error"] else ""))
        results.append(r)
    first_setup = next((r["setup"] for r in results if r["setup"]), {})
    report = {
        "mode": mode,
        "started": started.isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "backend": first_setup.get("backend"),
        "keras": first_setup.get("keras"),
        "devices": first_setup.get("devices"),
        "total_s": round(sum(r["wall_s"] for r in results), 2),
        "lessons": results,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    (out_dir / "report.md").write_text(markdown(report))
    return report


def markdown(report: dict) -> str:
    lines = [
        f"# Course run: {report['mode']} mode",
        "",
        f"Ran {report['started']} on `{report['host']}` ({report['platform']}), backend "
        f"`{report['backend']}`, Keras {report['keras']}, devices: {', '.join(report['devices'] or ['?'])}.",
        "",
        f"Total wall time: {report['total_s']:.1f} s.",
        "",
        "| lesson | status | wall time (s) | key metrics |",
        "| --- | --- | ---: | --- |",
    ]
    for r in report["lessons"]:
        shown = "; ".join(
            f"{m['name']} = {m['value']:.4f}" + (f" (target {m['target']}: {m['verdict']})" if m.get("target") is not None else "")
            for m in r["metrics"]
        ) or "-"
        status = r["status"] + (f": {r['error']}" if r["error"] else "")
        lines.append(f"| {r['lesson']} | {status} | {r['wall_s']:.1f} | {shown} |")
    return "\n".join(lines) + "\n"

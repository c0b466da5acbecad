"""What an instructor reads after grading: grades.csv, feedback pages, a per-test summary
and the distribution of scores. Everything lands in ``WORKSPACE/reports/LESSON/``."""
from __future__ import annotations

import csv
import shutil
from dataclasses import asdict
from pathlib import Path

from autograder.release import nbgrader

GRADES_FIELDS = ["student_id", "lesson", "score", "max_score", "awaiting_manual", "status", "message"]


def write_csv(results, path: Path) -> None:
    """grades.csv, written whole or not at all."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=GRADES_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            writer.writerow(asdict(r))
    tmp.replace(path)


def feedback(lesson: str, students: list[str], workspace: Path, out: Path) -> list[str]:
    """nbgrader feedback pages (results, no hidden-test code) for graded students; returns who got one."""
    if not students:
        return []
    nbgrader(["generate_feedback", lesson, "--force"], cwd=workspace)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    made = []
    for sid in students:
        page = workspace / "feedback" / sid / lesson / f"{lesson}.html"
        if page.exists():
            shutil.copy(page, out / "feedback" / f"{sid}.html")
            made.append(sid)
    return made


def tests_table(results) -> list[dict]:
    """For each graded test: how many of the graded students passed it, worst first."""
    rows: dict[str, dict] = {}
    for r in results:
        for gid, (score, points) in (r.tests or {}).items():
            row = rows.setdefault(gid, {"test": gid, "points": points, "students": 0, "passed": 0})
            row["students"] += 1
            row["passed"] += score >= points
    for row in rows.values():
        row["pass_rate"] = round(row["passed"] / row["students"], 3) if row["students"] else 0.0
    return sorted(rows.values(), key=lambda r: (r["pass_rate"], r["test"]))


def score_plot(lesson: str, results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in results if r.status != "error" and r.max_score]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=80)
    ax.hist([100 * r.score / r.max_score for r in scored], bins=range(0, 105, 5), color="#4c72b0", edgecolor="white")
    ax.set_xlabel("score (% of points)")
    ax.set_ylabel("students")
    errors = sum(r.status == "error" for r in results)
    ax.set_title(f"{lesson}: {len(scored)} graded" + (f", {errors} could not be graded" if errors else ""))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(lesson: str, results, workspace: Path, log=print) -> Path:
    out = workspace / "reports" / lesson
    out.mkdir(parents=True, exist_ok=True)
    write_csv(results, out / "grades.csv")
    feedback(lesson, [r.student_id for r in results if r.status != "error" or r.tests], workspace, out)
    table = tests_table(results)
    with open(out / "tests.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["test", "points", "students", "passed", "pass_rate"])
        writer.writeheader()
        writer.writerows(table)
    score_plot(lesson, results, out / "scores.png")
    hardest = ", ".join(f"{r['test']} ({r['pass_rate']:.0%})" for r in table[:3])
    log(f"reports: {out}/grades.csv, tests.csv, scores.png, feedback/" + (f"; hardest tests: {hardest}" if table else ""))
    return out

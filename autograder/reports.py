"""What an instructor reads after grading: grades.csv, feedback pages, a per-test summary
with difficulty and discrimination, the distribution of scores, and index.html, one page
with all of it. Everything lands in ``WORKSPACE/reports/LESSON/``."""

from __future__ import annotations

import csv
import html
import shutil
import statistics
from dataclasses import asdict
from pathlib import Path

from autograder import deadlines, notebooks
from autograder.nbgrader_course import run as nbgrader

GRADES_FIELDS = [
    "student_id",
    "lesson",
    "score",
    "max_score",
    "awaiting_manual",
    "status",
    "message",
    "raw_score",
    "penalty",
    "submitted_at",
    "late_by",
]


def write_csv(results, path: Path) -> None:
    """grades.csv, written whole or not at all."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=GRADES_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            writer.writerow(asdict(r))
    tmp.replace(path)


def feedback(
    lesson: str, students: list[str], workspace: Path, out: Path, fresh: frozenset[str] = frozenset()
) -> list[str]:
    """nbgrader feedback pages (results, no hidden-test code) for graded students; returns who got one.

    ``fresh``: students whose page nbgrader has just made from their gradebook entry as it
    stands (`autograder.grading` makes them while others are still running); only the
    class's other pages are made again."""
    if not students:
        return []
    if set(students) - fresh:
        nbgrader(
            ["generate_feedback", lesson, "--force", f"--CourseDirectory.student_id_exclude={','.join(sorted(fresh))}"],
            cwd=workspace,
        )
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    made = []
    for sid in students:
        page = workspace / "feedback" / sid / lesson / f"{lesson}.html"
        if page.exists():
            shutil.copy(page, out / "feedback" / f"{sid}.html")
            made.append(sid)
    return made


TESTS_FIELDS = ["test", "points", "students", "passed", "difficulty", "discrimination"]


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return statistics.correlation(xs, ys)


def tests_table(results) -> list[dict]:
    """For each graded test, hardest first: how many students passed it; its difficulty
    (the share that passed) and its discrimination: the correlation between passing it
    and the points earned on the lesson's other tests (the corrected item-total
    correlation of item analysis). Near 0 or negative, the test does not tell strong
    students from weak ones: look at it. Blank when it cannot be computed (fewer than 3
    students, or everyone passed or failed)."""
    graded = [r for r in results if r.tests]
    rows: dict[str, dict] = {}
    for r in graded:
        for gid, (score, points) in r.tests.items():
            row = rows.setdefault(gid, {"test": gid, "points": points, "students": 0, "passed": 0})
            row["students"] += 1
            row["passed"] += score >= points
    for gid, row in rows.items():
        row["difficulty"] = round(row["passed"] / row["students"], 3) if row["students"] else 0.0
        takers = [r for r in graded if gid in r.tests]
        passed = [float(r.tests[gid][0] >= r.tests[gid][1]) for r in takers]
        rest = [sum(s for g, (s, _) in r.tests.items() if g != gid) for r in takers]
        r_value = _correlation(passed, rest)
        row["discrimination"] = "" if r_value is None else round(r_value, 3)
    return sorted(rows.values(), key=lambda r: (r["difficulty"], r["test"]))


HIDDEN_VERDICT = "Hidden tests"


def _visible_only(nb):
    """The graded notebook without what the hidden tests said (the verdicts grading appended)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("ename") == "HiddenTestsFailed" or str(o.get("text", "")).startswith(HIDDEN_VERDICT))
            ]
    return nb


def early_feedback(lesson: str, students: list[str], workspace: Path, out: Path, policy) -> list[str]:
    """Feedback before the due date: each student's notebook as graded, with the visible
    tests' output and no hidden-test result or score (those come with `course feedback
    --release`)."""
    from nbconvert import HTMLExporter
    from nbformat.v4 import new_markdown_cell

    from autograder.feedback import MathToMathML, ShortTracebacks

    exporter = HTMLExporter()
    exporter.register_preprocessor(ShortTracebacks, enabled=True)
    exporter.register_preprocessor(MathToMathML, enabled=True)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    made = []
    for sid in students:
        graded = workspace / "autograded" / sid / lesson / f"{lesson}.ipynb"
        if not graded.exists():
            continue
        nb = _visible_only(notebooks.read(graded))
        nb.cells.insert(
            0,
            new_markdown_cell(
                f"**{lesson}, {sid}: visible tests only.** Your results on the hidden tests, and your score, "
                f"are released after the due date ({policy.due or 'set by your instructor'})."
            ),
        )
        body, _ = exporter.from_notebook_node(nb)
        (out / "feedback" / f"{sid}.html").write_text(body, encoding="utf-8")
        made.append(sid)
    return made


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


def _cell(value) -> str:
    return f"<td>{html.escape(str(value))}</td>"


def index_page(lesson: str, results, table: list[dict], policy, out: Path) -> str:
    """One page for the instructor: the policy, the summary, the score distribution, the
    per-test table and every student's grade with a link to their feedback."""
    scored = [100 * r.score / r.max_score for r in results if r.status != "error" and r.max_score]
    summary = (
        f"{len(scored)} graded, {sum(r.status == 'error' for r in results)} could not be graded, "
        f"{sum(r.status == 'flagged' for r in results)} flagged for a person"
    )
    if scored:
        summary += f"; mean {statistics.mean(scored):.1f} %, median {statistics.median(scored):.1f} %"
    tests = "".join("<tr>" + "".join(_cell(row[k]) for k in TESTS_FIELDS) + "</tr>" for row in table)
    grades = []
    for r in sorted(results, key=lambda r: r.student_id):
        page = out / "feedback" / f"{r.student_id}.html"
        link = (
            f'<a href="feedback/{html.escape(r.student_id)}.html">{html.escape(r.student_id)}</a>'
            if page.exists()
            else html.escape(r.student_id)
        )
        grades.append(
            f"<tr><td>{link}</td>"
            + "".join(
                _cell(v)
                for v in (
                    f"{r.score:g} / {r.max_score:g}",
                    f"{r.raw_score:g}",
                    f"{r.penalty:g}" if r.penalty else "",
                    f"{r.late_by:g} h" if r.late_by else "",
                    r.status,
                    r.message,
                )
            )
            + "</tr>"
        )
    extra = ' · <a href="similarity.html">similarity report</a>' if (out / "similarity.html").exists() else ""
    shown = (
        "every test's result, right away"
        if policy.results == "immediate"
        else "hidden-test results " + ("released" if policy.released else "after `course feedback --release`")
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(lesson)}: grades</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}} th{{background:#eee}}</style>
</head><body>
<h1>{html.escape(lesson)}</h1>
<p>{html.escape(policy.describe())}; students see {html.escape(shown)}.</p>
<p>{html.escape(summary)}. Files: <a href="grades.csv">grades.csv</a> · <a href="tests.csv">tests.csv</a>{extra}</p>
<img src="scores.png" alt="score distribution">
<h2>Tests, hardest first</h2>
<p>difficulty: the share of students who passed; discrimination: how well passing it goes with the points
earned on the other tests (near 0 or below: check the test).</p>
<table><tr>{"".join(f"<th>{k}</th>" for k in TESTS_FIELDS)}</tr>{tests}</table>
<h2>Students</h2>
<table><tr><th>student</th><th>score</th><th>raw score</th><th>late penalty</th><th>late by</th><th>status</th>
<th>message</th></tr>{"".join(grades)}</table>
</body></html>
"""


def write(lesson: str, results, workspace: Path, log=print, fresh: frozenset[str] = frozenset()) -> Path:
    """The lesson's reports folder from ``results``; ``fresh`` as for `feedback`."""
    out = workspace / "reports" / lesson
    out.mkdir(parents=True, exist_ok=True)
    policy = deadlines.load(workspace, lesson)
    write_csv(results, out / "grades.csv")
    students = [r.student_id for r in results if r.status != "error" or r.tests]
    shutil.rmtree(out / "feedback", ignore_errors=True)  # no page may outlive a change of policy
    if not policy.shows_results:
        early_feedback(lesson, students, workspace, out, policy)
    else:
        feedback(lesson, students, workspace, out, fresh)
    table = tests_table(results)
    with open(out / "tests.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=TESTS_FIELDS)
        writer.writeheader()
        writer.writerows(table)
    score_plot(lesson, results, out / "scores.png")
    (out / "index.html").write_text(index_page(lesson, results, table, policy, out), encoding="utf-8")
    hardest = ", ".join(f"{r['test']} ({r['difficulty']:.0%})" for r in table[:3])
    log(
        f"reports: {out}/index.html, grades.csv, tests.csv, scores.png, feedback/"
        + (f"; hardest tests: {hardest}" if table else "")
    )
    return out

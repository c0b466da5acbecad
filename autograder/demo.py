"""`course demo`: compare lessons/ with a fresh release, build the student bundle, grade
sample students, and run a semester in miniature: a due date with one late student, a
student who copied, the Canvas grade file, the similarity report and the report page.

The demo never writes lessons/: a student who cloned the course keeps answers there.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from autograder import bundle, course, deadlines, grading, lms, notebooks, release, samples, similarity

DUE = "2027-03-01 23:59"
TIMES = {
    "alice": "2027-03-01 21:10",
    "bob": "2027-03-01 23:58",
    "carol": "2027-03-03 09:30",
    "dave": "2027-03-01 23:30",
}
ROSTER = (
    "student_id,name,canvas_id,section\nalice,Alice,1001,A\nbob,Bob,1002,A\ncarol,Carol,1003,B\n"
    "dave,Dave,1004,B\nerin,Erin,1005,B\n"
)


def main(workspace: Path | None = None) -> int:
    root = course.root()
    workspace = workspace or root / "grading" / "demo"
    lessons = course.lessons()
    lesson = lessons[0]
    with tempfile.TemporaryDirectory(prefix="course-demo-") as tmp:
        released = Path(tmp)
        print(f"1. Student release: generating {len(lessons)} lesson(s) from solutions/ with nbgrader")
        drift = [
            d
            for name, folder in release.generate(lessons, released).items()
            for d in release.differences(folder, root / "lessons" / name)
        ]
        print(
            "   lessons/ matches it"
            if not drift
            else f"   lessons/ differs in {len(drift)} file(s) (your edits?); left as it is: "
            "the demo uses the fresh release"
        )
        out = bundle.build(root / "build" / "student-bundle.zip", released)
        print(f"2. Student bundle: {out} (checked: no solutions, no hidden tests)")
        fresh = notebooks.read(released / lesson / f"{lesson}.ipynb")
        subs = samples.write_samples(lesson, workspace / "samples", fresh)
    shutil.copytree(subs / "alice", subs / "dave", dirs_exist_ok=True)  # dave hands in alice's work
    (subs / deadlines.MANIFEST).write_text(
        "student_id,submitted_at\n" + "".join(f"{s},{t}\n" for s, t in TIMES.items())
    )
    print(
        f"3. Sample submissions for {lesson} in {subs}: "
        + ", ".join(f"{s} ({k})" for s, k in samples.SAMPLE_STUDENTS.items())
        + ", dave (a copy of alice's); carol hands in a day and a half late"
    )
    print(f"4. Grading them (each notebook runs in smoke mode, in the sandbox), due {DUE}, 10 % off per day late ...")
    policy = deadlines.Policy.from_args(DUE, late_policy="per-day:10")
    results = grading.grade(
        lesson, subs, workspace, grading.Settings(regrade=True), log=lambda m: print("   " + m), policy=policy
    )
    print()
    print(grading.summary(results))
    print()
    (workspace / "roster.csv").write_text(ROSTER)
    max_score = max(r.max_score for r in results)
    table = lms.export(
        {lesson: lms.grades_from(results, max_score)},
        {lesson: max_score},
        lms.read_roster(workspace / "roster.csv"),
        "canvas",
    )
    lms.write(table, workspace / "reports" / "grades-canvas.csv")
    print(f"5. Canvas grade file: {workspace / 'reports' / 'grades-canvas.csv'}")
    for note in table.notes:
        print(f"   note: {note}")
    handed_in = {
        p.parts[-3]: notebooks.read(p) for p in sorted((workspace / "submitted").glob(f"*/{lesson}/{lesson}.ipynb"))
    }
    pairs = similarity.compare(handed_in, fresh)
    _, page = similarity.write(lesson, pairs, workspace / "reports" / lesson)
    print(f"6. Similarity (flags, never scores): {page}")
    for p in pairs[:3]:
        print(f"   {p.score:6.1%}  {p.a} and {p.b}")
    grading.refresh_reports(lesson, workspace, log=lambda m: None)  # the report page links the similarity report
    print(f"7. The report page: {workspace / 'reports' / lesson / 'index.html'}")
    return 0 if all(r.status == "graded" for r in results) else 1

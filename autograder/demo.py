"""`course demo`: compare lessons/ with a fresh release, build the student bundle, grade
three sample students.

The demo never writes lessons/: a student who cloned the course keeps answers there.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from autograder import bundle, course, grading, notebooks, release, samples

def main(workspace: Path | None = None) -> int:
    root = course.root()
    workspace = workspace or root / "grading" / "demo"
    lessons = course.lessons()
    lesson = lessons[0]
    with tempfile.TemporaryDirectory(prefix="course-demo-") as tmp:
        released = Path(tmp)
        print(f"1. Student release: generating {len(lessons)} lesson(s) from solutions/ with nbgrader")
        drift = [d for name, folder in release.generate(lessons, released).items()
                 for d in release.differences(folder, root / "lessons" / name)]
        print("   lessons/ matches it" if not drift else
              f"   lessons/ differs in {len(drift)} file(s) (your edits?); left as it is: "
              "the demo uses the fresh release")
        out = bundle.build(root / "build" / "student-bundle.zip", released)
        print(f"2. Student bundle: {out} (checked: no solutions, no hidden tests)")
        subs = samples.write_samples(lesson, workspace / "samples",
                                     notebooks.read(released / lesson / f"{lesson}.ipynb"))
    print(f"3. Sample submissions for {lesson} in {subs}: "
          + ", ".join(f"{s} ({k})" for s, k in samples.SAMPLE_STUDENTS.items()))
    print("4. Grading them (each notebook runs in smoke mode, in the sandbox) ...")
    results = grading.grade(lesson, subs, workspace, grading.Settings(regrade=True),
                            log=lambda m: print("   " + m))
    print()
    print(grading.summary(results))
    print()
    return 0 if all(r.status == "graded" for r in results) else 1

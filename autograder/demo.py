"""`course demo`: release the lessons, build the student bundle, grade three sample students."""
from __future__ import annotations

from pathlib import Path

from autograder import bundle, course, grading, release, samples

DEMO_LESSON = "01-neural-network-basics"


def main(workspace: Path | None = None) -> int:
    root = course.root()
    workspace = workspace or root / "grading" / "demo"
    lessons = course.lessons()
    print(f"1. Student release: regenerating lessons/ from solutions/ ({len(lessons)} lesson(s))")
    drift = release.release(lessons)
    print("   lessons/ was already up to date" if not drift else f"   updated {len(drift)} file(s)")
    out = bundle.build(root / "build" / "student-bundle.zip")
    print(f"2. Student bundle: {out} (checked: no solutions, no hidden tests)")
    subs = samples.write_samples(DEMO_LESSON, workspace / "samples")
    print(f"3. Sample submissions for {DEMO_LESSON} in {subs}: "
          + ", ".join(f"{s} ({k})" for s, k in samples.SAMPLE_STUDENTS.items()))
    print("4. Grading them (each notebook runs in smoke mode, in the sandbox) ...")
    results = grading.grade(DEMO_LESSON, subs, workspace, grading.Settings(regrade=True),
                            log=lambda m: print("   " + m))
    print()
    print(grading.summary(results))
    print()
    return 0 if all(r.status == "graded" for r in results) else 1

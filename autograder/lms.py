"""`course export`: the class's grades as a file an LMS gradebook imports.

The roster is a CSV of the class. Two layouts are read:

* the course's own: a ``student_id`` column (the id the submissions use) and any of
  ``name``, ``email``, ``id_number``, ``canvas_id``, ``sis_user_id``, ``sis_login_id``,
  ``section``;
* a Canvas gradebook export (columns Student, ID, SIS User ID, SIS Login ID, Section),
  where the submissions' student id is the SIS Login ID.

Formats:

* ``canvas``: Canvas's gradebook CSV: Student, ID, SIS User ID, SIS Login ID, Section, one
  column per lesson, and the "Points Possible" row Canvas reads after the header. Canvas
  matches rows by ID or SIS User ID and creates a column it does not know as a new
  assignment.
* ``moodle``: Moodle's grade import CSV: Email address and ID number (map either to the
  user in the import form), then per lesson a grade column and a feedback column.
* ``csv``: student_id, name, and per lesson the score and a note; a total.

Roster students with no submission get 0 and the note "no submission"; students graded
but missing from the roster are reported, never dropped silently (the csv format keeps
them as rows; an LMS would refuse them, so the other formats list them in the notes).
A student whose grade could not be computed is left blank with the reason.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from course_lib.errors import CourseError

FORMATS = ("canvas", "moodle", "csv")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
OWN_COLUMNS = ("student_id", "name", "email", "id_number", "canvas_id", "sis_user_id", "sis_login_id", "section")


class ExportError(CourseError):
    """A roster or a workspace the export cannot use."""


@dataclass
class Student:
    student_id: str
    name: str = ""
    email: str = ""
    id_number: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


@dataclass
class Entry:
    """One student's cell in the LMS gradebook for one lesson."""

    score: float | None  # None: could not be computed (see note)
    max_score: float
    note: str = ""


@dataclass
class Export:
    header: list[str]
    rows: list[list]
    notes: list[str] = field(default_factory=list)  # what a person should know about the file


def read_roster(path: Path) -> list[Student]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ExportError(f"cannot read the roster {path}: {exc.strerror}") from None
    if not rows:
        raise ExportError(f"the roster {path} has no students")
    columns = set(rows[0])
    if set(CANVAS_COLUMNS) <= columns:
        # Canvas exports start with a "Points Possible" row (and sometimes a muted-assignments row).
        students = [
            Student(
                r["SIS Login ID"].strip() or r["ID"].strip(),
                r["Student"].strip(),
                canvas_id=r["ID"].strip(),
                sis_user_id=r["SIS User ID"].strip(),
                sis_login_id=r["SIS Login ID"].strip(),
                section=r["Section"].strip(),
            )
            for r in rows
            if r["ID"].strip()
        ]
    elif "student_id" in columns:
        students = [Student(**{k: (r.get(k) or "").strip() for k in OWN_COLUMNS}) for r in rows]
    else:
        raise ExportError(
            f"the roster {path} needs a student_id column (or the columns of a Canvas gradebook "
            f"export: {', '.join(CANVAS_COLUMNS)})"
        )
    seen: set[str] = set()
    for s in students:
        if not s.student_id:
            raise ExportError(f"the roster {path} has a student without an id ({s.name or 'no name'})")
        if s.student_id in seen:
            raise ExportError(f"the roster {path} lists {s.student_id} twice")
        seen.add(s.student_id)
    return students


def grades_from(results, max_score: float) -> dict[str, Entry]:
    """student_id -> Entry from a lesson's final results (`grading.current`)."""
    out = {}
    for r in results:
        if r.status == "error":
            out[r.student_id] = Entry(None, r.max_score or max_score, f"not graded: {r.message}")
        else:
            note = "; ".join(
                filter(
                    None,
                    [
                        r.message if r.status == "flagged" else "",
                        f"late: -{r.penalty:g}" if r.penalty else "",
                        f"{r.awaiting_manual:g} point(s) await manual grading" if r.awaiting_manual else "",
                    ],
                )
            )
            out[r.student_id] = Entry(r.score, r.max_score, note)
    return out


def export(
    grades: dict[str, dict[str, Entry]], max_scores: dict[str, float], roster: list[Student], fmt: str
) -> Export:
    """The file's rows for ``grades`` (lesson -> student_id -> Entry) and the roster."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    lessons = list(grades)
    on_roster = {s.student_id for s in roster}
    strangers = sorted({sid for g in grades.values() for sid in g} - on_roster)
    notes = [
        f"{sid} was graded in {', '.join(name for name in lessons if sid in grades[name])} but is not on the roster"
        for sid in strangers
    ]
    people = roster + ([Student(sid, "(not on the roster)") for sid in strangers] if fmt == "csv" else [])
    rows = []
    for s in people:
        cells = []
        for lesson in lessons:
            grade = grades[lesson].get(s.student_id) or Entry(0.0, max_scores[lesson], "no submission")
            if grade.note and (fmt != "csv" or grade.score is None):
                notes.append(f"{s.student_id}, {lesson}: {grade.note}")
            score = "" if grade.score is None else f"{grade.score:g}"
            cells += [score, grade.note] if fmt in ("moodle", "csv") else [score]
        if fmt == "canvas":
            rows.append(
                [s.name or s.student_id, s.canvas_id, s.sis_user_id, s.sis_login_id or s.student_id, s.section, *cells]
            )
        elif fmt == "moodle":
            rows.append([s.email, s.id_number, *cells])
        else:
            total = sum(float(c) for c in cells[::2] if c != "")
            rows.append([s.student_id, s.name, *cells, f"{total:g}"])
    if fmt == "canvas":
        header = CANVAS_COLUMNS + lessons
        rows.insert(0, ["    Points Possible", "", "", "", "", *[f"{max_scores[name]:g}" for name in lessons]])
    elif fmt == "moodle":
        header = ["Email address", "ID number"] + [c for name in lessons for c in (name, f"{name} feedback")]
        if any(not (s.email or s.id_number) for s in roster):
            notes.append("students without an email or ID number in the roster cannot be matched by Moodle")
    else:
        header = ["student_id", "name"] + [c for name in lessons for c in (name, f"{name} note")] + ["total"]
    return Export(header, rows, notes)


def write(result: Export, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(result.header)
        writer.writerows(result.rows)
    tmp.replace(path)

"""The instructor's semester: deadlines and late work, LMS grade files, similarity, test
statistics, and when students see hidden-test results."""

import csv
import html
import shutil

import pytest
from conftest import course_cmd

from autograder import course, deadlines, lms, notebooks, reports, samples, similarity
from autograder.grading import Grade

DUE = "2027-03-01 23:59"


def _policy(**kw):
    return deadlines.Policy.from_args(kw.pop("due", DUE), **kw)


def _at(text, zone="UTC"):
    return deadlines.parse_time(text, zone).isoformat()


# ---------------------------------------------------------------------- deadlines


def test_times_are_read_in_the_formats_lms_and_nbgrader_write():
    assert _at("2027-03-01 23:59") == "2027-03-01T23:59:00+00:00"
    assert _at("2027-03-01 23:59", "Europe/Berlin") == "2027-03-01T23:59:00+01:00"
    assert _at("2027-03-01T23:59:30+05:30") == "2027-03-01T23:59:30+05:30"
    assert _at("2027-03-02 00:00:01.250000 UTC", "Asia/Taipei") == "2027-03-02T00:00:01.250000+00:00"
    with pytest.raises(deadlines.DeadlineError, match="cannot read the time 'yesterday'"):
        deadlines.parse_time("yesterday")
    with pytest.raises(deadlines.DeadlineError, match="unknown time zone"):
        deadlines.parse_time("2027-03-01 23:59", "Mars/Olympus")


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(late_policy="per-day:ten"), "cannot read the late policy 'per-day:ten'"),
        (dict(late_policy="per-day:150"), "cannot read the late policy"),
        (dict(late_policy="weekly:5"), "cannot read the late policy 'weekly:5'"),
        (dict(late_policy="cutoff:2027-02-01 00:00"), "the cutoff is before the due date"),
        (dict(due="", late_policy="cap:50"), "a late policy needs a due date"),
        (dict(grace_minutes=-5), "--grace cannot be negative"),
    ],
)
def test_a_policy_that_cannot_be_meant_is_refused(args, message):
    with pytest.raises(deadlines.DeadlineError, match=message):
        _policy(**args)


def _assess(policy, submitted, student="ann", raw=8.0, max_score=10.0):
    return deadlines.assess(policy, student, _at(submitted) if submitted[:1].isdigit() else submitted, raw, max_score)


def test_late_work_costs_what_the_policy_says():
    per_day = _policy(grace_minutes=10, late_policy="per-day:10,cutoff:2027-03-05 23:59")
    on_time = _assess(per_day, "2027-03-01 23:00")
    assert (on_time.penalty, on_time.late_by, on_time.note) == (0.0, 0.0, "")
    grace = _assess(per_day, "2027-03-02 00:00")  # a minute late, inside ten minutes of grace
    assert (grace.penalty, grace.note) == (0.0, "within the grace period")
    one_day = _assess(per_day, "2027-03-02 01:29")  # 1.5 h late: one (part of a) day
    assert (one_day.penalty, one_day.late_by) == (1.0, 1.5) and one_day.note == "late by 1 h 30 min: -1 points"
    two_days = _assess(per_day, "2027-03-03 00:00")  # 24 h 01 min: two days
    assert two_days.penalty == 2.0 and "late by 1 d 0 h 01 min" in two_days.note
    assert _assess(per_day, "2027-03-01 23:59", raw=0.5).penalty == 0.0
    assert _assess(per_day, "2027-03-04 23:00", raw=2.0).penalty == 2.0, "never below zero"
    after = _assess(per_day, "2027-03-06 00:00")
    assert after.penalty == 8.0 and "after the cutoff" in after.note
    capped = _policy(late_policy="cap:50")
    assert _assess(capped, "2027-03-10 12:00").penalty == 3.0, "8 of 10 capped at 5"
    assert _assess(capped, "2027-03-10 12:00", raw=4.0).penalty == 0.0
    assert _assess(_policy(due=""), "2027-12-31 00:00").penalty == 0.0, "no due date, nothing is late"


def test_an_extension_moves_the_due_date_and_the_cutoff(tmp_path):
    (tmp_path / "ext.csv").write_text("student_id,due\nben,2027-03-04 23:59\n")
    policy = _policy(late_policy="per-day:10,cutoff:2027-03-03 23:59", extensions=tmp_path / "ext.csv")
    assert _assess(policy, "2027-03-04 12:00", student="ben").penalty == 0.0
    assert _assess(policy, "2027-03-04 12:00", student="ann").penalty == 8.0, "after ann's cutoff"
    late_ben = _assess(policy, "2027-03-06 12:00", student="ben")  # his cutoff moved three days too
    assert late_ben.penalty == 2.0 and "after the cutoff" not in late_ben.note
    (tmp_path / "bad.csv").write_text("student_id,due\nben,soon\n")
    with pytest.raises(deadlines.DeadlineError, match="bad.csv, line 2: cannot read the time 'soon'"):
        _policy(extensions=tmp_path / "bad.csv")


def test_submission_times_come_from_the_manifest_or_timestamp_files(tmp_path):
    subs = tmp_path / "subs"
    for sid in ("ann", "ben", "cy", "dee"):
        (subs / sid).mkdir(parents=True)
    (subs / "timestamps.csv").write_text("student_id,submitted_at\nann,2027-03-01 22:00\ncy,March 2nd\n")
    (subs / "ann" / "timestamp.txt").write_text("2027-03-05 00:00:00.000000 UTC")  # the manifest wins
    (subs / "ben" / "timestamp.txt").write_text("2027-03-02 00:30:00.000000 UTC\n")
    times = deadlines.submission_times(subs, "Europe/Berlin")
    assert times["ann"] == "2027-03-01T22:00:00+01:00" and times["ben"] == "2027-03-02T00:30:00+00:00"
    assert times["cy"].startswith("invalid: timestamps.csv: cannot read the time 'March 2nd'")
    assert "dee" not in times
    policy = _policy()
    assert _assess(policy, times["cy"]).error.startswith("submission time unreadable")
    assert "no submission time found" in _assess(policy, "").note


# -------------------------------------------------------------- test statistics


def _result(sid, tests, status="graded"):
    score = sum(s for s, _ in tests.values())
    return Grade(sid, "00-x", score, sum(p for _, p in tests.values()), status, "", tests)


def test_tests_table_gives_difficulty_and_discrimination():
    # t_good is passed by the students who do well on the other tests, t_odd by those who
    # do badly, and everyone passes t_easy.
    marks = {
        "t_good": (1, 1, 1, 1, 0, 0, 0, 0),
        "t_b": (1, 1, 1, 0, 1, 0, 0, 0),
        "t_c": (1, 1, 0, 1, 0, 0, 0, 0),
        "t_d": (1, 1, 1, 1, 0, 0, 1, 0),
        "t_odd": (0, 0, 0, 0, 1, 1, 1, 1),
        "t_easy": (1,) * 8,
    }
    results = [_result(f"s{i}", {t: [2.0 * m[i], 2.0] for t, m in marks.items()}) for i in range(8)]
    results.append(Grade("broken", "00-x", 0, 12, "error", "not valid JSON"))
    table = {row["test"]: row for row in reports.tests_table(results)}
    assert table["t_good"]["students"] == 8 and table["t_good"]["difficulty"] == 0.5
    assert table["t_good"]["discrimination"] == pytest.approx(0.707, abs=1e-3)
    assert table["t_odd"]["discrimination"] < -0.9
    assert table["t_easy"]["difficulty"] == 1.0 and table["t_easy"]["discrimination"] == ""
    order = [row["test"] for row in reports.tests_table(results)]
    assert order[0] == "t_c" and order[-1] == "t_easy", "hardest first"


# ------------------------------------------------------------------------ LMS files


def _roster(tmp_path, text):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    return lms.read_roster(path)


ROSTER = (
    "student_id,name,email,id_number,canvas_id,sis_user_id,section\n"
    "alice,Alice Ang,alice@uni.edu,A1,101,S-1,Mon\n"
    "bob,Bob Bo,bob@uni.edu,B2,102,S-2,Tue\n"
    "nina,Nina Ng,nina@uni.edu,N3,103,S-3,Tue\n"
)


def _grades():
    late = Grade("bob", "01-a", 4.0, 10.0, "graded", "late by 1 h 00 min: -1 points", {}, penalty=1.0)
    return {
        "01-a": lms.grades_from(
            [Grade("alice", "01-a", 10.0, 10.0, "graded"), late, Grade("zed", "01-a", 7.0, 10.0, "graded")], 10.0
        ),
        "02-b": lms.grades_from(
            [Grade("alice", "02-b", 3.0, 6.0, "graded"), Grade("bob", "02-b", 0.0, 6.0, "error", "not valid JSON")],
            6.0,
        ),
    }


def test_canvas_file_has_canvas_columns_points_possible_and_every_roster_student(tmp_path):
    out = lms.export(_grades(), {"01-a": 10.0, "02-b": 6.0}, _roster(tmp_path, ROSTER), "canvas")
    assert out.header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01-a", "02-b"]
    assert out.rows[0] == ["    Points Possible", "", "", "", "", "10", "6"]
    assert out.rows[1:] == [
        ["Alice Ang", "101", "S-1", "alice", "Mon", "10", "3"],
        ["Bob Bo", "102", "S-2", "bob", "Tue", "4", ""],
        ["Nina Ng", "103", "S-3", "nina", "Tue", "0", "0"],
    ]
    notes = "\n".join(out.notes)
    assert "zed was graded in 01-a but is not on the roster" in notes
    assert "nina, 01-a: no submission" in notes and "bob, 02-b: not graded: not valid JSON" in notes
    assert "bob, 01-a: late: -1" in notes


def test_moodle_and_csv_files(tmp_path):
    roster = _roster(tmp_path, ROSTER)
    moodle = lms.export(_grades(), {"01-a": 10.0, "02-b": 6.0}, roster, "moodle")
    assert moodle.header == ["Email address", "ID number", "01-a", "01-a feedback", "02-b", "02-b feedback"]
    assert moodle.rows[2] == ["nina@uni.edu", "N3", "0", "no submission", "0", "no submission"]
    plain = lms.export(_grades(), {"01-a": 10.0, "02-b": 6.0}, roster, "csv")
    rows = {r[0]: r for r in plain.rows}
    assert rows["alice"][-1] == "13" and rows["bob"][-1] == "4"
    assert rows["zed"][1] == "(not on the roster)" and rows["zed"][2] == "7", "not dropped"
    lms.write(plain, tmp_path / "out.csv")
    assert next(csv.reader(open(tmp_path / "out.csv")))[0] == "student_id"


def test_a_canvas_gradebook_export_is_a_roster_and_bad_rosters_are_refused(tmp_path):
    canvas = (
        "Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (55)\n"
        "    Points Possible,,,,,10\n"
        '"Ang, Alice",101,S-1,alice,Mon,9\n'
    )
    (student,) = _roster(tmp_path, canvas)
    assert (student.student_id, student.canvas_id, student.name) == ("alice", "101", "Ang, Alice")
    with pytest.raises(lms.ExportError, match="lists alice twice"):
        _roster(tmp_path, "student_id,name\nalice,A\nalice,B\n")
    with pytest.raises(lms.ExportError, match="needs a student_id column"):
        _roster(tmp_path, "who,name\nalice,A\n")


# ------------------------------------------------------------------------ similarity

LESSON_08 = "08-cnn-fundamentals"

# Two students who wrote lesson 08's NumPy convolution and pooling on their own.
INDEPENDENT = [
    {
        "conv_output_size": "def conv_output_size(n, f, padding=0, stride=1):\n"
        "    if (n + 2 * padding - f) < 0:\n        raise ValueError('filter larger than input')\n"
        "    return (n + 2 * padding - f) // stride + 1\n",
        "conv2d": "def conv2d(x, kernel, bias=None, stride=1, padding='valid'):\n"
        "    x = np.asarray(x, float)\n    k = np.asarray(kernel, float)\n"
        "    fh, fw, cin, cout = k.shape\n"
        "    if padding == 'same':\n"
        "        ph, pw = fh - 1, fw - 1\n"
        "        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))\n"
        "    n, h, w, _ = x.shape\n"
        "    oh, ow = (h - fh) // stride + 1, (w - fw) // stride + 1\n"
        "    out = np.zeros((n, oh, ow, cout))\n"
        "    for i in range(oh):\n        for j in range(ow):\n"
        "            patch = x[:, i * stride:i * stride + fh, j * stride:j * stride + fw, :]\n"
        "            out[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))\n"
        "    if bias is not None:\n        out += np.asarray(bias)\n    return out\n",
    },
    {
        "conv_output_size": "def conv_output_size(n, f, padding=0, stride=1):\n"
        "    size = n - f + 2 * padding\n    assert size >= 0, 'the kernel does not fit'\n"
        "    return 1 + size // stride\n",
        "conv2d": "def conv2d(x, kernel, bias=None, stride=1, padding='valid'):\n"
        "    images = np.array(x, dtype=np.float64)\n"
        "    rows, cols = kernel.shape[:2]\n"
        "    if padding == 'same':\n"
        "        top, left = (rows - 1) // 2, (cols - 1) // 2\n"
        "        images = np.pad(images, [(0, 0), (top, rows - 1 - top), (left, cols - 1 - left), (0, 0)])\n"
        "    windows = np.lib.stride_tricks.sliding_window_view(images, (rows, cols), axis=(1, 2))\n"
        "    windows = windows[:, ::stride, ::stride]\n"
        "    result = np.einsum('bhwcij,ijco->bhwo', windows, kernel)\n"
        "    return result if bias is None else result + bias\n",
    },
]


def _student(release, answers: dict):
    nb = notebooks.nbformat.from_dict(notebooks.nbformat.reads(notebooks.nbformat.writes(release), 4))
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def _renamed_and_reordered(answer_source: str) -> str:
    """A copy a student disguised: other variable names, a comment added."""
    swaps = {"out": "result_arr", "patch": "window", "oh": "out_h", "ow": "out_w", "fh": "kh", "fw": "kw"}
    import re

    for old, new in swaps.items():
        answer_source = re.sub(rf"\b{old}\b", new, answer_source)
    return "# my own work\n" + answer_source


def test_similarity_ranks_planted_copies_first_and_leaves_independent_work_low(tmp_path):
    release = notebooks.read(course.released_notebook(LESSON_08))
    base, other = INDEPENDENT
    copied = {k: _renamed_and_reordered(v) for k, v in base.items()}
    reordered = {"conv_output_size": base["conv2d"], "conv2d": base["conv_output_size"]}  # functions swapped
    class_ = {
        "ann": _student(release, base),
        "ben": _student(release, other),
        "cat": _student(release, copied),
        "dan": _student(release, reordered),
        "eve": release,  # handed in the release untouched
        "fay": _student(release, base),
    }  # ann's answers, character for character
    pairs = similarity.compare(class_, release)
    copies = ("ann", "cat", "dan", "fay")
    top = {frozenset((p.a, p.b)) for p in pairs[:6]}
    assert top == {frozenset((a, b)) for i, a in enumerate(copies) for b in copies[i + 1 :]}, [
        (p.a, p.b, round(p.score, 2)) for p in pairs
    ]
    assert all(p.score > 0.9 for p in pairs[:6]) and pairs[0].score == 1.0
    independent = next(p for p in pairs if {p.a, p.b} == {"ann", "ben"})
    assert independent.score < 0.3
    untouched = [p for p in pairs if "eve" in (p.a, p.b)]
    assert all(p.score == 0 for p in untouched), "the release's starter code never counts"
    table, page = similarity.write(LESSON_08, pairs, tmp_path, show=2)
    text = page.read_text()
    assert text.count('<div class="pair">') == 2 and "<mark>" in text
    assert sum(1 for _ in csv.reader(open(table))) == 1 + 15, "every pair of six students"


# --------------------------------------------------------- the semester, end to end


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def test_a_semester_in_miniature_on_the_tiny_course(tiny_root, tmp_path):
    """Due date, grace, an extension, a late policy and results after the due date; then
    the release of hidden-test results, a Canvas file and a similarity report."""
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    subs, workspace = samples.write_samples("00-tiny", tmp_path / "subs"), tmp_path / "ws"
    shutil.copytree(subs / "alice", subs / "dave")  # dave hands in alice's notebook, late
    (subs / "timestamps.csv").write_text(
        "student_id,submitted_at\nalice,2027-03-01 22:00\ncarol,2027-03-02 00:04\ndave,2027-03-03 08:00\n"
    )
    (subs / "bob" / "timestamp.txt").write_text("2027-03-02 10:00:00.000000 UTC")
    (tmp_path / "ext.csv").write_text("student_id,due\nbob,2027-03-03 23:59\n")
    done = course_cmd(
        "grade",
        "00",
        "--submissions",
        str(subs),
        "--workspace",
        str(workspace),
        "--due",
        DUE,
        "--grace",
        "5",
        "--late-policy",
        "per-day:20",
        "--extensions",
        str(tmp_path / "ext.csv"),
        "--results",
        "after-due",
        cwd=tiny_root,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "submission times found for 4 of 4" in done.stdout
    out = workspace / "reports" / "00-tiny"
    rows = _csv(out / "grades.csv")
    assert (rows["alice"]["score"], rows["alice"]["penalty"]) == ("5.0", "0.0")
    assert "within the grace period" in rows["carol"]["message"] and rows["carol"]["penalty"] == "0.0"
    assert rows["bob"]["penalty"] == "0.0", "bob's extension"
    dave = rows["dave"]
    assert (dave["raw_score"], dave["penalty"], dave["score"], dave["late_by"]) == ("5.0", "2.4", "2.6", "32.02")
    assert dave["submitted_at"] == "2027-03-03T08:00:00+00:00" and "late by 1 d 8 h 01 min" in dave["message"]

    early = html.unescape((out / "feedback" / "alice.html").read_text())
    assert "visible tests only" in early and "Hidden tests" not in early and "Score:" not in early
    index = (out / "index.html").read_text()
    assert 'href="feedback/dave.html"' in index and "discrimination" in index and "hidden-test results after" in index

    released = course_cmd("feedback", "00", "--release", "--workspace", str(workspace), cwd=tiny_root)
    assert released.returncode == 0 and "every test's result" in released.stdout, released.stderr
    page = html.unescape((out / "feedback" / "alice.html").read_text())
    assert "Hidden tests: passed" in page and "Score:" in page

    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,canvas_id\nalice,Alice,1\nbob,Bob,2\ncarol,Carol,3\nerin,Erin,5\n")
    exported = course_cmd(
        "export",
        "00",
        "--format",
        "canvas",
        "--roster",
        str(roster),
        "--workspace",
        str(workspace),
        "--out",
        str(tmp_path / "canvas.csv"),
        cwd=tiny_root,
    )
    assert exported.returncode == 0, exported.stderr
    lines = list(csv.reader(open(tmp_path / "canvas.csv")))
    assert lines[0][-1] == "00-tiny" and lines[1][-1] == "6"
    assert [r[0] for r in lines[2:]] == ["Alice", "Bob", "Carol", "Erin"] and lines[-1][-1] == "0"
    assert "dave was graded in 00-tiny but is not on the roster" in exported.stdout

    alike = course_cmd("similarity", "00", "--workspace", str(workspace), cwd=tiny_root)
    assert alike.returncode == 0, alike.stderr
    assert (out / "similarity.html").exists() and "4 students, 6 pairs" in alike.stdout

"""lessons/ is generated from solutions/ and never drifts."""
import json

from conftest import course_cmd


def test_committed_release_matches_solutions():
    done = course_cmd("release", "--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_catches_drift_and_release_fixes_it(tiny_root):
    first = course_cmd("release", cwd=tiny_root)
    assert first.returncode == 0, first.stderr
    released = tiny_root / "lessons" / "00-tiny" / "00-tiny.ipynb"
    text = released.read_text()
    assert "raise NotImplementedError()" in text
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "arange(4)" not in text

    source = tiny_root / "solutions" / "00-tiny" / "00-tiny.ipynb"
    nb = json.loads(source.read_text())
    nb["cells"][0]["source"] = "# Tiny lesson, revised"
    source.write_text(json.dumps(nb))
    drift = course_cmd("release", "--check", cwd=tiny_root)
    assert drift.returncode == 1 and "00-tiny/00-tiny.ipynb: differs" in drift.stdout

    assert course_cmd("release", cwd=tiny_root).returncode == 0
    assert course_cmd("release", "--check", cwd=tiny_root).returncode == 0
    assert "revised" in released.read_text()

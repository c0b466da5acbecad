"""Deadlines and late work: when each student handed in, how late that was, what it costs.

A lesson's policy (`Policy`) is set when it is graded (`course grade --due ...`) and kept
in ``WORKSPACE/policies/LESSON.json``, so that re-writing the reports and exporting
grades later apply the same rules. Penalties are applied when reports are written, never
to the saved results: the raw score stays, and a fixed timestamp or a new extension needs
no notebook to run again.

Submission times come, in this order, from a manifest ``timestamps.csv`` at the top of
the submissions (columns ``student_id`` and ``submitted_at``: what an LMS's submission
list gives, reduced to two columns) and from ``STUDENT/timestamp.txt`` (nbgrader's
convention). Times without a zone are in the policy's time zone.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from course_lib.errors import CourseError

MANIFEST = "timestamps.csv"
STAMP = "timestamp.txt"
FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
RESULTS_POLICIES = ("immediate", "after-due")


class DeadlineError(CourseError):
    """A due date, policy, extension file or timestamp that cannot be read."""


def parse_time(text: str, zone: str = "UTC") -> datetime:
    """An aware datetime from ``2027-03-01 23:59``, ``2027-03-01T23:59:00+01:00`` or
    nbgrader's ``2027-03-01 23:59:00.000000 UTC``; a time without a zone is in ``zone``."""
    raw = text.strip()
    utc = raw.upper().endswith(" UTC")
    value = raw[:-4].strip() if utc else raw
    tz = timezone.utc if utc else _zone(zone)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        for fmt in FORMATS:
            try:
                moment = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        else:
            raise DeadlineError(
                f"cannot read the time {raw!r} (write it as 2027-03-01 23:59, "
                "optionally with seconds and a zone such as +01:00)"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DeadlineError(f"unknown time zone {name!r} (use a name such as UTC or Europe/Berlin)") from None


@dataclass
class Policy:
    """When a lesson is due and what lateness costs; `results` says when students see hidden tests."""

    due: str = ""  # ISO time; "" for no due date
    zone: str = "UTC"  # for times written without a zone
    grace_minutes: float = 0.0  # late by no more than this is on time
    per_day: float = 0.0  # share of the points lost per day (or part of a day) late
    cap: float | None = None  # a late submission earns at most this share of the points
    cutoff: str = ""  # ISO time after which a submission earns 0
    extensions: dict[str, str] = field(default_factory=dict)  # student_id -> their own due time (ISO)
    results: str = "immediate"  # or "after-due": hidden-test results once `course feedback --release`
    released: bool = False

    @property
    def shows_results(self) -> bool:
        """Whether students see the hidden tests' results and their score now (nbgrader's
        feedback pages), not the visible tests only."""
        return self.results == "immediate" or self.released

    @classmethod
    def from_args(
        cls,
        due: str,
        zone: str = "UTC",
        grace_minutes: float = 0.0,
        late_policy: str = "none",
        extensions: Path | None = None,
        results: str = "immediate",
    ) -> Policy:
        """A policy from the command line: ``late_policy`` is ``none`` or comma-separated
        ``per-day:PERCENT``, ``cap:PERCENT``, ``cutoff:TIME``."""
        policy = cls(zone=zone, grace_minutes=float(grace_minutes), results=results)
        _zone(zone)
        if results not in RESULTS_POLICIES:
            raise DeadlineError(f"--results must be one of {', '.join(RESULTS_POLICIES)}")
        if grace_minutes < 0:
            raise DeadlineError("--grace cannot be negative")
        if due:
            policy.due = parse_time(due, zone).isoformat()
        for part in filter(None, (p.strip() for p in late_policy.split(","))):
            name, _, value = part.partition(":")
            try:
                if name == "none" and not value:
                    continue
                if name in ("per-day", "cap"):
                    share = float(value) / 100
                    if not 0 <= share <= 1:
                        raise ValueError
                    setattr(policy, name.replace("-", "_"), share)
                elif name == "cutoff":
                    policy.cutoff = parse_time(value, zone).isoformat()
                else:
                    raise ValueError
            except ValueError:
                raise DeadlineError(
                    f"cannot read the late policy {part!r}: use none, per-day:PERCENT, cap:PERCENT "
                    "or cutoff:TIME, separated by commas (e.g. per-day:10,cutoff:2027-03-08 23:59)"
                ) from None
        if (policy.per_day or policy.cap is not None or policy.cutoff) and not policy.due:
            raise DeadlineError("a late policy needs a due date: --due TIME")
        if policy.cutoff and datetime.fromisoformat(policy.cutoff) < datetime.fromisoformat(policy.due):
            raise DeadlineError("the cutoff is before the due date")
        if extensions is not None:
            policy.extensions = read_extensions(extensions, zone)
        return policy

    def due_for(self, student_id: str) -> datetime | None:
        if student_id in self.extensions:
            return datetime.fromisoformat(self.extensions[student_id])
        return datetime.fromisoformat(self.due) if self.due else None

    def cutoff_for(self, student_id: str) -> datetime | None:
        """The hard cutoff, moved by as much as the student's extension moves the due date."""
        if not self.cutoff:
            return None
        shift = self.due_for(student_id) - datetime.fromisoformat(self.due)
        return datetime.fromisoformat(self.cutoff) + max(shift, timedelta(0))

    def describe(self) -> str:
        if not self.due:
            return "no due date"
        parts = [f"due {self.due}"]
        if self.grace_minutes:
            parts.append(f"{self.grace_minutes:g} min grace")
        if self.per_day:
            parts.append(f"-{self.per_day:.0%} a day late")
        if self.cap is not None:
            parts.append(f"late work capped at {self.cap:.0%}")
        if self.cutoff:
            parts.append(f"0 after {self.cutoff}")
        if self.extensions:
            parts.append(f"{len(self.extensions)} extension(s)")
        return ", ".join(parts)


def read_extensions(path: Path, zone: str) -> dict[str, str]:
    """student_id -> due time (ISO), from a CSV with columns student_id and due."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise DeadlineError(f"cannot read the extensions file {path}: {exc.strerror}") from None
    if rows and not {"student_id", "due"} <= set(rows[0]):
        raise DeadlineError(f"{path} needs the columns student_id and due")
    out = {}
    for n, row in enumerate(rows, start=2):
        try:
            out[row["student_id"].strip()] = parse_time(row["due"], zone).isoformat()
        except DeadlineError as exc:
            raise DeadlineError(f"{path}, line {n}: {exc}") from None
    return out


# ------------------------------------------------------------------------- saving


def path(workspace: Path, lesson: str) -> Path:
    return workspace / "policies" / f"{lesson}.json"


def save(policy: Policy, workspace: Path, lesson: str) -> None:
    target = path(workspace, lesson)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(asdict(policy), indent=1))


def load(workspace: Path, lesson: str) -> Policy:
    try:
        return Policy(**json.loads(path(workspace, lesson).read_text()))
    except FileNotFoundError:
        return Policy()
    except (ValueError, TypeError) as exc:
        raise DeadlineError(f"{path(workspace, lesson)} is damaged ({exc}); grade again with --due") from None


# ---------------------------------------------------------------- submission times


def submission_times(submissions: Path, zone: str) -> dict[str, str]:
    """student_id -> what the submissions say about when they handed in: an ISO time, or
    ``"invalid: ..."`` with the reason. Students with no time are left out."""
    times: dict[str, str] = {}
    manifest = submissions / MANIFEST
    if manifest.is_file():
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
        if rows and not {"student_id", "submitted_at"} <= set(rows[0]):
            raise DeadlineError(f"{manifest} needs the columns student_id and submitted_at")
        for row in rows:
            times[row["student_id"].strip()] = _read(row["submitted_at"], zone, MANIFEST)
    for stamp in sorted(submissions.glob(f"*/{STAMP}")):
        times.setdefault(stamp.parent.name, _read(stamp.read_text(encoding="utf-8", errors="replace"), zone, STAMP))
    return times


def _read(text: str, zone: str, where: str) -> str:
    try:
        return parse_time(text, zone).isoformat()
    except DeadlineError as exc:
        return f"invalid: {where}: {exc}"


# ------------------------------------------------------------------------ penalties


@dataclass
class Lateness:
    late_by: float = 0.0  # hours after the student's due time (0 when on time)
    penalty: float = 0.0  # points taken off the raw score
    note: str = ""  # what a person should know, "" when on time
    error: str = ""  # the time could not be read: the student's grade waits for a person


def assess(policy: Policy, student_id: str, submitted_at: str, raw: float, max_score: float) -> Lateness:
    """What the policy makes of one submission."""
    due = policy.due_for(student_id)
    if due is None:
        return Lateness()
    if submitted_at.startswith("invalid: "):
        return Lateness(error=f"submission time unreadable ({submitted_at[9:]})")
    if not submitted_at:
        return Lateness(
            note="no submission time found (timestamps.csv or timestamp.txt); not checked against the due date"
        )
    late = datetime.fromisoformat(submitted_at) - due
    if late <= timedelta(minutes=policy.grace_minutes):
        note = "within the grace period" if late > timedelta(0) else ""
        return Lateness(note=note)
    hours = late.total_seconds() / 3600
    cutoff = policy.cutoff_for(student_id)
    if cutoff is not None and datetime.fromisoformat(submitted_at) > cutoff:
        return Lateness(round(hours, 2), raw, f"late by {_span(late)}: after the cutoff, no points")
    days = math.ceil(late / timedelta(days=1))
    final = max(0.0, raw - days * policy.per_day * max_score)
    if policy.cap is not None:
        final = min(final, policy.cap * max_score)
    penalty = round(raw - final, 4)
    return Lateness(round(hours, 2), penalty, f"late by {_span(late)}" + (f": -{penalty:g} points" if penalty else ""))


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    return (f"{days} d " if days else "") + f"{minutes // 60} h {minutes % 60:02d} min"


def apply(results: list, policy: Policy) -> list:
    """The results with the policy applied: ``raw_score`` keeps what the work earned,
    ``score`` is what counts; an unreadable time makes the student's status an error."""
    for r in results:
        r.raw_score, r.penalty, r.late_by = r.score, 0.0, 0.0
        if r.status == "error" and not r.tests:
            continue
        lateness = assess(policy, r.student_id, r.submitted_at, r.score, r.max_score)
        r.penalty, r.late_by = lateness.penalty, lateness.late_by
        r.score = round(r.raw_score - lateness.penalty, 4)
        note = lateness.error or lateness.note
        if lateness.error:
            r.status = "error"
        if note:
            r.message = "; ".join(filter(None, [note, r.message]))
    return results

"""`course similarity`: which students' answers look alike, for a person to read.

Only the answer cells count: each student's code answers are joined into one text, and
the release's own starter code (signatures, docstrings, the `raise NotImplementedError`
line) is boilerplate that never counts as a match. copydetect fingerprints each text by
winnowing (the method of MOSS): it tokenizes the code, replaces every variable, function
and string by a placeholder (so renaming changes nothing), hashes every run of
`NOISE_T` characters of the result and keeps the smallest hash of each window (with
copydetect's default thresholds, a window of one: every hash); the order of functions
does not matter because fingerprints are a set. Two answers' similarity is
the share of each one's code that the other's fingerprints cover.

It flags; it never changes a score.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from course_lib import submission

NOISE_T = 25  # copydetect's defaults: the shortest match that counts, in filtered characters,
GUARANTEE_T = 25  # and the length of match always found (window = GUARANTEE_T - NOISE_T + 1)


@dataclass
class Pair:
    a: str
    b: str
    share_a: float  # share of a's answer code that b's also has
    share_b: float
    tokens: int  # matching filtered characters
    code_a: str  # each answer text with the matches marked (HTML)
    code_b: str

    @property
    def score(self) -> float:
        return (self.share_a + self.share_b) / 2


def answer_code(nb, release_ids: list[str]) -> str:
    """A notebook's code answers, in the release's order, one text."""
    found = submission.answers(nb)
    return "\n\n".join(found[g].source for g in release_ids if g in found and found[g].cell_type == "code")


def compare(notebooks: dict, release) -> list[Pair]:
    """Every pair of students (student_id -> notebook), most similar first."""
    from copydetect import CodeFingerprint, compare_files
    from copydetect.utils import highlight_overlap

    ids = [submission.grade_id(c) for c in release.cells if submission.is_answer(c) and c.cell_type == "code"]
    starter = CodeFingerprint("starter.py", NOISE_T, 1, fp=io.StringIO(answer_code(release, ids)))
    boilerplate = np.unique(np.array(list(starter.hashes)))
    prints = {
        sid: CodeFingerprint(
            f"{sid}.py",
            NOISE_T,
            GUARANTEE_T - NOISE_T + 1,
            boilerplate=boilerplate,
            fp=io.StringIO(answer_code(nb, ids)),
        )
        for sid, nb in sorted(notebooks.items())
    }
    pairs = []
    for a, b in combinations(prints, 2):
        tokens, (share_a, share_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
        marked = []
        for fp, slices in ((prints[a], slices_a), (prints[b], slices_b)):
            text = fp.raw_code
            marked.append(
                highlight_overlap(text, slices, "<mark>", "</mark>", escape_html=True)[0]
                if tokens
                else html.escape(text)
            )
        pairs.append(Pair(a, b, float(share_a), float(share_b), int(tokens), *marked))
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def write(lesson: str, pairs: list[Pair], out: Path, show: int = 10) -> tuple[Path, Path]:
    """similarity.csv (every pair) and similarity.html (the `show` most similar, side by side)."""
    out.mkdir(parents=True, exist_ok=True)
    table = out / "similarity.csv"
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student_a", "student_b", "similarity", "share_of_a", "share_of_b", "matching_characters"])
        for p in pairs:
            writer.writerow([p.a, p.b, f"{p.score:.3f}", f"{p.share_a:.3f}", f"{p.share_b:.3f}", p.tokens])
    sections = [
        f"""<h2>{html.escape(p.a)} and {html.escape(p.b)}: {p.score:.0%}</h2>
<p>{p.share_a:.0%} of {html.escape(p.a)}'s answer code is also in {html.escape(p.b)}'s; {p.share_b:.0%} the other
way round.</p>
<div class="pair"><pre>{p.code_a}</pre><pre>{p.code_b}</pre></div>"""
        for p in pairs[:show]
    ]
    page = out / "similarity.html"
    page.write_text(
        f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(lesson)}: similar answers</title>
<style>body{{font-family:sans-serif;margin:2em}} .pair{{display:flex;gap:1em}}
pre{{flex:1;background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:85%}} mark{{background:#ffd54f}}</style>
</head><body><h1>{html.escape(lesson)}: the most similar answers</h1>
<p>Answer cells only; the lesson's starter code never counts. Marked: code the other student's answers also
contain, after renaming is undone. A high share asks for a person's reading: it changes no score.
Every pair is in <a href="similarity.csv">similarity.csv</a>.</p>
{"".join(sections) or "<p>Fewer than two submissions.</p>"}
</body></html>
""",
        encoding="utf-8",
    )
    return table, page

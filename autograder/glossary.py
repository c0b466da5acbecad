"""The course's key terms with their Traditional Chinese names, collected from the lessons.

A lesson gives a key term's Chinese name where it first uses it, in bold:
``**activation function (激活函數)**`` or ``**GRU** (門控遞迴單元)``. `course glossary`
writes docs/glossary.md from the solution notebooks, every lesson links to it, and
tests keep it in step and check that one concept has one name across the course.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import course

HAN = r"[\u3400-\u9fff]"
# **english (中文)** or **english** (中文); the English part may break across lines.
TERM = re.compile(
    rf"\*\*([^*()（）]+?)\s*[(（]([^()（）]*{HAN}[^()（）]*)[)）]\*\*"
    rf"|\*\*([^*()（）]+?)\*\*\s*[(（]([^()（）]*{HAN}[^()（）]*)[)）]"
)
GLOSSARY = Path("docs") / "glossary.md"
# First words that keep their capital in the glossary: people, and Keras's own names.
NAMES = {
    "Dice",
    "Jacobian",
    "Keras",
    "Nesterov",
    "Siamese",
    "Sobel",
    "Dense",
    "Dropout",
    "Embedding",
    "Functional",
    "Sequential",
}


@dataclass(frozen=True)
class Term:
    english: str
    chinese: str
    lesson: str


def _clean(text: str) -> str:
    return " ".join(text.split())


def collect(lessons: list[str] | None = None) -> list[Term]:
    """Every bold term with a Chinese name in the lessons' text, in course order."""
    found = []
    for lesson in lessons or course.lessons():
        nb = nbformat.read(course.solution_notebook(lesson), as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for m in TERM.finditer(cell.source):
                english, chinese = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
                found.append(Term(_clean(english), _clean(chinese), lesson))
    return found


def _stem(word: str) -> str:
    for suffix in ("ing", "ion", "ed", "es", "s", "e"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and not (suffix == "s" and word.endswith("ss")):
            return word[: -len(suffix)][:7]
    return word[:7]


def concept(english: str) -> str:
    """A crude stem, so that "padding" and "padded", "loss" and "losses" meet."""
    return " ".join(_stem(word) for word in re.split(r"[\s-]+", english.lower()) if word)


def conflicts(terms: list[Term]) -> list[str]:
    """Concepts named two ways in Chinese, and Chinese names given to two concepts."""
    chinese_of: dict[str, dict[str, list[str]]] = {}
    english_of: dict[str, dict[str, list[str]]] = {}
    for t in terms:
        chinese_of.setdefault(concept(t.english), {}).setdefault(t.chinese, []).append(f"{t.english} ({t.lesson[:2]})")
        english_of.setdefault(t.chinese, {}).setdefault(concept(t.english), []).append(f"{t.english} ({t.lesson[:2]})")
    found = []
    for names in chinese_of.values():
        if len(names) > 1:
            found.append(
                "one term, several Chinese names: "
                + "; ".join(f"{zh} for {', '.join(where)}" for zh, where in names.items())
            )
    for chinese, concepts in english_of.items():
        if len(concepts) > 1:
            found.append(f"{chinese} names several terms: " + "; ".join(", ".join(w) for w in concepts.values()))
    return found


def _common_case(english: str) -> str:
    """ "Gradient checking" at the start of a sentence is "gradient checking" in a list;
    names (Nesterov, Keras's Dense) keep their capital."""
    word = english.split()[0]
    if word[1:].islower() and word.rstrip("s") not in NAMES:
        return english[0].lower() + english[1:]
    return english


def render(terms: list[Term]) -> str:
    """docs/glossary.md: each term once, where it is introduced, in alphabetical order."""
    first: dict[str, Term] = {}
    for t in terms:
        first.setdefault(concept(t.english), t)
    first = {key: Term(_common_case(t.english), t.chinese, t.lesson) for key, t in first.items()}
    lines = [
        "# Glossary · 詞彙表",
        "",
        "The key terms of the course with their Traditional Chinese names, as each lesson",
        "introduces them. Generated from the lessons by `course glossary`; do not edit.",
        "",
        "| English | 中文 | introduced in |",
        "| --- | --- | --- |",
    ]
    for t in sorted(first.values(), key=lambda t: t.english.lower()):
        lines.append(f"| {t.english} | {t.chinese} | {t.lesson} |")
    return "\n".join(lines) + "\n"


def write(check: bool = False) -> bool:
    """Write docs/glossary.md (or, with check, say whether it is up to date)."""
    path = course.root() / GLOSSARY
    text = render(collect())
    if check:
        return path.is_file() and path.read_text(encoding="utf-8") == text
    path.write_text(text, encoding="utf-8")
    return True

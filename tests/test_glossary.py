"""One name per concept: the lessons' key terms, their Chinese names and docs/glossary.md."""

from pathlib import Path

from conftest import ROOT

from autograder import course, glossary
from autograder.glossary import Term


def test_the_glossary_matches_the_lessons_and_each_concept_has_one_name():
    terms = glossary.collect()
    assert len({glossary.concept(t.english) for t in terms}) > 150
    assert glossary.conflicts(terms) == []
    assert glossary.write(check=True), "docs/glossary.md is out of date: run `course glossary`"


def test_two_names_for_one_concept_or_one_name_for_two_are_found():
    terms = [
        Term("regularization", "正規化", "06"),
        Term("normalization", "正規化", "12"),
        Term("padding", "填補", "08"),
        Term("padded", "填充", "10"),
        Term("custom loss", "自訂損失函數", "01"),
        Term("custom losses", "自訂損失函數", "07"),
    ]
    found = glossary.conflicts(terms)
    assert len(found) == 2, found
    assert any("正規化 names several terms" in f for f in found)
    assert any("填補 for padding (08)" in f and "填充 for padded (10)" in f for f in found)


def test_every_lesson_links_to_the_glossary():
    for lesson in course.lessons():
        intro = course.solution_notebook(lesson).read_text(encoding="utf-8")
        assert "](../../docs/glossary.md)" in intro, lesson
        assert (ROOT / "lessons" / lesson / Path("../../docs/glossary.md")).resolve().is_file()

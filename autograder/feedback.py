"""What students see in their feedback pages."""

import re

from nbgrader.preprocessors.base import NbGraderPreprocessor


class ShortTracebacks(NbGraderPreprocessor):
    """Reduce errors in graded test cells to their message.

    A full traceback quotes the failing line of a hidden test; the message (written
    with course_lib.checks to say what was expected) is what a student can act on.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


# $$display$$, or $inline$ that does not start or end with a space (so "$5 and $6" is text).
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?=\S)(.+?)(?<=\S)(?<!\\)\$(?!\d)", re.S)


def _mathml(match: re.Match) -> str:
    from latex2mathml.converter import convert

    display = match.group(1) is not None
    try:
        return convert(
            (match.group(1) if display else match.group(2)).strip(), display="block" if display else "inline"
        )
    except Exception:  # a construct the converter lacks: the LaTeX stays as it was written
        return match.group(0)


class MathToMathML(NbGraderPreprocessor):
    """Typeset the lessons' LaTeX as MathML, which browsers render by themselves.

    nbconvert's page loads MathJax from a CDN, which never arrives when a feedback page is
    opened offline: the formulas would show as raw LaTeX.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = MATH.sub(_mathml, cell.source)
        return cell, resources

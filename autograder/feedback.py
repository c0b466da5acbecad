"""What students see in their feedback pages."""

import re

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
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


# What nbconvert writes for an image without alt text; kept so that pages read the same.
NO_ALT_TEXT = "No description has been provided for this image"
IMAGE_TYPES = ("image/png", "image/jpeg")


class ImageAltText(NbGraderPreprocessor):
    """Give every image output alt text before the page is rendered (see `FeedbackPage`)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and not cell.metadata.get("alt"):
            for out in cell.get("outputs", []):
                images = [kind for kind in IMAGE_TYPES if kind in out.get("data", {})]
                if not images:
                    continue  # streams and errors have no metadata to add to
                metadata = out.setdefault("metadata", {})
                if not metadata.get("alt") and not any(metadata.get(k, {}).get("alt") for k in images):
                    metadata["alt"] = NO_ALT_TEXT
        return cell, resources


class FeedbackPage(HTMLExporter):
    """nbconvert's HTML page without its second pass over the finished page.

    After rendering, HTMLExporter parses the whole page again with BeautifulSoup and
    writes it out anew, to give images without alt text a placeholder and the cells of
    JupyterLab's template a tabindex: 60 % of the time of a feedback page. nbgrader's
    feedback template is the classic one, which has no JupyterLab cells, and
    `ImageAltText` gives the images their text before rendering, so that pass has nothing
    left to do. The rest is HTMLExporter's own ``from_notebook_node``.
    """

    def from_notebook_node(self, nb, resources=None, **kw):
        info = nb.metadata.get("language_info", {})
        lexer = info.get("pygments_lexer", info.get("name", None))
        self.register_filter(
            "highlight_code", self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        )
        resources = self._init_resources(resources)
        self.register_filter(
            "filter_data_type",
            WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources),
        )
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

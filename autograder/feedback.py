"""What students see in their feedback pages."""
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

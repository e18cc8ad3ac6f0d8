"""nbgrader's autograder, with the score decided outside the student's kernel.

The course's ``nbgrader_config.py`` (written by ``python -m stylelab.course.classroom build-course``)
adds three preprocessors to ``nbgrader autograde`` (:func:`autograde_preprocessors`)::

    GradeOutsideKernel   before Execute      re-check every exercise from the submitted answer
                                             cells' source in a fresh process (:mod:`.grader`);
                                             then snapshot the gradebook, config and package
    ExecuteToTheEnd      nbgrader's Execute  runs the notebook in the student's kernel, whose
                                             checks are only the student's feedback; a kernel
                                             that dies no longer aborts the submission
    ApplyVerdicts        after Execute       put back what the kernel changed (:mod:`.integrity`);
                                             set each autograder cell's output from the outside
                                             verdict: the checker's message, and an error if it
                                             failed, so nbgrader scores it 0 (and a stderr line
                                             printed by a right answer no longer does)
    SaveAutoGrades       nbgrader's own      the scores, from those outputs
    FlagSubmissions      after SaveAutoGrades   flag the submission (the formgrader shows the flag)
                                             and ask for manual grading of the cells concerned,
                                             with the reasons as a comment on the answer cell

A submission is flagged when a cell broke the rules of graded answers, when the grading
process found tampering or ended, when nbgrader alone would have given points that the
grader does not (the check in the student's kernel raised nothing), when the kernel died, or
when it changed files it must not touch. Every flag is also
logged by ``nbgrader autograde``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbclient.exceptions import DeadKernelError
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, SaveAutoGrades
from traitlets import Float

from . import checking
from .grader import Cell, Verdict, grade
from .integrity import Snapshot, sqlite_path
from .registry import EXERCISES

__all__ = ["GradeOutsideKernel", "ExecuteToTheEnd", "ApplyVerdicts", "FlagSubmissions", "autograde_preprocessors"]

_PREFIX = "check_"
_KEY = "stylelab"


def _nbgrader(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) if cell.get("cell_type") == "code" else {}


def exercise_of(grade_id: str) -> Optional[str]:
    """The exercise an autograder cell checks (``check_gram_matrix`` -> ``gram_matrix``), or None."""
    name = grade_id[len(_PREFIX):] if grade_id.startswith(_PREFIX) else None
    return name if name in EXERCISES else None


class GradeOutsideKernel(NbGraderPreprocessor):
    """Before nbgrader runs the notebook: the verdicts, from the answer cells' source, in a fresh process."""

    time_limit = Float(checking.TIME_LIMIT, help="Seconds one call of an answer may take when it is checked "
                       "(a check takes up to three times as long; the grading process is killed after that "
                       "plus a margin).").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> Tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        with Gradebook(info["db_url"]) as gradebook:
            notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
            sources = {cell.name: cell for cell in notebook.source_cells}
            exercises = [e for e in (exercise_of(cell.name) for cell in notebook.grade_cells) if e]
        cells = []
        for cell in nb.cells:
            meta = _nbgrader(cell)
            kept = sources.get(meta.get("grade_id"))
            if kept is None or meta.get("grade"):
                continue  # the student's scratch cells and the autograder cells are not run
            if meta.get("solution"):
                cells.append(Cell(cell.source, "answer", meta["grade_id"]))
            elif kept.locked and kept.cell_type == "code":
                cells.append(Cell(kept.source, "setup", kept.name))  # the instructor's version, not the submitted one
        verdicts = grade(cells, exercises, time_limit=self.time_limit, protected=[coursedir.root]) if exercises else {}
        passed = sum(v.result.passed for v in verdicts.values())
        self.log.info("stylelab graded %s/%s/%s outside the kernel: %d of %d exercises passed", info["student"],
                      info["assignment"], info["notebook"], passed, len(verdicts))
        own = coursedir.format_path(coursedir.autograded_directory, info["student"], info["assignment"])
        snapshot = Snapshot(Path(coursedir.root).resolve(), Path(own).resolve(), sqlite_path(info["db_url"]))
        resources[_KEY] = {"verdicts": verdicts, "snapshot": snapshot}
        return nb, resources


class ExecuteToTheEnd(Execute):
    """nbgrader's Execute, except that a kernel that dies (``os._exit`` in a cell) does not abort the submission:
    the cells it did not run keep no output, and the grader's verdicts still give the scores (and a flag)."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict, km=None) -> Tuple[NotebookNode, ResourcesDict]:
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:
            self.log.warning("the kernel of %s died while the notebook ran", resources["nbgrader"]["student"])
            resources.setdefault(_KEY, {})["kernel_died"] = True
            return nb, resources


def _kernel_would_score(cell: NotebookNode) -> bool:
    """True when nbgrader, from the outputs the student's kernel left in this autograder cell, would have given
    it full points (what plain nbgrader scores: no error, nothing on stderr)."""
    score, points = utils.determine_grade(cell)
    return score is not None and score >= points > 0


def _outputs(verdict: Verdict) -> List[NotebookNode]:
    """The grade cell's outputs for a verdict: its message on stdout, and an error when it failed."""
    result = verdict.result
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{result}\n")]
    if not result.passed:
        value = f"{result.mistake or result.status}: {result.message}"
        outputs.append(nbformat.v4.new_output("error", ename="AssertionError", evalue=value,
                                              traceback=[f"AssertionError: {value}"]))
    return outputs


class ApplyVerdicts(NbGraderPreprocessor):
    """After nbgrader ran the notebook: put back what the kernel changed, and make the verdicts the outputs."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> Tuple[NotebookNode, ResourcesDict]:
        state = resources.get(_KEY)
        if state is None:  # GradeOutsideKernel did not run: nothing to apply
            return nb, resources
        flags: Dict[str, List[str]] = {}
        changed = state["snapshot"].compare(restore=True)
        if changed:
            flags["files"] = [f"the notebook's code changed files outside its folder: {'; '.join(changed[:5])}"]
        if state.get("kernel_died"):
            flags["kernel"] = ["the student's kernel died while nbgrader ran the notebook (os._exit, or a crash)"]
        for cell in nb.cells:
            meta = _nbgrader(cell)
            name = exercise_of(meta.get("grade_id", "")) if meta.get("grade") else None
            verdict = state["verdicts"].get(name) if name else None
            if verdict is None:
                continue
            reasons = list(verdict.flags)
            if _kernel_would_score(cell) and not verdict.result.passed:
                reasons.append(f"nbgrader alone would have given {name} full points (its check in the student's "
                               "kernel raised nothing), but the grader's check of the answer cells says: "
                               f"{verdict.result.mistake}")
            if reasons:
                flags[name] = reasons
            cell.outputs = _outputs(verdict)
        state["flags"] = flags
        for reasons in flags.values():
            self.log.warning("stylelab flags %s/%s/%s: %s", resources["nbgrader"]["student"],
                             resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"], "; ".join(reasons))
        return nb, resources


class FlagSubmissions(NbGraderPreprocessor):
    """After nbgrader saved the scores: flag the submission and ask for manual grading where the grader found reasons."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> Tuple[NotebookNode, ResourcesDict]:
        flags = resources.get(_KEY, {}).get("flags")
        if not flags:
            return nb, resources
        info = resources["nbgrader"]
        answers = self._answer_cells(nb)
        with Gradebook(info["db_url"]) as gradebook:
            submitted = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            submitted.flagged = True
            for name, reasons in flags.items():
                if name not in EXERCISES:  # files, kernel: the whole notebook
                    continue
                grade = gradebook.find_grade(_PREFIX + name, info["notebook"], info["assignment"], info["student"])
                grade.needs_manual_grade = True
                comment = answers.get(name)
                if comment:
                    try:
                        gradebook.find_comment(comment, info["notebook"], info["assignment"], info["student"]).auto_comment = (
                            "Flagged for review by the grader: " + "; ".join(r.rstrip(".") for r in reasons) + ".")
                    except MissingEntry:
                        pass
            gradebook.db.commit()
        return nb, resources

    @staticmethod
    def _answer_cells(nb: NotebookNode) -> Dict[str, str]:
        """``{exercise: grade id of the answer cell that defines it}``."""
        from .policy import defined_names

        found = {}
        for cell in nb.cells:
            meta = _nbgrader(cell)
            if meta.get("solution"):
                for name in defined_names(cell.source):
                    found.setdefault(name, meta["grade_id"])
        return found


def autograde_preprocessors(defaults: Optional[Sequence[type]] = None) -> List[type]:
    """nbgrader's ``Autograde.autograde_preprocessors`` with stylelab's three in their places.

    ``defaults``: the list to start from (default nbgrader's own).
    """
    if defaults is None:
        from nbgrader.converters import Autograde

        defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    if not any(isinstance(p, type) and issubclass(p, Execute) for p in defaults) or SaveAutoGrades not in defaults:
        raise ValueError("nbgrader's autograde preprocessors have changed (no Execute or SaveAutoGrades); "
                         "stylelab's grading was made for nbgrader 0.9.6.")
    result = [ExecuteToTheEnd if isinstance(p, type) and issubclass(p, Execute) else p for p in defaults
              if p not in (GradeOutsideKernel, ApplyVerdicts, FlagSubmissions)]
    execute = result.index(ExecuteToTheEnd)
    result[execute:execute + 1] = [GradeOutsideKernel, ExecuteToTheEnd, ApplyVerdicts]
    result.insert(result.index(SaveAutoGrades) + 1, FlagSubmissions)
    return result

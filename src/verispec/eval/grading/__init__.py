"""Ratings of open-ended answers by a grader model, MT-Bench style: prompts, rater, resumable grading, report."""

from verispec.eval.grading.prompts import Conversation, GradingPrompt, grading_messages, prompt_for
from verispec.eval.grading.rater import Rater, Rating
from verispec.eval.grading.records import GRADES_FILE, GradeRecord, read_grades
from verispec.eval.grading.report import GradeRow, current_grades, grade_rows, grades_markdown
from verispec.eval.grading.runner import GradingJob, GradingPlan, grade, plan_grading

__all__ = [
    "GRADES_FILE",
    "Conversation",
    "GradeRecord",
    "GradeRow",
    "GradingJob",
    "GradingPlan",
    "GradingPrompt",
    "Rater",
    "Rating",
    "current_grades",
    "grade",
    "grade_rows",
    "grades_markdown",
    "grading_messages",
    "plan_grading",
    "prompt_for",
    "read_grades",
]

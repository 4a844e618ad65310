"""Turning a chat model's answer to a coding question into a program; scoring it by running tests.

Chat models answer in many shapes: a fenced block with the whole function (the usual case), the
function plus example usage, several blocks, only the body as a continuation of the prompt, or
a block cut off by the token limit. Like evalplus' sanitizer, we pick the block that defines the
entry point, keep only the top-level definitions (imports, functions, classes and the constants
they use) so example calls, prints and `if __name__ == "__main__":` blocks never run, and cut a
truncated block back to its longest prefix that parses.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

from verispec.eval.execution import ExecutionLimits, run_program
from collections.abc import Sequence

from verispec.eval.tasks.base import Score, SingleTurnTask, TaskItem, first_output

# A fenced block; a block cut off by the token limit has no closing fence and runs to the end.
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_TAGS = {"", "python", "python3", "py"}
# Where code starts in an answer without fences: a definition, an import, or an indented body.
_CODE_START = re.compile(
    r"^(?:(?:async )?def |class |import |from \S+ import |@|[ \t]+\S)", re.M
)
_DEFINITIONS = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
)


@dataclass(frozen=True)
class CodeReference:
    """What it takes to test an answer: run `program + setup + tests`, where the program is
    built from `prompt_code` and the answer (see `build_program`)."""

    entry_point: str  # the function the tests call
    prompt_code: (
        str  # code the answer completes (HumanEval's signature and docstring), or ""
    )
    setup: str  # runs before the tests and may use the program (MBPP's test_setup_code)
    tests: str  # raises when the function is wrong
    solution: str  # the data set's reference solution, to check the harness itself


def code_blocks(text: str) -> list[str]:
    """The Python code blocks of a markdown answer (blocks tagged with another language skipped)."""
    return [body for tag, body in _FENCE.findall(text) if tag.lower() in _PYTHON_TAGS]


def defines(code: str, name: str) -> bool:
    """True when `code` has a line that starts a definition of function `name`."""
    definition = rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\("
    return re.search(definition, code, re.MULTILINE) is not None


def pick_code(text: str, entry_point: str) -> str:
    """The answer's code: the block defining `entry_point`, else the first block, else the text
    from its first line of code on (trailing prose is cut later, by `parse_prefix`)."""
    blocks = code_blocks(text)
    defining = [block for block in blocks if defines(block, entry_point)]
    if defining:
        return defining[0]
    if blocks:
        return blocks[0]
    start = _CODE_START.search(text)
    return text[start.start() :] if start else text


def parse_quietly(source: str) -> ast.Module:
    """`ast.parse` without the warnings (invalid escape sequences) that data sets' code raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def parse_prefix(code: str) -> tuple[str, ast.Module]:
    """The longest prefix of `code`, in whole lines, that parses, with its syntax tree."""
    lines = code.splitlines()
    for end in range(len(lines), 0, -1):
        prefix = "\n".join(lines[:end])
        try:
            return prefix, parse_quietly(prefix)
        except (SyntaxError, ValueError):
            continue
    return "", parse_quietly("")


def sanitize(code: str) -> str:
    """Keep only the top-level imports, functions, classes, and the assignments they depend on."""
    source, tree = parse_prefix(code)
    kept = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
    used = _names_used(kept)
    assignments = [
        node for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
    ]
    # An assignment is kept when a kept node reads its name; repeat, since constants use constants.
    while True:
        new = [a for a in assignments if a not in kept and _assigned_names(a) & used]
        if not new:
            break
        kept += new
        used |= _names_used(new)
    lines = source.splitlines()
    pieces = [
        lines[_first_line(node) - 1 : node.end_lineno]
        for node in tree.body
        if node in kept
    ]
    return "".join(line + "\n" for piece in pieces for line in piece)


def _names_used(nodes: list[ast.stmt]) -> set[str]:
    """Every name read anywhere inside `nodes`."""
    return {
        n.id
        for node in nodes
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _assigned_names(node: ast.Assign | ast.AnnAssign) -> set[str]:
    """The names an assignment binds."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {
        n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)
    }


def _first_line(node: ast.stmt) -> int:
    """The first line of a statement, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def build_program(answer: str, reference: CodeReference) -> str:
    """The program (without setup and tests) that a model's answer stands for.

    A full definition of the entry point is appended to the prompt code, so the prompt's
    imports and helper functions stay available and the answer's definition wins. When there
    is prompt code, anything else is taken as the body that continues it, indented if the
    model did not.
    """
    code = pick_code(answer, reference.entry_point)
    if reference.prompt_code and not defines(code, reference.entry_point):
        return sanitize(reference.prompt_code + _as_body(code))
    return sanitize(reference.prompt_code + "\n\n" + code)


def _as_body(code: str) -> str:
    """`code` indented as a function body, unless it already is."""
    lines = code.strip("\n").splitlines()
    first = next((line for line in lines if line.strip()), "")
    if first.startswith((" ", "\t")):
        return "\n".join(lines) + "\n"
    return "\n".join("    " + line if line.strip() else line for line in lines) + "\n"


def score_code(
    answer: str | None, reference: CodeReference, limits: ExecutionLimits
) -> Score:
    """Run the program built from `answer` against the reference tests."""
    if answer is None:
        return Score(False, None, "no output")
    program = build_program(answer, reference)
    result = run_program("\n".join([program, reference.setup, reference.tests]), limits)
    return Score(result.passed, program, f"{result.status}: {result.reason}")


class ExecutedCodeTask(SingleTurnTask):
    """A code task scored by running the answer against the item's tests (pass@1).

    A stable hash of the task id reserves ``train_fraction`` of the problems for training.
    """

    kind = "code"
    train_fraction = 0.2

    def __init__(self, max_new_tokens: int = 512, timeout_s: float = 10.0) -> None:
        super().__init__()
        self.default_max_new_tokens = max_new_tokens
        self.limits = ExecutionLimits(timeout_s=timeout_s)

    def score(self, item: TaskItem, outputs: Sequence[str]) -> Score:
        """Passed when the program built from the answer passes all the item's tests."""
        return score_code(first_output(outputs), item.reference, self.limits)

    def reference_answer(self, item: TaskItem) -> str | None:
        """The data set's solution as the whole function in one fenced block, as the prompts ask."""
        reference: CodeReference = item.reference
        code = (reference.prompt_code + reference.solution).replace("\r\n", "\n").strip()
        return f"```python\n{code}\n```"

"""Single-token edits of Python source found with `ast`: the bugs a corruption plants.

Each edit swaps one operator (+ and -, and and or), one comparison (< and <=, == and !=, in and
not in) or one constant (off by one, True and False), at an exact character range of the source,
so the edited text differs from the original in that range only. `identifier_mutations` edits
one read of a local name instead: a misspelling ("sum_ofNumbers" for "sum_of_numbers") or the
variable one letter away ("numbers" for "number"), the slips a draft model makes in code that
operator and constant edits never show a judge.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass

from verispec.eval.tasks.code import parse_quietly
from verispec.training.judge.data.records import Span
from verispec.training.judge.data.spans import change_span

# Each operator with the ones it may be swapped for; every swap can be undone by another, so
# a planted bug can also be found again as a repair.
OPERATORS: dict[type[ast.AST], tuple[str, tuple[str, ...]]] = {
    ast.Add: ("+", ("-",)),
    ast.Sub: ("-", ("+",)),
    ast.Mult: ("*", ("+", "**")),
    ast.Div: ("/", ("*", "//")),
    ast.FloorDiv: ("//", ("/", "%")),
    ast.Mod: ("%", ("//",)),
    ast.Pow: ("**", ("*",)),
}
COMPARISONS: dict[type[ast.AST], tuple[str, tuple[str, ...]]] = {
    ast.Lt: ("<", ("<=",)),
    ast.LtE: ("<=", ("<",)),
    ast.Gt: (">", (">=",)),
    ast.GtE: (">=", (">",)),
    ast.Eq: ("==", ("!=",)),
    ast.NotEq: ("!=", ("==",)),
    ast.In: ("in", ("not in",)),
    ast.NotIn: ("not in", ("in",)),
    ast.Is: ("is", ("is not",)),
    ast.IsNot: ("is not", ("is",)),
}
BOOLEANS: dict[type[ast.AST], tuple[str, tuple[str, ...]]] = {
    ast.And: ("and", ("or",)),
    ast.Or: ("or", ("and",)),
}
_INTEGER = re.compile(r"\d+")
_BRACKETS_AND_SPACE = " \t\n\\()"


@dataclass(frozen=True)
class Mutation:
    """Replace `original` at [start, end) of a source by `replacement`."""

    kind: str  # "operator" | "comparison" | "constant" | "identifier"
    start: int
    end: int
    original: str
    replacement: str

    def apply(self, source: str) -> str:
        """`source` with this edit made."""
        assert source[self.start : self.end] == self.original, "mutation applied to another source"
        return source[: self.start] + self.replacement + source[self.end :]

    def planted_span(self, offset: int = 0) -> Span:
        """Where the planted error starts in the edited text (shifted by `offset`)."""
        return change_span(self.replacement, self.start + offset, self.original)

    def repaired_span(self, offset: int = 0) -> Span:
        """Where the error starts in the unedited text, when this edit is the repair."""
        return change_span(self.original, self.start + offset, self.replacement)


def mutations(source: str) -> list[Mutation]:
    """Every single-token edit of `source` this module knows, in source order; [] if it does
    not parse."""
    try:
        tree = parse_quietly(source)
    except (SyntaxError, ValueError):
        return []
    offsets = _Offsets(source)
    found: list[Mutation] = []
    for node in ast.walk(tree):
        found.extend(_node_mutations(node, source, offsets))
    return sorted(found, key=lambda m: (m.start, m.replacement))


def identifier_mutations(source: str) -> list[Mutation]:
    """Edits of each place `source` reads a name it binds (an argument or an assigned variable),
    in source order; [] if it does not parse. Names of fewer than three characters are left alone."""
    try:
        tree = parse_quietly(source)
    except (SyntaxError, ValueError):
        return []
    bound = _bound_names(tree)
    offsets = _Offsets(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in bound and len(node.id) >= 3:
            start, end = offsets.start(node), offsets.end(node)
            if source[start:end] == node.id:
                found += [Mutation("identifier", start, end, node.id, r) for r in _misspellings(node.id, bound)]
    return sorted(found, key=lambda m: (m.start, m.replacement))


def _bound_names(tree: ast.AST) -> set[str]:
    stored = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    return stored | {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}


def _misspellings(name: str, bound: set[str]) -> list[str]:
    """Camel case at the last underscore, two middle letters swapped, and the bound name with or
    without a final "s"."""
    candidates = []
    head, _, tail = name.rpartition("_")
    if head.strip("_") and tail:
        candidates.append(head + tail[0].upper() + tail[1:])
    middle = len(name) // 2
    if len(name) >= 4 and name[middle - 1].isalpha() and name[middle].isalpha() and name[middle - 1] != name[middle]:
        candidates.append(name[: middle - 1] + name[middle] + name[middle - 1] + name[middle + 1 :])
    candidates += [other for other in (name + "s", name[:-1] if name.endswith("s") else "") if other in bound]
    return [c for c in dict.fromkeys(candidates) if c != name and not keyword.iskeyword(c)]


def _node_mutations(node: ast.AST, source: str, offsets: _Offsets) -> list[Mutation]:
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return _between(source, offsets, node.left, node.right, "operator", OPERATORS[type(node.op)])
    if isinstance(node, ast.AugAssign) and type(node.op) in OPERATORS:
        original, replacements = OPERATORS[type(node.op)]
        choices = (original + "=", tuple(r + "=" for r in replacements))
        return _between(source, offsets, node.target, node.value, "operator", choices)
    if isinstance(node, ast.BoolOp):
        choices = BOOLEANS[type(node.op)]
        return [
            m
            for left, right in zip(node.values, node.values[1:])
            for m in _between(source, offsets, left, right, "operator", choices)
        ]
    if isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        return [
            m
            for op, left, right in zip(node.ops, operands, operands[1:])
            for m in _between(source, offsets, left, right, "comparison", COMPARISONS[type(op)])
        ]
    if isinstance(node, ast.Constant):
        return _constant(node, source, offsets)
    return []


def _between(
    source: str, offsets: _Offsets, left: ast.AST, right: ast.AST, kind: str, choices: tuple[str, tuple[str, ...]]
) -> list[Mutation]:
    """The edits of the operator written between two operands (brackets and spaces around it
    allowed; anything else there, such as a comment, and the site is skipped)."""
    region_start, region_end = offsets.end(left), offsets.start(right)
    region = source[region_start:region_end]
    original, replacements = choices
    if region.strip(_BRACKETS_AND_SPACE) != original:
        return []
    start = region_start + region.index(original)
    return [Mutation(kind, start, start + len(original), original, r) for r in replacements]


def _constant(node: ast.Constant, source: str, offsets: _Offsets) -> list[Mutation]:
    start, end = offsets.start(node), offsets.end(node)
    text = source[start:end]
    if isinstance(node.value, bool):
        swapped = {"True": "False", "False": "True"}.get(text)
        return [Mutation("constant", start, end, text, swapped)] if swapped else []
    if isinstance(node.value, int) and _INTEGER.fullmatch(text):
        values = [node.value + 1] + ([node.value - 1] if node.value > 0 else [])
        return [Mutation("constant", start, end, text, str(v)) for v in values]
    return []


class _Offsets:
    """Character offsets of `ast` positions (which count UTF-8 bytes within a line)."""

    def __init__(self, source: str) -> None:
        parts = source.split("\n")  # ast counts lines at "\n" only, unlike str.splitlines
        self.lines = [part + "\n" for part in parts[:-1]] + [parts[-1]]
        self.line_starts = [0]
        for line in self.lines:
            self.line_starts.append(self.line_starts[-1] + len(line))

    def _offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        return self.line_starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "replace"))

    def start(self, node: ast.AST) -> int:
        return self._offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self._offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

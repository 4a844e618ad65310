"""The built-in benchmark prompts: written for verispec, in the style of GSM8K, HumanEval and MT-Bench.

Four math word problems, four code tasks, four open chat requests, and four copy-heavy edits
(the answer repeats most of a text or code given in the prompt, where prompt lookup drafts well). Each is sent as one user
message through the chat template. The warm-up prompt is not part of the set: it only brings every
method's kernels and caches to a steady state before timing starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from verispec.errors import ConfigError

CATEGORIES = ("math", "code", "chat", "copy")


@dataclass(frozen=True)
class BenchPrompt:
    """One benchmark prompt: a stable id, its category and the user message."""

    id: str
    category: str
    text: str

    def messages(self) -> list[dict[str, str]]:
        """The prompt as chat messages (one user turn)."""
        return [{"role": "user", "content": self.text}]


PROMPTS: tuple[BenchPrompt, ...] = (
    BenchPrompt(
        "math-bakery", "math",
        "A bakery sells muffins for $3 each and cookies for $1.50 each. On Saturday it sold 48 muffins "
        "and twice as many cookies. How much money did the bakery make on Saturday? Reason step by step "
        "and give the final answer as a number.",
    ),
    BenchPrompt(
        "math-train", "math",
        "A train leaves at 9:40 in the morning and travels 210 kilometres at an average speed of 84 "
        "kilometres per hour. It then waits 25 minutes at a station. At what time is it ready to leave "
        "the station? Explain each step.",
    ),
    BenchPrompt(
        "math-garden", "math",
        "Maria plants tomatoes in 7 rows of 12 plants. A storm destroys one quarter of the plants, and "
        "each remaining plant gives 9 tomatoes. She keeps 100 tomatoes and sells the rest in boxes of 20. "
        "How many full boxes does she sell? Show your work.",
    ),
    BenchPrompt(
        "math-savings", "math",
        "Tom saves $15 every week. His sister Anna starts with $60 and saves $9 every week. After how "
        "many weeks will Tom have more money saved than Anna? Solve it step by step.",
    ),
    BenchPrompt(
        "code-palindrome", "code",
        "Complete this Python function:\n\n```python\ndef is_palindrome(text: str) -> bool:\n"
        '    """Return True if text reads the same forwards and backwards, ignoring case,\n'
        '    spaces and punctuation."""\n```',
    ),
    BenchPrompt(
        "code-merge-intervals", "code",
        "Write a Python function `merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]` "
        "that merges overlapping closed intervals and returns them sorted by start. Include a docstring "
        "and a short example.",
    ),
    BenchPrompt(
        "code-word-count", "code",
        "Write a Python function that reads a text file and returns the ten most common words with their "
        "counts, ignoring case and punctuation. Use only the standard library.",
    ),
    BenchPrompt(
        "code-binary-search", "code",
        "Complete this Python function:\n\n```python\ndef first_at_least(values: list[int], target: int) -> int:\n"
        '    """Return the index of the first element of the sorted list `values` that is >= target,\n'
        '    or len(values) if there is none. Use binary search."""\n```',
    ),
    BenchPrompt(
        "chat-explain-tides", "chat",
        "Explain to a curious twelve-year-old why the sea has tides, and why there are two high tides "
        "a day in most places.",
    ),
    BenchPrompt(
        "chat-email-deadline", "chat",
        "Write a short, polite email to my team saying that the project deadline moves from Friday to "
        "next Wednesday because a supplier is late, and asking everyone to update their plans.",
    ),
    BenchPrompt(
        "chat-advice-sleep", "chat",
        "I keep waking up tired even after eight hours of sleep. What practical things could I try to "
        "sleep better? Give a few concrete suggestions.",
    ),
    BenchPrompt(
        "chat-compare-languages", "chat",
        "What are the main differences between Python and Rust, and when would you choose one over the "
        "other for a new project?",
    ),
    BenchPrompt(
        "copy-rename", "copy",
        "Rename the variable `total` to `running_sum` everywhere in this function and change nothing else. "
        "Reply with the full function only.\n\n```python\ndef summarize(orders):\n    total = 0\n"
        "    count = 0\n    for order in orders:\n        if order.status != \"paid\":\n            continue\n"
        "        total += order.amount\n        count += 1\n    if count == 0:\n        return None\n"
        "    average = total / count\n    print(f\"{count} paid orders, total {total:.2f}, average {average:.2f}\")\n"
        "    return {\"count\": count, \"total\": total, \"average\": average}\n```",
    ),
    BenchPrompt(
        "copy-spelling", "copy",
        "Correct the spelling mistakes in this paragraph and reply with the corrected paragraph only:\n\n"
        "Every morning the old fisherman walkd down to the harbour before sunrise. He checkd his nets, "
        "repaird the smal holes with a needle his father had given him, and pushed his boat into the "
        "calm watter. By the time the town woke up he was already far from the coast, listening to the "
        "gulls and waiting pacently for the first catch of the day.",
    ),
    BenchPrompt(
        "copy-table", "copy",
        "Turn this list into a markdown table with the columns City, Country and Population, keeping "
        "the order:\n\n- Lagos, Nigeria, 15.4 million\n- Lima, Peru, 10.9 million\n- Osaka, Japan, 19.1 million\n"
        "- Cairo, Egypt, 21.3 million\n- Madrid, Spain, 6.7 million\n- Toronto, Canada, 6.2 million",
    ),
    BenchPrompt(
        "copy-type-hints", "copy",
        "Add type hints to every function below and change nothing else; reply with the code only.\n\n"
        "```python\ndef parse_line(line, sep):\n    parts = line.strip().split(sep)\n    return [p.strip() for p in parts]\n\n\n"
        "def load_rows(path, sep=\",\"):\n    with open(path) as handle:\n        return [parse_line(line, sep) for line in handle if line.strip()]\n\n\n"
        "def column(rows, index):\n    return [row[index] for row in rows if len(row) > index]\n```",
    ),
)

WARMUP_PROMPT = BenchPrompt("warmup", "warmup", "Name three colours of the rainbow and one fruit of each colour.")


def select_prompts(
    prompts: Sequence[BenchPrompt] = PROMPTS, *, categories: Sequence[str] = (), limit: int | None = None
) -> list[BenchPrompt]:
    """The prompts of the given categories (all when empty), at most ``limit`` of them.

    Prompts come round-robin across categories (math, code, chat, math, ...), so a small limit
    still covers each kind.
    """
    unknown = sorted(set(categories) - {p.category for p in prompts})
    if unknown:
        known = ", ".join(sorted({p.category for p in prompts}))
        raise ConfigError(f"unknown prompt categories: {', '.join(unknown)}; known: {known}")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    return _round_robin([p for p in prompts if not categories or p.category in categories])[:limit]


def _round_robin(prompts: Sequence[BenchPrompt]) -> list[BenchPrompt]:
    """Interleave categories (math, code, chat, math, ...), keeping order within each category."""
    groups: dict[str, list[BenchPrompt]] = {}
    for prompt in prompts:
        groups.setdefault(prompt.category, []).append(prompt)
    ordered: list[BenchPrompt] = []
    for i in range(max((len(g) for g in groups.values()), default=0)):
        ordered.extend(g[i] for g in groups.values() if i < len(g))
    return ordered

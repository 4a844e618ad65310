"""The prompts and configurations of the greedy equality proofs on the real Qwen pair (torch fp32 and llama.cpp).

The full matrix (every prompt with every configuration) runs with ``make proofs``; the test
suite runs a few of its pairs (those outside them are marked ``proof``).
"""

from __future__ import annotations

import pytest

MAX_NEW_TOKENS = 128

PROMPTS = {
    "math": "A baker makes 24 muffins and sells them in boxes of 4. Each box costs $6. How much money does he make?",
    "algebra": "Solve 3x + 7 = 22 for x. Show each step.",
    "code": "Write a Python function `is_palindrome(s)` that ignores case and non-letters.",
    "chat": "Give three tips for writing a clear email to a busy colleague.",
    # Copy-heavy: most of the answer repeats the prompt, where prompt lookup drafts well.
    "copy-code": (
        "Rename the function below to `sum_two` and change nothing else; reply with the code only.\n\n"
        "```python\ndef add_numbers(first_number, second_number):\n    total = first_number + second_number\n"
        "    print(f\"The total of {first_number} and {second_number} is {total}\")\n    return total\n```"
    ),
    "copy-text": (
        "Correct the spelling mistakes in this paragraph and reply with the corrected paragraph only:\n\n"
        "The quick brown fox jumpd over the lazy dog. Afterwards, the fox ran into the forrest and hid behind "
        "an old oak tree until the sun went down, when it finaly walked back to its den near the river."
    ),
}

COPY_HEAVY = {"copy-code", "copy-text"}

# (method, least acceptance rate, least committed tokens per verifier pass) over a whole run, set
# at about half to two-thirds of the lowest value measured over these prompts. Gamma 8 turns the confidence stop off
# (stop_below=0) so that 8-token drafts really are verified; its acceptance rate is lower.
# Prompt lookup's figures apply to the copy-heavy prompts; elsewhere it only has to keep some drafts.
CONFIGS = {
    "model-gamma1": ("sd:gamma=1", 0.35, 1.3),
    "model-gamma4": ("sd:gamma=4", 0.35, 1.8),
    "model-gamma8": ("sd:gamma=8,stop_below=0", 0.15, 1.8),
    "model-adaptive": ("sd:adaptive=true", 0.35, 1.8),
    "lookup-gamma1": ("sd:drafter=lookup,gamma=1", 0.5, 1.4),
    "lookup-gamma4": ("sd:drafter=lookup,gamma=4", 0.5, 2.0),
    "lookup-gamma8": ("sd:drafter=lookup,gamma=8", 0.4, 2.0),
    "lookup-adaptive": ("sd:drafter=lookup,adaptive=true", 0.5, 2.0),
}


def matrix(in_suite: set[tuple[str, str]]) -> list:
    """Every (prompt, configuration) pair; those not ``in_suite`` are marked ``proof``."""
    return [
        pytest.param(prompt, config, id=f"{prompt}-{config}", marks=() if (prompt, config) in in_suite else pytest.mark.proof)
        for config in CONFIGS
        for prompt in PROMPTS
    ]


def first_difference(got: list[int], expected: list[int]) -> int:
    """The index of the first token where two outputs differ (the shorter length if one is a prefix)."""
    return next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))

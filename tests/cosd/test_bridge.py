"""The token bridge on two tiny byte-level tokenizers and on the real SmolLM2, Qwen and Gemma tokenizers.

For awkward text (indentation with tabs and spaces, accents, CJK, emoji with modifiers, numbers,
runs of spaces) cut into committed and drafted parts at every kind of boundary: the assistant's
tokens that are compared begin inside the drafted text and decode to exactly the text before
them, and after a replacement the draft's ids decode to exactly the kept text plus the replacement.
"""

import pytest
from cosd_models import merged_tokenizer, real_tokenizer
from tiny_models import byte_tokenizer

from verispec.cosd.bridge import (
    added_text,
    clean,
    decode,
    encode,
    positions_from,
    reencode_after,
    text_boundary,
)

AWKWARD = {
    "code": "def f(x):\n\tif x:\n        return  x  # tab, 8 spaces\n\n\n    pass\n",
    "unicode": "naïve café, Grüße — 日本語のテキスト, Ελληνικά, ﬁ ligature",
    "emoji": "ok 😀👍🏽 family: 👨‍👩‍👧 flag 🇫🇷 end",
    "numbers": "12345.678 + 1,000,000 = -3e10; 0x1F, 3/4, 1st 2nd",
    "spaces": "a  b   c\t \td\n \n  \ne    ",
}
REPLACEMENT = " é😀x"  # a replacement that itself has multi-byte characters


def check_bridge(draft, assistant, text, *, splits=8):
    """The bridge invariants for ``text`` cut after several of the draft's tokens."""
    draft_ids = encode(draft, text)
    assert decode(draft, draft_ids) == text
    cuts = [n for n in range(len(draft_ids) + 1) if text_boundary(draft, draft_ids[:n])[1]]
    step = max(1, len(cuts) // splits)
    for n in cuts[::step]:
        committed, drafted = draft_ids[:n], draft_ids[n:]
        base = len(decode(draft, committed))
        assert clean(decode(draft, committed + drafted)) == text
        assistant_ids = encode(assistant, text)
        positions = positions_from(assistant, assistant_ids, base)
        starts = [p.start for p in positions]
        assert starts == sorted(set(starts)) and all(s >= base for s in starts)
        for p in positions:
            assert decode(assistant, assistant_ids[: p.index]) == text[: p.start]
        for p in positions[:: max(1, len(positions) // 4)]:
            keep, tail = reencode_after(draft, committed, drafted, p.start - base, REPLACEMENT)
            assert decode(draft, committed + drafted[:keep] + tail) == text[: p.start] + REPLACEMENT
            assert len(decode(draft, committed + drafted[:keep])) <= p.start


@pytest.mark.parametrize("name", AWKWARD)
@pytest.mark.parametrize("direction", ["byte->merged", "merged->byte"])
def test_bridge_between_two_tiny_tokenizers(name, direction):
    draft, assistant = byte_tokenizer(), merged_tokenizer()
    if direction == "merged->byte":
        draft, assistant = assistant, draft
    check_bridge(draft, assistant, AWKWARD[name])


def test_positions_skip_tokens_that_straddle_the_boundary_or_start_inside_a_character():
    merged = merged_tokenizer()
    text = "say the 😀 x"
    ids = encode(merged, text)
    assert "Ġthe" in merged.convert_ids_to_tokens(ids)
    # From offset 5 (inside " the", one token): the first compared token is the space after it.
    positions = positions_from(merged, ids, 5)
    assert [p.start for p in positions] == [7, 8, 9, 10]
    # The emoji is three tokens (ðŁ, ĺ, Ģ); only the first begins on a whole character.
    assert merged.convert_ids_to_tokens([ids[p.index] for p in positions]) == ["Ġ", "ðŁ", "Ġ", "x"]


def test_added_text_of_a_token_that_ends_inside_a_character():
    merged = merged_tokenizer()
    prefix = encode(merged, "hi ")
    first_bytes = merged.convert_tokens_to_ids("ðŁ")
    assert added_text(merged, prefix, [first_bytes]) == ("", False)
    rest = encode(merged, "😀")[1:]
    assert added_text(merged, prefix, [first_bytes, *rest]) == ("😀", True)


def test_reencoding_after_a_replacement_merges_the_word_it_completes():
    merged = merged_tokenizer()
    committed = encode(merged, "say")
    drafted = [merged.convert_tokens_to_ids(t) for t in ["Ġ", "t", "h", "i"]]  # " thi", spelled oddly
    keep, tail = reencode_after(merged, committed, drafted, 3, "e")  # keep " th", replace "i" by "e"
    assert decode(merged, committed + drafted[:keep] + tail) == "say the"
    assert merged.convert_ids_to_tokens(drafted[:keep] + tail) == ["Ġ", "t", "he"]


REAL_PAIRS = [
    ("smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"),
    ("qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"),
    ("gemma-3-270m", "qwen2.5-coder-0.5b-instruct"),
    ("qwen2.5-coder-0.5b-instruct", "gemma-3-270m"),
]


@pytest.mark.integration
@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct", "gemma-3-270m"])
def test_real_tokenizers_round_trip_awkward_text(name):
    tokenizer = real_tokenizer(name)
    for text in [*AWKWARD.values(), REPLACEMENT, " leading space", "trailing  "]:
        assert decode(tokenizer, encode(tokenizer, text)) == text


@pytest.mark.integration
@pytest.mark.parametrize(("draft", "assistant"), REAL_PAIRS, ids=[f"{d}->{a}" for d, a in REAL_PAIRS])
@pytest.mark.parametrize("name", AWKWARD)
def test_bridge_between_real_tokenizers(draft, assistant, name):
    check_bridge(real_tokenizer(draft), real_tokenizer(assistant), AWKWARD[name], splits=5)

"""The one per-token text tracker: pieces follow the text exactly through cut characters, held-back
stop strings and the end, and a released token is never taken back."""

from __future__ import annotations

from tiny_models import byte_tokenizer
from verispec.text import TextTracker, token_pieces


def stream(tokenizer, tokens: list[int], chunk: int, stop: tuple[str, ...] = ()):
    """Feed ``tokens`` in chunks as the pipeline does; the updates (released tokens and pieces) and the tracker."""
    tracker = TextTracker(tokenizer, stop)
    updates = []
    for start in range(0, len(tokens), chunk):
        updates.append(tracker.add(tokens[start : start + chunk]))
        released = [t for u in updates for t in u.tokens]
        assert released == tracker.tokens[: len(released)]  # released tokens stay committed
        if updates[-1].stopped:
            break
    updates.append(tracker.finish())
    return updates, tracker


def released(updates):
    return [t for u in updates for t in u.tokens], [p for u in updates for p in u.pieces]


def test_multibyte_characters_go_to_the_token_that_completes_them():
    tokenizer = byte_tokenizer()
    tokens = tokenizer("héllo → wörld €", add_special_tokens=False)["input_ids"]
    for chunk in (1, 2, 3, 7):
        updates, tracker = stream(tokenizer, tokens, chunk)
        ids, pieces = released(updates)
        assert ids == tokens and pieces == tracker.pieces == token_pieces(tokenizer, tokens)
        assert "".join(pieces) == "".join(u.text for u in updates) == "héllo → wörld €"
        # A token that ends inside a character adds nothing; the one that completes it carries it.
        assert pieces[1:3] == ["", "é"]


def test_tokens_wait_for_held_back_text_and_are_cut_at_a_stop_string():
    tokenizer = byte_tokenizer()
    tokens = tokenizer("one two three four", add_special_tokens=False)["input_ids"]
    for chunk in (1, 3, 5):
        updates, tracker = stream(tokenizer, tokens, chunk, stop=("three",))
        ids, pieces = released(updates)
        assert updates[-2].stopped and "".join(pieces) == tracker.text == "one two "
        assert ids == tracker.tokens == tokens[:8]


def test_a_stop_string_inside_a_token_clips_that_tokens_piece():
    tokenizer = byte_tokenizer()
    tokens = tokenizer("ab", add_special_tokens=False)["input_ids"]
    tracker = TextTracker(tokenizer, stop=("b",))
    tracker.add(tokens)
    assert tracker.text == "a" and tracker.tokens == tokens[:1]


def test_a_token_without_text_waits_for_the_next_one():
    """The first byte of "é" adds no text; were it released, a stop string starting at "é" could not take it back."""
    tokenizer = byte_tokenizer()
    tokens = tokenizer("aé", add_special_tokens=False)["input_ids"]
    tracker = TextTracker(tokenizer)
    assert tracker.add(tokens[:2]).tokens == tokens[:1]
    assert tracker.add(tokens[2:]).tokens == tokens[1:]


def test_an_unfinished_character_at_the_end_stays_with_the_last_token():
    tokenizer = byte_tokenizer()
    tokens = tokenizer("a€", add_special_tokens=False)["input_ids"][:-1]  # the euro sign cut after two bytes
    tracker = TextTracker(tokenizer)
    assert tracker.add(tokens).pieces == ["a"]
    end = tracker.finish()
    assert end.tokens == tokens[1:] and end.pieces == ["", "\ufffd"]

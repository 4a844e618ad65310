"""Per-token pieces follow the streamed text exactly: cut characters, held-back stop strings, the end."""

from __future__ import annotations

from tiny_models import byte_tokenizer
from verispec.provenance import Provenance
from verispec.server.pieces import PieceTracker
from verispec.text import TextTracker, token_pieces

EXACT, BONUS = Provenance.EXACT, Provenance.BONUS


def stream(tokenizer, tokens: list[int], chunk: int, stop: tuple[str, ...] = ()) -> tuple[list[str], list]:
    """Feed ``tokens`` in chunks as the pipeline does; the streamed texts and the pieces released with each."""
    text, pieces = TextTracker(tokenizer, stop), PieceTracker(tokenizer)
    streamed, released = [], []
    for start in range(0, len(tokens), chunk):
        before = len(text.tokens)
        update = text.add(tokens[start:start + chunk])
        new = text.tokens[before:]
        streamed.append(update.text)
        released.append(pieces.add(update.text, new, [EXACT] * len(new)))
        assert "".join(streamed).startswith("".join(p.text for group in released for p in group))
        if update.stopped:
            break
    streamed.append(text.finish())
    released.append(pieces.finish(streamed[-1]))
    return streamed, [p for group in released for p in group]


def test_multibyte_characters_go_to_the_token_that_completes_them():
    tokenizer = byte_tokenizer()
    tokens = tokenizer("héllo → wörld €", add_special_tokens=False)["input_ids"]
    for chunk in (1, 2, 3, 7):
        streamed, pieces = stream(tokenizer, tokens, chunk)
        assert [p.text for p in pieces] == token_pieces(tokenizer, tokens)
        assert "".join(p.text for p in pieces) == "".join(streamed) == "héllo → wörld €"
        assert [p.id for p in pieces] == tokens


def test_pieces_wait_for_held_back_text_and_are_clipped_at_a_stop_string():
    tokenizer = byte_tokenizer()
    tokens = tokenizer("one two three four", add_special_tokens=False)["input_ids"]
    streamed, pieces = stream(tokenizer, tokens, 3, stop=("three",))
    assert "".join(streamed) == "one two "
    assert "".join(p.text for p in pieces) == "one two "


def test_an_unfinished_character_at_the_end_stays_with_the_last_token():
    tokenizer = byte_tokenizer()
    tokens = tokenizer("a€", add_special_tokens=False)["input_ids"][:-1]  # the euro sign cut after two bytes
    tracker = PieceTracker(tokenizer)
    assert [p.text for p in tracker.add("a", tokens, [EXACT, EXACT, BONUS], ["draft", "draft", "assistant1"])] == ["a"]
    rest = tracker.finish(tokenizer.decode(tokens)[1:])
    assert [(p.text, p.provenance, p.author) for p in rest] == [("", EXACT, "draft"), ("\ufffd", BONUS, "assistant1")]

"""Turning committed tokens into text, one piece per token: stable streaming and stop strings.

This is the one place that decides which text each token adds. The streamed chunks, the final
text, the token view of the CLI, the server and the evaluation harness all read its pieces, so
joined pieces always equal the text and a token is streamed together with its own text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

INCOMPLETE = "\ufffd"  # what a tokenizer prints for a cut multi-byte character


@dataclass(frozen=True)
class TextUpdate:
    """Tokens that became final with the latest add, their text pieces, and whether a stop string ended generation."""

    tokens: list[int]
    pieces: list[str]
    stopped: bool = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class TextTracker:
    """Follows the generated tokens, releases them with their text once it cannot change, finds stop strings.

    A token's piece is the text that decoding the tokens up to it adds to decoding the tokens
    before it (whole prefixes are decoded: some tokenizers change the text before a token). A
    token that ends inside a multi-byte character gets an empty piece; the one that completes the
    character carries it. Tokens are held back while their text could still change: it ends in
    a cut character, or could be the start of a stop string. So a released token is never taken
    back, and a stop string is cut out together with the tokens that wrote it.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: Sequence[str] = ()) -> None:
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.tokens: list[int] = []
        self.pieces: list[str] = []
        self._released = 0
        self._decoded = ""  # the text of every token with a piece so far
        self._holdback = max((len(s) - 1 for s in self.stop), default=0)
        self._stopped = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def add(self, tokens: Sequence[int]) -> TextUpdate:
        """Take newly committed tokens; release those whose text is final (all before a stop string)."""
        for token in tokens:
            self.tokens.append(int(token))
            self.pieces.append(self._piece())
        cut = self._find_stop()
        if cut is not None:
            self._cut_at(cut)
            self._stopped = True
            return self._release(len(self.tokens), stopped=True)
        return self._release(self._stable_tokens())

    def finish(self) -> TextUpdate:
        """Release every token still held (at the end nothing can change); a trailing cut character stays visible."""
        decoded = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if self.tokens and not self._stopped and len(decoded) > len(self._decoded):
            self.pieces[-1] += decoded[len(self._decoded) :]
            self._decoded = decoded
        return self._release(len(self.tokens))

    def _piece(self) -> str:
        decoded = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if decoded.endswith(INCOMPLETE):
            return ""
        piece, self._decoded = decoded[len(self._decoded) :], decoded
        return piece

    def _stable_tokens(self) -> int:
        """How many leading tokens have text that no later token or stop string can change."""
        room = len(self.text) - self._holdback
        count, end = 0, 0
        for piece in self.pieces:
            if end + len(piece) > room:
                break
            end += len(piece)
            count += 1
        # Tokens without text of their own wait for the next token with text: they may end inside
        # a character that it completes, and a stop string may start right there.
        while count and self.pieces[count - 1] == "":
            count -= 1
        return count

    def _find_stop(self) -> int | None:
        text = self.text
        start = max(0, sum(len(p) for p in self.pieces[: self._released]) - self._holdback)
        hits = [i for i in (text.find(s, start) for s in self.stop) if i >= 0]
        return min(hits) if hits else None

    def _cut_at(self, length: int) -> None:
        """Keep the fewest leading tokens whose text reaches ``length`` characters, the last one clipped."""
        end = 0
        for index, piece in enumerate(self.pieces):
            if end >= length:
                del self.tokens[index:], self.pieces[index:]
                return
            if end + len(piece) >= length:
                del self.tokens[index + 1 :], self.pieces[index + 1 :]
                self.pieces[index] = piece[: length - end]
                return
            end += len(piece)

    def _release(self, upto: int, *, stopped: bool = False) -> TextUpdate:
        upto = max(upto, self._released)
        update = TextUpdate(self.tokens[self._released : upto], self.pieces[self._released : upto], stopped)
        self._released = upto
        return update


def token_pieces(tokenizer: PreTrainedTokenizerBase, tokens: Sequence[int]) -> list[str]:
    """The text each token adds, so that ``"".join(pieces)`` is the decoded text (see :class:`TextTracker`)."""
    tracker = TextTracker(tokenizer)
    tracker.add(tokens)
    tracker.finish()
    return tracker.pieces

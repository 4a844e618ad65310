"""Per-token text for the provenance view, kept in step with the streamed text."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import repeat

from transformers import PreTrainedTokenizerBase

from verispec.provenance import Provenance

_INCOMPLETE = "\ufffd"  # what a tokenizer prints for a cut multi-byte character


@dataclass(frozen=True)
class TokenPiece:
    """One committed token: its id, the text it adds, why it was committed, and (collaborative methods) who wrote it."""

    id: int
    text: str
    provenance: Provenance
    author: str | None = None


class PieceTracker:
    """Splits the generated text into per-token pieces and releases them as the text is streamed.

    The pipeline holds text back (a possible stop string, a cut character), so a token's piece is
    released only once the streamed text covers it; at the end, pieces beyond the final text (cut
    by a stop string) are clipped. Joined, the released pieces always equal the streamed text.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self._tokenizer = tokenizer
        self._tokens: list[int] = []
        self._decoded = ""  # text of the tokens up to the last settled one
        self._held: list[TokenPiece] = []  # tokens ending inside a character, without their text yet
        self._pending: deque[TokenPiece] = deque()  # settled pieces the streamed text does not cover yet
        self._streamed = 0
        self._released = 0

    def add(
        self, text: str, token_ids: Sequence[int], provenance: Sequence[Provenance],
        authors: Sequence[str] | None = None,
    ) -> list[TokenPiece]:
        """Record a chunk (its streamed ``text`` and new tokens); return the pieces now covered."""
        for token, source, author in zip(token_ids, provenance, authors or repeat(None)):
            self._tokens.append(token)
            self._held.append(TokenPiece(token, "", source, author))
            # Decoding the whole prefix (as TextTracker does) keeps pieces exact for tokenizers whose
            # tokens change the text before them (SentencePiece spaces, byte fallback).
            decoded = self._tokenizer.decode(self._tokens, skip_special_tokens=True)
            if not decoded.endswith(_INCOMPLETE):
                self._settle(decoded)
        self._streamed += len(text)
        return self._release(clip=False)

    def finish(self, text: str) -> list[TokenPiece]:
        """Record the last streamed ``text``; return every remaining piece, clipped to the final text."""
        if self._held:
            self._settle(self._tokenizer.decode(self._tokens, skip_special_tokens=True))
        self._streamed += len(text)
        return self._release(clip=True)

    def _settle(self, decoded: str) -> None:
        """Give the held tokens their text: all of it to the last one, as :func:`verispec.text.token_pieces` does."""
        *before, last = self._held
        self._pending.extend(before)
        self._pending.append(replace(last, text=decoded[len(self._decoded):]))
        self._decoded = decoded
        self._held.clear()

    def _release(self, *, clip: bool) -> list[TokenPiece]:
        out: list[TokenPiece] = []
        while self._pending:
            piece = self._pending[0]
            room = self._streamed - self._released
            if len(piece.text) > room:
                if not clip:
                    break
                piece = replace(piece, text=piece.text[:room])
            self._pending.popleft()
            self._released += len(piece.text)
            out.append(piece)
        return out

"""Per-token text for the provenance view: each streamed chunk's tokens with the text each adds."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

from verispec.pipeline import StreamChunk
from verispec.provenance import Provenance


@dataclass(frozen=True)
class TokenPiece:
    """One committed token: its id, the text it adds, why it was committed, and (collaborative methods) who wrote it."""

    id: int
    text: str
    provenance: Provenance
    author: str | None = None


def chunk_pieces(chunk: StreamChunk) -> list[TokenPiece]:
    """The chunk's tokens with their pieces (the pipeline's text tracker made them: joined, they are the chunk's text)."""
    authors = chunk.authors or repeat(None)
    return [TokenPiece(*fields) for fields in zip(chunk.token_ids, chunk.pieces, chunk.provenance, authors)]

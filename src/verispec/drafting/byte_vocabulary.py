"""What each token of a tokenizer spells, byte for byte: the common ground of two vocabularies.

Two tokenizers agree on text, not on ids, and text is bytes before it is characters: a byte-level
token can end inside a multi-byte character. So a draft of another tokenizer talks to the verifier
in bytes. A :class:`ByteVocabulary` knows every token's bytes (byte-level BPE as in GPT-2, Qwen,
Llama 3 and SmolLM; SentencePiece with byte fallback as in Gemma), turns bytes back into token ids
(whole characters through the tokenizer itself, stray bytes of a cut character as byte tokens), and
checks on construction that it spells text exactly, so a tokenizer it cannot read fails loudly.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase

from verispec.errors import VocabularyMismatchError

_SENTENCEPIECE_SPACE = "\u2581"
_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
# Spaces, indentation, digits, accents, a 4-byte emoji and CJK: what a bridge must spell exactly.
_SELF_CHECK = "Hello world\n    x = 12 * 3.5;\té café 😀 漢字  end"


@functools.cache
def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-in character for each byte, reversed: character → byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    stand_in, extra = {b: b for b in printable}, 0
    for b in range(256):
        if b not in stand_in:
            stand_in[b] = 256 + extra
            extra += 1
    return {chr(c): b for b, c in stand_in.items()}


class ByteVocabulary:
    """Every token's bytes for one tokenizer, and bytes back to its token ids.

    ``size`` is the model's output width, which may exceed the tokenizer (padded embeddings); the
    ids past the tokenizer spell nothing. Special tokens spell nothing either: they are not text.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, size: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.size = max(size or 0, len(tokenizer))
        self.special_ids = frozenset(tokenizer.all_special_ids)
        self.spellings = _spellings(tokenizer, self.size, self.special_ids)
        self.byte_ids = _byte_tokens(self.spellings)
        self._check()

    def spell(self, ids: Sequence[int]) -> bytes:
        """The bytes ``ids`` stand for."""
        return b"".join(self.spellings[i] if 0 <= i < self.size else b"" for i in ids)

    def encode(self, data: bytes) -> list[int]:
        """Token ids that spell ``data`` exactly, or a prefix of it where a stray byte has no token.

        Whole characters go through the tokenizer (its own merges); bytes of a character cut at
        either end become byte tokens.
        """
        head, tail = _whole_span(data)
        ids = self._bytes(data[:head])
        if len(ids) < head:
            return ids
        ids += self._text(data[head:tail].decode("utf-8"))
        rest = self._bytes(data[tail:])
        return ids + rest

    def _bytes(self, data: bytes) -> list[int]:
        ids = []
        for b in data:
            if b not in self.byte_ids:
                break
            ids.append(self.byte_ids[b])
        return ids

    def _text(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    def _check(self) -> None:
        spelled = self.spell(self._text(_SELF_CHECK))
        if spelled != _SELF_CHECK.encode():
            raise VocabularyMismatchError(
                f"cannot bridge the tokenizer of {self.tokenizer.name_or_path!r}: its tokens do not spell text "
                f"byte for byte ({_SELF_CHECK!r} came back as {spelled!r}); a draft of another tokenizer needs "
                "byte-level BPE or SentencePiece with byte fallback. Use a draft with the verifier's tokenizer, "
                "drafter=lookup, or a CoSD method."
            )


def _spellings(tokenizer: PreTrainedTokenizerBase, size: int, special_ids: frozenset[int]) -> list[bytes]:
    """The bytes of every id below ``size``."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    byte_level = _is_byte_level(tokenizer)
    spell = _byte_level_spelling if byte_level else _sentencepiece_spelling
    spellings = [b"" if i in special_ids or piece is None else spell(piece) for i, piece in enumerate(pieces)]
    return spellings + [b""] * (size - len(spellings))


def _is_byte_level(tokenizer: PreTrainedTokenizerBase) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend is not None and "ByteLevel" in repr(backend.decoder)


def _byte_level_spelling(piece: str) -> bytes:
    alphabet = _byte_level_alphabet()
    if all(ch in alphabet for ch in piece):
        return bytes(alphabet[ch] for ch in piece)
    return piece.encode()  # an added token, kept as written


def _sentencepiece_spelling(piece: str) -> bytes:
    match = _BYTE_PIECE.match(piece)
    if match:
        return bytes([int(match.group(1), 16)])
    return piece.replace(_SENTENCEPIECE_SPACE, " ").encode()


def _byte_tokens(spellings: list[bytes]) -> dict[int, int]:
    """For each byte, a token that spells exactly that byte (the first one found)."""
    found: dict[int, int] = {}
    for i, spelled in enumerate(spellings):
        if len(spelled) == 1 and spelled[0] not in found:
            found[spelled[0]] = i
    return found


def _whole_span(data: bytes) -> tuple[int, int]:
    """Where the whole characters of ``data`` begin and end: continuation bytes at the start and
    an unfinished character at the end lie outside."""
    head = 0
    while head < len(data) and data[head] & 0xC0 == 0x80:
        head += 1
    tail = len(data)
    for back in range(1, min(4, len(data) - head) + 1):
        lead = data[len(data) - back]
        if lead & 0xC0 == 0x80:
            continue
        width = 2 if lead & 0xE0 == 0xC0 else 3 if lead & 0xF0 == 0xE0 else 4 if lead & 0xF8 == 0xF0 else 1
        tail = len(data) - back if width > back else len(data)
        break
    while True:  # anything still invalid inside (a lone stray byte) ends the whole span there
        try:
            data[head:tail].decode("utf-8")
            return head, tail
        except UnicodeDecodeError as err:
            tail = head + err.start


def whole_prefix(data: bytes) -> int:
    """Length of the longest prefix of ``data`` that ends on a whole character (data starts on one)."""
    return _whole_span(data)[1] if data else 0

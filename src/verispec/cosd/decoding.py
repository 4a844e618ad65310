"""What every collaborative round strategy shares: its models, their prompts and caches, and a round's commit.

A collaborative method (CoSD, Avg decoding, the deferral baseline) is a round strategy of the
one :class:`~verispec.engine.Engine` loop, like speculative decoding. It only says what one round
commits. The committed output is kept as the first model's (the draft's) token ids, which always
decode to the committed text: the draft writes, and what others write is re-encoded for it. So
the loop's token budget counts draft tokens, and its text tracker, stop strings, provenance and
statistics work exactly as for every other method. Model ``k`` sits in the engine's seat ``k``
(0 the draft, 1 the verifier as assistant 1, then extra assistants), and a token's author is
the seat of the model that wrote it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from verispec.cosd.bridge import clean, decode
from verispec.cosd.members import Member
from verispec.cosd.trained import model_roles
from verispec.engine import RoundOutcome, RoundStrategy
from verispec.errors import PromptError
from verispec.provenance import Provenance
from verispec.sampling import SamplingParams
from verispec.tokens import Prompt, is_token_ids


@dataclass(frozen=True)
class Commit:
    """What one round adds: draft-vocabulary ids, who wrote each and why, and how many were drafted."""

    token_ids: list[int]
    authors: list[int]
    provenance: list[Provenance]
    ended: bool
    drafted: int = 0


@dataclass(frozen=True)
class Segment:
    """A piece of one round's text written by one model (``author`` is its seat), and why it is there."""

    text: str
    author: int
    provenance: Provenance


@dataclass
class Generation:
    """The state of one generation that rounds read: sampling, its random generator, committed draft ids."""

    params: SamplingParams
    generator: torch.Generator | None
    committed: list[int] = field(default_factory=list)


class FusionRounds(RoundStrategy):
    """A round strategy over ``members`` (member 0, the draft, writes the output ids).

    Each member reads the prompt with its own tokenizer (:meth:`read_prompt`) before the engine
    runs; the engine's context is the draft's prompt ids followed by the committed ids.
    """

    members: list[Member]
    end_ids: frozenset[int]
    """Draft ids that end the output (with one shared vocabulary, any member's end or special token)."""

    def _seat(self, members: list[Member], *, shared_vocabulary: bool) -> None:
        self.members = members
        self.seats = tuple(m.backend for m in members)
        ends = [m.end_ids for m in (members if shared_vocabulary else members[:1])]
        self.end_ids = frozenset().union(*ends)

    @property
    def roles(self) -> list[str]:
        return model_roles(len(self.members) - 1)

    def read_prompt(self, prompt: Prompt, *, chat: bool) -> list[int]:
        """Encode ``prompt`` for every member; the draft's ids, which the engine continues."""
        if is_token_ids(prompt):
            raise PromptError("collaborative methods read the prompt with every model's own tokenizer: pass text or chat messages, not token ids")
        for member, role in zip(self.members, self.roles):
            member.read_prompt(prompt, chat=chat, role=role)
        return list(self.members[0].prompt_ids)

    def room(self, prompt_length: int) -> int:
        """New tokens that fit in every model's context after its prompt.

        Counted in each model's own tokens; the output is counted in the draft's, which for
        another tokenizer is close but not equal, so keep some margin with long outputs.
        """
        worst = min(self.members, key=lambda m: m.backend.max_context - len(m.prompt_ids))
        room = worst.backend.max_context - len(worst.prompt_ids)
        if room < 1:
            raise PromptError(
                f"the prompt has {len(worst.prompt_ids)} tokens for {worst.name!r}, whose context is "
                f"{worst.backend.max_context}; shorten the prompt to fewer than {worst.backend.max_context} tokens"
            )
        return room

    def prefill(self, prompt: Sequence[int]) -> None:
        """Read every member's prompt (all but its last token) into its model's cache."""
        for member in self.members:
            member.scorer.prefill(member.prompt_ids)

    def round(
        self, context: Sequence[int], budget: int, params: SamplingParams, generator: torch.Generator | None
    ) -> RoundOutcome:
        committed = list(context[len(self.members[0].prompt_ids) :])
        commit = self._commit(Generation(params, generator, committed), budget)
        return RoundOutcome(
            tuple(commit.token_ids), tuple(commit.provenance), tuple(commit.authors), commit.drafted, ended=commit.ended
        )

    @abstractmethod
    def _commit(self, state: Generation, budget: int) -> Commit:
        """Decide what the next round commits; ``budget`` draft tokens are left."""

    @abstractmethod
    def label(self) -> str:
        """The method's name with its options, for results files."""


def segment_owners(
    member: Member, committed: Sequence[int], new: Sequence[int], segments: Sequence[Segment],
    end: tuple[int, Provenance],
) -> tuple[list[int], list[Provenance]]:
    """Author and provenance of each of ``new`` (the draft's ids after ``committed``), from the round's segments.

    ``segments`` cover the text ``new`` adds. A token takes the segment where its text begins; a
    token that adds no whole character takes the one it helps finish; tokens after all the text
    (an end token) take ``end``. Prefixes are decoded whole so multi-byte characters stay whole.
    """
    owners = [(s.author, s.provenance) for s in segments for _ in s.text]
    base = len(clean(decode(member.tokenizer, committed)))
    authors: list[int] = []
    provenance: list[Provenance] = []
    offset = 0
    for n in range(1, len(new) + 1):
        author, why = owners[offset] if offset < len(owners) else end
        authors.append(author)
        provenance.append(why)
        offset = len(clean(decode(member.tokenizer, [*committed, *new[:n]]))) - base
    return authors, provenance


def cut_after_end(tokens: Sequence[int], end_ids: frozenset[int]) -> tuple[list[int], bool]:
    """``tokens`` up to and including the first end token, and whether there was one."""
    for i, token in enumerate(tokens):
        if token in end_ids:
            return list(tokens[: i + 1]), True
    return list(tokens), False

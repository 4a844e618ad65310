"""Choosing the draft length from measured costs: the expected tokens per second of a round.

A round that drafts γ tokens costs ``γ·c + v(γ + 1)``: ``c`` seconds per drafted token and one
verifier forward over the newest token and the draft. With a per-token acceptance rate ``α``
(each drafted token kept with probability α once the ones before it were; Leviathan et al. 2023)
it commits ``(1 − α^(γ+1)) / (1 − α)`` tokens on average. The best γ maximises their ratio, and
γ = 0 (the verifier decoding alone, ``1 / v(1)``) is a candidate: where verifying is expensive
and drafts are poor, not speculating is fastest. Transformers' and llama.cpp's schedules look
only at acceptance; on a CPU, where verifying 8 tokens can cost 4 single steps, that is not enough.
"""

from __future__ import annotations

from collections.abc import Mapping


def expected_tokens(alpha: float, gamma: int) -> float:
    """Mean tokens a round commits: the kept prefix of γ drafted tokens plus the verifier's one."""
    if alpha >= 1.0:
        return gamma + 1.0
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def verify_cost(measured: Mapping[int, float], tokens: int) -> float | None:
    """The cost of one forward over ``tokens`` new tokens, interpolated from measured lengths.

    Linear between the nearest measured lengths; beyond the longest, the last slope continues
    (never below the longest measured cost); below the shortest, in proportion to the length. The
    last is optimistic on purpose: a length that was never run (a round without a draft, where
    only longer verifications were seen) looks cheap enough to be tried once, and is measured
    then. None if nothing is measured.
    """
    points = sorted(measured.items())
    if not points:
        return None
    if tokens in measured:
        return measured[tokens]
    below = [(k, t) for k, t in points if k < tokens]
    above = [(k, t) for k, t in points if k > tokens]
    if not below:
        shortest, cost = above[0]
        return cost * tokens / shortest
    if above:
        (k0, t0), (k1, t1) = below[-1], above[0]
        return t0 + (t1 - t0) * (tokens - k0) / (k1 - k0)
    if len(below) == 1:
        return below[0][1]
    (k0, t0), (k1, t1) = below[-2], below[-1]
    return max(t1, t1 + (t1 - t0) * (tokens - k1) / (k1 - k0))


def best_draft_length(
    measured: Mapping[int, float], draft_cost: float, alpha: float, max_gamma: int
) -> tuple[int, float] | None:
    """The draft length with the most expected tokens per second, and that rate.

    ``measured`` holds the verifier's forward cost by number of new tokens (a clock's
    ``by_length``); ``draft_cost`` the seconds per drafted token. None when the verifier's cost
    is not measured yet.
    """
    best: tuple[int, float] | None = None
    for gamma in range(max_gamma + 1):
        verify = verify_cost(measured, gamma + 1)
        if verify is None:
            return None
        rate = expected_tokens(alpha, gamma) / (gamma * draft_cost + verify)
        if best is None or rate > best[1]:
            best = (gamma, rate)
    return best

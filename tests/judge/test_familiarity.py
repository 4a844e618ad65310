"""The familiarity gate: states like the training ones pass, others fall back to the exact check."""

from __future__ import annotations

import torch

from verispec.judge.familiarity import Familiarity
from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity
from verispec.provenance import Provenance
from verispec.rules import JudgeRule, VerifyInput
from verispec.sampling import SamplingParams

WIDTH = 12


def cluster(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """States on a 3-dimensional subspace of a 12-dimensional space (plus a little noise), moved by ``shift``."""
    g = torch.Generator().manual_seed(seed)
    directions = torch.linalg.qr(torch.randn(WIDTH, 3, generator=torch.Generator().manual_seed(0)))[0].T
    return torch.randn(n, 3, generator=g) @ directions * 3 + 0.05 * torch.randn(n, WIDTH, generator=g) + shift


def test_states_like_the_training_ones_pass_and_others_do_not():
    gate = Familiarity.fit(cluster(2000, 1), components=3, quantile=0.99)
    assert 0.97 < float(gate.familiar(cluster(2000, 2)).float().mean()) <= 1.0
    assert float(gate.familiar(cluster(200, 3, shift=4.0)).float().mean()) < 0.05  # off the subspace
    far_inside = cluster(200, 4) * 4  # on the subspace, far out along it
    assert float(gate.familiar(far_inside).float().mean()) < 0.2


def head_with_gate() -> JudgeHead:
    meta = HeadMetadata(VerifierIdentity("hand-made", WIDTH, 3, 1), threshold=0.5)
    return JudgeHead(torch.zeros(WIDTH), torch.tensor(5.0), meta, Familiarity.fit(cluster(500, 1), components=3))


def test_the_gate_round_trips_and_leaves_unfamiliar_mismatches_to_the_exact_check(tmp_path):
    head = JudgeHead.load(head_with_gate().save(tmp_path / "gated.safetensors"))
    assert head.familiarity is not None and head.meta.familiarity["components"] == 3
    torch.testing.assert_close(head.familiarity.basis, head_with_gate().familiarity.basis)
    states = torch.cat([cluster(1, 5), cluster(1, 6, shift=4.0)])  # familiar, then unfamiliar
    inp = VerifyInput(draft_tokens=torch.tensor([1, 1]), draft_logits=torch.zeros(2, 3),
                      target_logits=torch.log(torch.tensor([[0.6, 0.3, 0.1]] * 3)), params=SamplingParams(), hidden=states)
    gated = JudgeRule(threshold=0.5).with_head(head).decide(inp)  # the head scores σ(5) everywhere
    assert gated.n_accepted == 1 and gated.provenance == (Provenance.RELAXED, Provenance.REPLACED)
    assert gated.stop_check == "gate" and gated.stop_score > 0.99  # the head trusted it; the gate did not
    assert JudgeRule(threshold=0.5, gate=False).with_head(head).decide(inp).n_accepted == 2

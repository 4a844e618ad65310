"""Speculative sampling is lossless: sampled tokens follow the verifier's (warped) distribution.

The joint law of the first two generated tokens is computed exactly from the verifier and compared
with 2000 speculative samples by a chi-square test at alpha = 1e-3: with a correct implementation a
random seed fails 0.1% of the time; the seeds here are fixed, so the test is deterministic. A power
check shows the same test rejects draft-only samples.
"""


import pytest
import torch
from scipy.stats import chisquare

from test_engine import decode
from tiny_models import tiny_model
from verispec.drafting import PromptLookupDrafter
from verispec.sampling import SamplingParams, warp_probs
from verispec.schedule import DraftSchedule

VOCAB = 6
PROMPT = [1, 4, 2]
N = 2000


def exact_joint(model, params, prompt=PROMPT):
    """P(t1, t2) under the verifier with the same warp, as a flat tensor of VOCAB**2 cells."""
    with torch.no_grad():
        first = warp_probs(model(torch.tensor([prompt])).logits[0, -1], params)
        joint = torch.zeros(VOCAB, VOCAB)
        for t1 in range(VOCAB):
            second = warp_probs(model(torch.tensor([prompt + [t1]])).logits[0, -1], params)
            joint[t1] = first[t1] * second
    return joint.flatten()


def sampled_joint(verifier, draft, params, prompt=PROMPT, drafter=None):
    counts = torch.zeros(VOCAB * VOCAB)
    for seed in range(N):
        tokens, _, _ = decode(
            verifier, draft, prompt, max_new_tokens=2, schedule=DraftSchedule(gamma=3), params=params, seed=seed,
            drafter=drafter,
        )
        counts[tokens[0] * VOCAB + tokens[1]] += 1
    return counts


def pooled_pvalue(counts, probs):
    """Chi-square p-value, pooling cells with expected count < 5 into one (0 if an impossible cell occurs)."""
    if counts[probs == 0].sum() > 0:
        return 0.0
    expected = probs * counts.sum()
    small = expected < 5
    observed = torch.cat([counts[~small], counts[small].sum().reshape(1)])
    expected = torch.cat([expected[~small], expected[small].sum().reshape(1)])
    keep = expected > 0
    return chisquare(observed[keep].numpy(), expected[keep].numpy()).pvalue


@pytest.mark.parametrize(
    "params",
    [SamplingParams(temperature=1.0), SamplingParams(temperature=0.8, top_k=5, top_p=0.9)],
    ids=["t=1", "t=0.8,top-k=5,top-p=0.9"],
)
def test_speculative_samples_follow_verifier_distribution(params):
    verifier = tiny_model(3, vocab=VOCAB, eos=None, sharpness=0.4)
    draft = tiny_model(4, vocab=VOCAB, eos=None, sharpness=0.4)
    target = exact_joint(verifier, params)
    assert pooled_pvalue(sampled_joint(verifier, draft, params), target) > 1e-3
    # Power: the draft's own samples differ detectably from the verifier's law.
    draft_only = torch.zeros(VOCAB * VOCAB)
    for seed in range(N):
        tokens, _, _ = decode(draft, None, PROMPT, max_new_tokens=2, schedule=DraftSchedule(), params=params, seed=seed)
        draft_only[tokens[0] * VOCAB + tokens[1]] += 1
    assert pooled_pvalue(draft_only, target) < 1e-3


def test_prompt_lookup_samples_follow_verifier_distribution():
    """Copied drafts have one-hot draft distributions; the exact rule keeps them lossless."""
    params = SamplingParams(temperature=1.0)
    verifier = tiny_model(3, vocab=VOCAB, eos=None, sharpness=0.4)
    prompt = [1, 4, 2, 5, 1, 4]  # the suffix [1, 4] recurs: every generation starts with the draft [2, 5, 1]
    drafter = PromptLookupDrafter(VOCAB, max_ngram=2)
    assert pooled_pvalue(sampled_joint(verifier, None, params, prompt, drafter), exact_joint(verifier, params, prompt)) > 1e-3

"""The judge head shipped for the default verifier loads for it and runs `judge` out of the box."""

import pytest

from verispec import Pipeline
from verispec.judge.head import VerifierIdentity
from verispec.models import cache
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.provenance import Provenance

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipe():
    missing = [n for n in (DEFAULT_DRAFT, DEFAULT_VERIFIER) if not cache.is_complete(cache.model_dir(n))]
    if missing:
        pytest.skip(f"needs `verispec models pull` for {', '.join(missing)}")
    return Pipeline()


def test_the_shipped_head_matches_the_default_verifier(pipe):
    method_rule = _judge_rule(pipe)
    assert method_rule.head.meta.verifier == VerifierIdentity.of(pipe.verifier.backend)
    assert 0 < method_rule.threshold < 1  # calibrated on validation, not a placeholder
    assert method_rule.head.meta.metrics["validation"]["roc_auc"] > 0.5


def test_judge_generates_with_the_shipped_head(pipe):
    result = pipe.generate("What is 12 * 7? Answer briefly.", chat=True, method="judge", max_new_tokens=16)
    assert result.token_ids
    assert set(result.provenance) <= {Provenance.EXACT, Provenance.RELAXED, Provenance.REPLACED, Provenance.BONUS}
    assert result.stats.verifier_forwards < len(result.token_ids)  # drafts were kept, not token by token


def _judge_rule(pipe: Pipeline):
    from verispec.methods import Method, RuleContext

    return Method.parse("judge").rule(RuleContext(verifier=pipe.verifier.backend))

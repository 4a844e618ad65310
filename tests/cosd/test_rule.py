"""The CoSD rule on hand-made probabilities: replace iff y != x, q(x) < α and p(y) > β·q(x)."""

import pytest

from verispec.cosd import RuleVerifier
from verispec.cosd.features import Review, Slot, feature_names
from verispec.errors import ConfigError


def slot(draft_prob, *assistants):
    """``assistants``: (top_prob, agrees) per assistant, or None for an assistant with no opinion here."""
    reviews = tuple(
        None if a is None else Review(key=0, agrees=a[1], top_token=7, top_prob=a[0], entropy=0.5, index=0) for a in assistants
    )
    return Slot(key=0, draft_index=0, draft_prob=draft_prob, draft_entropy=1.0, reviews=reviews)


@pytest.mark.parametrize(
    ("draft_prob", "assistant", "expected"),
    [
        (0.3, (0.9, False), 1),  # unsure draft, confident different assistant: replace
        (0.3, (0.9, True), 0),  # the assistant agrees: nothing to replace
        (0.5, (0.9, False), 0),  # q(x) = α is not below α
        (0.49, (0.9, False), 1),
        (0.3, (0.15, False), 0),  # p(y) = β·q(x) is not above it
        (0.3, (0.16, False), 1),
        (0.0001, (0.001, False), 1),
    ],
)
def test_rule_with_paper_defaults(draft_prob, assistant, expected):
    assert RuleVerifier().choose(slot(draft_prob, assistant)) == expected


def test_alpha_and_beta_move_the_boundaries():
    s = slot(0.6, (0.35, False))
    assert RuleVerifier(alpha=0.5, beta=0.5).choose(s) == 0  # draft confident enough
    assert RuleVerifier(alpha=0.7, beta=0.5).choose(s) == 1
    assert RuleVerifier(alpha=0.7, beta=0.6).choose(s) == 0  # 0.35 < 0.6 * 0.6
    assert RuleVerifier(alpha=1.0, beta=1.0).choose(slot(0.3, (0.31, False))) == 1


def test_several_assistants_the_most_confident_qualifying_one_wins():
    assert RuleVerifier().choose(slot(0.3, (0.6, False), (0.8, False))) == 2
    assert RuleVerifier().choose(slot(0.3, (0.8, False), (0.6, False))) == 1
    # A more confident assistant that agrees with the draft does not count; the other still replaces.
    assert RuleVerifier().choose(slot(0.3, (0.6, False), (0.95, True))) == 1
    # One too unsure to qualify does not block a qualifying one.
    assert RuleVerifier().choose(slot(0.3, (0.1, False), (0.2, False))) == 2
    assert RuleVerifier().choose(slot(0.3, None, (0.9, False))) == 2  # no opinion here (other tokenizer)
    assert RuleVerifier().choose(slot(0.3, (0.7, False), (0.7, False))) == 1  # tie: the first


@pytest.mark.parametrize(("alpha", "beta"), [(0.0, 0.5), (-0.1, 0.5), (1.01, 0.5), (0.5, 0.0), (0.5, 2.0)])
def test_alpha_beta_outside_zero_one_are_refused(alpha, beta):
    with pytest.raises(ConfigError, match=r"must be in \(0, 1\]"):
        RuleVerifier(alpha=alpha, beta=beta)


def test_features_follow_their_names():
    s = slot(0.3, (0.9, False), (0.4, True))
    assert len(s.features()) == len(feature_names(2)) == 6
    assert s.features()[:4] == [0.3, 1.0, 0.9, 0.5]
    assert slot(0.3, None, (0.9, False)).features() is None
    assert not s.agreed and slot(0.3, (0.9, True), None).agreed

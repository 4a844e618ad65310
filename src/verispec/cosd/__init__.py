"""Collaborative Speculative Decoding (CoSD): a draft model writes, assistant models verify and correct.

``CoSD`` fuses one draft with one or more assistants, with the ``α``/``β`` rule (``RuleVerifier``)
or a trained decision tree (``TreeVerifier``); ``AvgDecoding`` and ``Deferral`` (Co-LLM style)
are the baselines. Models with different tokenizers are bridged in text space.
"""

from verispec.cosd.baselines import (
    AvgDecoding,
    Deferral,
    LogisticDeferral,
    load_deferral,
)
from verispec.cosd.generator import CoSD
from verispec.cosd.members import ModelLike
from verispec.cosd.results import CoSDChunk, CoSDResult, CoSDRound, CoSDStats, Segment, token_owners
from verispec.cosd.rule import RuleVerifier, Verifier
from verispec.cosd.tree import DecisionTree, TreeVerifier, load_tree

__all__ = [
    "AvgDecoding", "CoSD", "CoSDChunk", "CoSDResult", "CoSDRound", "CoSDStats", "DecisionTree", "Deferral",
    "LogisticDeferral", "ModelLike", "RuleVerifier", "Segment", "TreeVerifier", "Verifier", "load_deferral", "load_tree",
    "token_owners",
]

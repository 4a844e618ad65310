"""Collaborative Speculative Decoding (CoSD): a draft model writes, assistant models verify and correct.

``CoSD`` fuses one draft with one or more assistants, with the ``α``/``β`` rule (``RuleVerifier``)
or a trained decision tree (``TreeVerifier``); ``AvgDecoding`` and ``Deferral`` (Co-LLM style)
are the baselines. Each is a round strategy of the one engine loop (see
:mod:`verispec.cosd.decoding`). Models with different tokenizers are bridged in text space.
"""

from verispec.cosd.baselines import AvgDecoding, Deferral, LogisticDeferral, load_deferral
from verispec.cosd.decoding import FusionRounds
from verispec.cosd.generator import CoSD
from verispec.cosd.members import ModelLike
from verispec.cosd.rule import RuleVerifier, Verifier
from verispec.cosd.tree import DecisionTree, TreeVerifier, load_tree

__all__ = [
    "AvgDecoding", "CoSD", "DecisionTree", "Deferral", "FusionRounds", "LogisticDeferral", "ModelLike", "RuleVerifier",
    "TreeVerifier", "Verifier", "load_deferral", "load_tree",
]

"""Judge Decoding (Bachmann et al., ICLR 2025) at run time: a linear probe on the verifier's hidden states.

Only what decoding needs lives here: the head (``σ(w·h + b)``), its file format with the verifier
identity it was trained for, and finding the head that ships for a verifier. The rule that uses it
is :class:`verispec.rules.judge.JudgeRule`; building data, training and evaluating heads is tooling
in :mod:`verispec.training.judge`, which decoding never imports.
"""

from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity, load_head_for, shipped_head_path, shipped_heads

__all__ = ["HeadMetadata", "JudgeHead", "VerifierIdentity", "load_head_for", "shipped_head_path", "shipped_heads"]

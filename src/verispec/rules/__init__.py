"""Verification rules: pure functions from one round's tensors to a verdict."""

from verispec.rules.base import Keep, Verdict, VerificationRule, VerifyInput
from verispec.rules.exact import ExactRule
from verispec.rules.judge import JudgeRule
from verispec.rules.lenient import LenientRule
from verispec.rules.typical import TypicalRule

__all__ = ["ExactRule", "JudgeRule", "Keep", "LenientRule", "TypicalRule", "Verdict", "VerificationRule", "VerifyInput"]

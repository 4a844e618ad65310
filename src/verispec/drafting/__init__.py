"""Drafters: propose tokens for the verifier to check."""

from verispec.drafting.base import Draft, Drafter
from verispec.drafting.cross_tokenizer import CrossTokenizerDrafter
from verispec.drafting.lookup import PromptLookupDrafter, find_continuation
from verispec.drafting.model_drafter import ModelDrafter

__all__ = ["CrossTokenizerDrafter", "Draft", "Drafter", "ModelDrafter", "PromptLookupDrafter", "find_continuation"]

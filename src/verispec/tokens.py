"""Facts about a model's tokenizer that decoding needs: end tokens, vocabulary identity, prompts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Union

from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from verispec.errors import PromptError

Messages = Sequence[Mapping[str, str]]
TokenIds = Sequence[int]
Prompt = Union[str, Messages, TokenIds]

# End-of-turn markers of common chat formats; counted as EOS when the tokenizer knows them.
_END_OF_TURN = ("<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<|eot_id|>", "<|end|>")


def eos_token_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    """Every token id that ends generation for this model."""
    return end_token_ids(model.generation_config, tokenizer)


def end_token_ids(generation_config: GenerationConfig | None, tokenizer: PreTrainedTokenizerBase) -> frozenset[int]:
    """Every token id that ends generation: the generation config's, the tokenizer's EOS, end-of-turn markers."""
    ids: set[int] = set()
    configured = getattr(generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in _END_OF_TURN if t in vocab)
    return frozenset(ids)


def same_vocabulary(a: PreTrainedTokenizerBase, b: PreTrainedTokenizerBase) -> bool:
    """True when both tokenizers map every token string to the same id."""
    return a is b or (len(a) == len(b) and a.get_vocab() == b.get_vocab())


def is_token_ids(prompt: Prompt) -> bool:
    """True when ``prompt`` is already token ids (a non-empty sequence of ints)."""
    return not isinstance(prompt, str) and len(prompt) > 0 and all(isinstance(t, int) for t in prompt)


def encode_prompt(tokenizer: PreTrainedTokenizerBase, prompt: Prompt, *, chat: bool) -> list[int]:
    """Token ids of a raw prompt, or of chat messages (or a string as one user turn) via the chat template.

    Token ids pass through unchanged (``chat`` does not apply to them) once checked against the vocabulary.
    """
    if is_token_ids(prompt):
        ids = [int(t) for t in prompt]  # type: ignore[union-attr]
        outside = [t for t in ids if not 0 <= t < len(tokenizer)]
        if outside:
            raise PromptError(f"token ids {outside[:5]} are outside the vocabulary of {len(tokenizer)} tokens")
        return ids
    if isinstance(prompt, str):
        if not prompt:
            raise PromptError("the prompt is empty: pass some text to continue or a question to answer")
        if not chat:
            return tokenizer(prompt, add_special_tokens=True)["input_ids"]
        prompt = [{"role": "user", "content": prompt}]
    if not prompt or not any(m.get("content") for m in prompt):
        raise PromptError("the chat messages are empty: pass at least one message with content")
    if tokenizer.chat_template is None:
        raise PromptError(
            f"the tokenizer of {tokenizer.name_or_path!r} has no chat template; pass a plain string prompt "
            "(CLI: --raw) or use an instruct model"
        )
    text = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n

"""CoSD across real tokenizers end to end, and Gemma 3's sliding-window cache rolled back past its window."""

import functools

import pytest
import torch

from cosd_models import fuse

from verispec.backends import TransformersBackend
from verispec.cosd import CoSD, RuleVerifier
from verispec.cosd.bridge import decode
from verispec.errors import PromptError
from verispec.models import cache
from verispec.pipeline import ModelHandle

pytestmark = pytest.mark.integration


@functools.cache
def _loaded(name, dtype):
    from verispec.models.loading import load_model

    return load_model(name, dtype=dtype)


def model(name, dtype=torch.bfloat16):
    if not cache.is_complete(cache.model_dir(name)):
        pytest.skip(f"needs `verispec models pull {name}`")
    loaded = _loaded(name, dtype)
    return ModelHandle(name, loaded.model, loaded.tokenizer)  # a fresh handle: its own KV cache


def test_gemma_rollback_past_the_sliding_window_matches_a_fresh_forward():
    gemma = model("gemma-3-270m", torch.float32)
    window = gemma.model.config.sliding_window
    text = " ".join(f"Step {i} adds {i % 7} apples." for i in range(200))
    ids = gemma.tokenizer(text)["input_ids"][: window + 48]
    backend = TransformersBackend(gemma.model)
    backend.forward(ids[: window + 16])
    backend.forward(ids[window + 16 : window + 24])
    backend.forward(ids[window + 24 : window + 28])
    backend.rollback(window + 20)  # back across two forward passes, well past the window
    after = backend.forward(ids[window + 20 :]).logits
    with torch.no_grad():
        fresh = gemma.model(torch.tensor([ids])).logits[0, window + 20 :]
    assert torch.allclose(after, fresh, atol=2e-3, rtol=1e-3)


def test_smollm2_draft_with_qwen_assistant_across_tokenizers():
    draft, assistant = model("smollm2-135m-instruct"), model("qwen2.5-coder-0.5b-instruct")
    cosd = CoSD(draft, [assistant], RuleVerifier(), gamma=5)
    assert not cosd.shares_vocabulary
    result = fuse(cosd, "What is 12 * 7? Answer briefly.", chat=True, max_new_tokens=24)
    assert result.text.strip() and "".join(result.pieces) == result.text
    assert decode(draft.tokenizer, result.token_ids) == result.text
    assert result.stats.model_forwards[1] >= 2  # the assistant reviewed drafts
    assert len(result.token_ids) <= 24


def test_gemma_base_model_needs_raw_text():
    gemma, qwen = model("gemma-3-270m", torch.float32), model("qwen2.5-coder-0.5b-instruct")
    cosd = CoSD(qwen, [gemma], RuleVerifier(), gamma=4)
    with pytest.raises(PromptError, match="assistant1 'gemma-3-270m' has no chat template"):
        fuse(cosd, "What is 2 + 2?", chat=True, max_new_tokens=4)
    result = fuse(cosd, "Question: What is 2 + 2?\nAnswer:", chat=False, max_new_tokens=12)
    assert "".join(result.pieces) == result.text and result.text

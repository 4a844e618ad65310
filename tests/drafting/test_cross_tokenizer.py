"""A draft of another tokenizer: greedy output is the verifier's own, token for token, whatever the draft writes.

The references are independent of the engine: transformers' own greedy ``generate`` for a tiny
random verifier, and the text a scripted verifier is built to write. Scripted drafts, on a tokenizer
that merges differently, write the same text (or a variant that leaves it), so drafts are long and
kept, and every edge of the bridge is crossed: draft tokens that end inside a verifier token and the
reverse, the bytes of a cut 4-byte character, tabs and runs of spaces, special tokens, the end token.
"""

import pytest
import torch
from cosd_models import ScriptedBackend, merged_tokenizer
from tiny_models import byte_tokenizer, tiny_model

from verispec import Pipeline, Provenance
from verispec.backends import TransformersBackend
from verispec.drafting import CrossTokenizerDrafter
from verispec.drafting.byte_vocabulary import ByteVocabulary
from verispec.engine import SpeculativeRounds
from verispec.errors import ConfigError
from verispec.pipeline import stream_rounds
from verispec.rules import ExactRule
from verispec.sampling import SamplingParams
from verispec.schedule import DraftSchedule

PROMPT = "def f(x):\n"
TEXT = "\treturn x  *  12   # the café 😀😀 done\n    \tend"
# Drafts that leave TEXT at one character each, then rejoin it: ScriptedBackend follows the first script
# the text still begins, so after each divergence the draft takes up the next variant. Divergences at
# neighbouring characters land on drafted positions whatever the draft length.
VARIANTS = tuple(TEXT[:i] + "Q" + TEXT[i + 1 :] for i in (5, 6, 20, 21, 33, 34))


def scripted_pair(verifier_tokenizer, draft_tokenizer, draft_scripts, confidence=0.9):
    verifier = ScriptedBackend(verifier_tokenizer, PROMPT + TEXT, confidence, "verifier")
    draft = ScriptedBackend(draft_tokenizer, draft_scripts, confidence, "draft")
    return verifier, draft


def scripted_tokens(backend: ScriptedBackend, text: str) -> list[int]:
    """What a scripted model writes for ``text``: at each step the longest token spelling what comes next."""
    rest, ids = text.encode(), []
    while rest:
        spelled, token = next((s, i) for s, i in backend._spellings if s and rest.startswith(s))
        ids.append(token)
        rest = rest[len(spelled):]
    return ids


def run(verifier_backend, verifier_tokenizer, drafter, prompt_ids, *, max_new_tokens=200, params=SamplingParams()):
    eos = frozenset({verifier_tokenizer.eos_token_id})
    strategy = SpeculativeRounds(verifier_backend, drafter, ExactRule())
    chunks = list(stream_rounds(strategy, verifier_tokenizer, prompt_ids, eos_token_ids=eos,
                                max_new_tokens=max_new_tokens, params=params))
    return chunks[-1].result


def drafter_for(draft_backend, draft_tokenizer, verifier_tokenizer, verifier_size, *, gamma=6, bridge="auto",
                params=SamplingParams()):
    return CrossTokenizerDrafter(
        draft_backend, ByteVocabulary(draft_tokenizer), ByteVocabulary(verifier_tokenizer), params,
        verifier_vocab_size=verifier_size, verifier_eos=frozenset({verifier_tokenizer.eos_token_id}),
        draft_eos=frozenset({draft_tokenizer.eos_token_id}), bridge=bridge, schedule=DraftSchedule(gamma=gamma),
    )


@pytest.mark.parametrize("direction", ["bytes verify merges", "merges verify bytes"])
@pytest.mark.parametrize("scripts", ["same text", "variants, then the text"])
@pytest.mark.parametrize("gamma", [1, 3, 8])
def test_greedy_output_is_the_scripted_verifiers_text(direction, scripts, gamma):
    verifier_tokenizer, draft_tokenizer = (byte_tokenizer(), merged_tokenizer())
    if direction == "merges verify bytes":
        verifier_tokenizer, draft_tokenizer = draft_tokenizer, verifier_tokenizer
    draft_scripts = (PROMPT + TEXT,) if scripts == "same text" else (*(PROMPT + v for v in VARIANTS), PROMPT + TEXT)
    verifier, draft = scripted_pair(verifier_tokenizer, draft_tokenizer, draft_scripts)
    prompt_ids = verifier_tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    drafter = drafter_for(draft, draft_tokenizer, verifier_tokenizer, len(verifier_tokenizer), gamma=gamma)
    result = run(verifier, verifier_tokenizer, drafter, prompt_ids)
    assert result.text == TEXT and result.finish_reason == "eos"
    assert result.token_ids == scripted_tokens(verifier, TEXT) + [verifier_tokenizer.eos_token_id]
    accepted = sum(p.accepted_draft for p in result.provenance)
    assert accepted >= len(result.token_ids) // 3, "the draft writes the same text: much of it must be kept"
    if scripts != "same text":
        assert Provenance.REPLACED in result.provenance


def test_a_drafted_end_token_becomes_the_verifiers_and_is_kept():
    verifier, draft = scripted_pair(byte_tokenizer(), merged_tokenizer(), (PROMPT + TEXT,))
    tokenizer = byte_tokenizer()
    drafter = drafter_for(draft, merged_tokenizer(), tokenizer, len(tokenizer), gamma=400)
    result = run(verifier, tokenizer, drafter, tokenizer(PROMPT)["input_ids"])
    assert result.token_ids[-1] == tokenizer.eos_token_id
    assert result.provenance[-1] is Provenance.EXACT  # the draft's own end, mapped and kept


def test_chat_markers_in_the_prompt_reach_the_draft_as_its_own_special_tokens():
    tokenizer, other = byte_tokenizer(), merged_tokenizer()
    prompt_ids = tokenizer("hi")["input_ids"] + [tokenizer.eos_token_id] + tokenizer("there")["input_ids"]
    _, draft = scripted_pair(tokenizer, other, (PROMPT + TEXT,))
    drafter = drafter_for(draft, other, tokenizer, len(tokenizer))
    drafter.reset(prompt_ids)
    assert drafter._prompt == other("hi")["input_ids"] + [other.eos_token_id] + other("there")["input_ids"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sharp", [1.0, 4.0])
def test_tiny_verifier_greedy_equals_transformers_generate(seed, sharp):
    """A random verifier (any bytes, cut characters included) and a draft scripted with its output, spoiled midway."""
    tokenizer, other = byte_tokenizer(), merged_tokenizer()
    verifier = tiny_model(seed, sharpness=sharp)
    prompt_ids = tokenizer("the tree")["input_ids"]
    reference = verifier.generate(torch.tensor([prompt_ids]), max_new_tokens=40, do_sample=False, eos_token_id=None,
                                  pad_token_id=0)[0, len(prompt_ids):].tolist()
    written = ByteVocabulary(tokenizer).spell(reference)
    spoiled = written[:15] + b"zz" + written[17:]
    draft = ScriptedBackend(other, (b"the tree" + spoiled, b"the tree" + written), 0.9, "draft")
    drafter = drafter_for(draft, other, tokenizer, verifier.config.vocab_size, gamma=5)
    result = run(TransformersBackend(verifier), tokenizer, drafter, prompt_ids, max_new_tokens=40)
    assert result.token_ids == reference
    assert sum(p.accepted_draft for p in result.provenance) > 0


def test_pipeline_drafts_across_tokenizers_and_reports_the_bridge():
    tokenizer, other = byte_tokenizer(), merged_tokenizer()
    verifier = tiny_model(3, sharpness=4.0)
    pipe = Pipeline(draft=(tiny_model(4, vocab=len(other), eos=other.eos_token_id), other),
                    verifier=(verifier, tokenizer), dtype="fp32")
    expected = pipe.generate("the tree", method="verifier", max_new_tokens=30, chat=False)
    for method in ("sd", "sd:bridge=shared,gamma=3", "sd:bridge=text,stop_below=0"):
        result = pipe.generate("the tree", method=method, max_new_tokens=30, chat=False)
        assert result.token_ids == expected.token_ids
        assert result.stats.proposed > 0
    with pytest.raises(ConfigError, match="bridge must be one of auto, text, shared"):
        pipe.generate("the tree", method="sd:bridge=bytes", max_new_tokens=3)


@pytest.mark.parametrize("method", ["lenient:l=0.5", "typical", "sd:temperature=0.8"])
def test_relaxed_rules_and_sampling_draft_across_tokenizers_too(method):
    tokenizer, other = byte_tokenizer(), merged_tokenizer()
    pipe = Pipeline(draft=(tiny_model(4, vocab=len(other), eos=other.eos_token_id), other),
                    verifier=(tiny_model(3, sharpness=4.0), tokenizer), dtype="fp32")
    name, _, option = method.partition(":temperature=")
    result = pipe.generate("the tree", method=name, max_new_tokens=30, chat=False,
                           temperature=float(option or 0.0), seed=2)
    assert result.stats.proposed > 0  # the draft proposed through the bridge; the rule judged each token
    assert len(result.token_ids) == result.stats.new_tokens and max(result.token_ids) < len(tokenizer)
    assert result.stats.accepted <= result.stats.proposed


def test_avg_still_refuses_another_vocabulary_and_names_what_works():
    from verispec.errors import VocabularyMismatchError

    tokenizer, other = byte_tokenizer(), merged_tokenizer()
    pipe = Pipeline(draft=(tiny_model(4, vocab=len(other), eos=other.eos_token_id), other),
                    verifier=(tiny_model(3), tokenizer), dtype="fp32")
    with pytest.raises(VocabularyMismatchError, match="cosd-rule or cosd-tree, or sd, lenient, typical or judge"):
        pipe.generate("the tree", method="avg", max_new_tokens=3, chat=False)

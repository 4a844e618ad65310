"""The CoSD round loop on tiny random models (fp32) and on scripted models with known answers."""

import re

import pytest
import torch
from cosd_models import fuse, fuse_stream, handle, merged_tokenizer, scripted
from tiny_models import byte_tokenizer, noisy_copy, tiny_model

from verispec.backends import TransformersBackend
from verispec.cosd import CoSD, RuleVerifier
from verispec.engine import Engine, SoloRounds
from verispec.errors import ConfigError, PromptError
from verispec.pipeline import ModelHandle
from verispec.provenance import Provenance
from verispec.sampling import SamplingParams

NEVER = RuleVerifier(alpha=1e-12, beta=1.0)  # α → 0: no drafted token is ever unsure enough to replace


class Always:
    """Takes assistant 1's token wherever it differs from the draft's."""

    def choose(self, slot):
        return 1

    def label(self):
        return "always"


def greedy(model, tokenizer, prompt, max_new_tokens, eos):
    """Plain greedy decoding of one model (the engine without a drafter)."""
    engine = Engine(SoloRounds(TransformersBackend(model)), eos_token_ids=eos)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    records = engine.rounds(ids, max_new_tokens=max_new_tokens, params=SamplingParams())
    return [t for r in records for t in r.tokens]


def same_vocab_pair(seed, **options):
    tokenizer = byte_tokenizer()
    assistant = tiny_model(seed, **options)
    draft = noisy_copy(assistant, seed + 100, 0.05)
    return ModelHandle("draft", draft, tokenizer), ModelHandle("assistant", assistant, tokenizer)


def check_tokens(result):
    """Every token has its text, author and provenance; the pieces and the draft's ids give the text."""
    assert "".join(result.pieces) == result.text
    assert len(result.pieces) == len(result.authors) == len(result.provenance) == len(result.token_ids)
    assert byte_tokenizer().decode(result.token_ids, skip_special_tokens=True) == result.text


def replacements(result):
    return result.provenance.count(Provenance.REPLACED)


def written_by(result, author):
    return "".join(p for p, a in zip(result.pieces, result.authors) if a == author)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("gamma", [1, 4, 50])
def test_never_replacing_gives_draft_only_greedy(seed, gamma):
    draft, assistant = same_vocab_pair(seed)
    result = fuse(CoSD(draft, [assistant], NEVER, gamma=gamma), "hello", max_new_tokens=30, chat=False)
    assert result.token_ids == greedy(draft.model, draft.tokenizer, "hello", 30, draft.eos_token_ids)
    assert len(result.token_ids) == 30  # the budget ends mid-draft: never overshoots
    assert replacements(result) == 0 and set(result.authors) == {"draft"}
    check_tokens(result)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("gamma", [1, 4])
def test_always_taking_the_assistant_gives_assistant_only_greedy(seed, gamma):
    draft, assistant = same_vocab_pair(seed)
    chunks = (fuse_stream(CoSD(draft, [assistant], Always(), gamma=gamma), "hello", max_new_tokens=30, chat=False))
    result = chunks[-1].result
    assert result.token_ids == greedy(assistant.model, assistant.tokenizer, "hello", 30, assistant.eos_token_ids)
    stats = result.stats
    assert replacements(result) > 0  # the check has power: the draft really was corrected
    assert stats.model_forwards[1] == stats.rounds + 1  # one assistant pass per round, plus the prompt
    replaced = [a for a, p in zip(result.authors, result.provenance) if p is Provenance.REPLACED]
    assert replaced == ["assistant1"] * replacements(result)
    assert sum(len(c.token_ids) for c in chunks) == len(result.token_ids)  # the stream adds up to the result
    check_tokens(result)


def test_eos_ends_generation_like_greedy_decoding():
    """Small vocabulary with EOS = 3 so that EOS shows up inside drafts and replacements."""
    ended = 0
    prompt = byte_tokenizer().decode([5, 6])  # two tokens inside the 12-token vocabulary
    for seed in range(8):
        draft, assistant = same_vocab_pair(seed, vocab=12, eos=3, sharpness=0.5)
        for verifier, writer in ((NEVER, draft), (Always(), assistant)):
            result = fuse(CoSD(draft, [assistant], verifier, gamma=5), prompt, max_new_tokens=40, chat=False)
            assert result.token_ids == greedy(writer.model, writer.tokenizer, prompt, 40, writer.eos_token_ids)
            ended += result.finish_reason == "eos"
    assert ended >= 2


def test_rule_replacements_are_the_assistants_top_tokens_at_unsure_positions():
    draft, assistant = same_vocab_pair(3)
    cosd = CoSD(draft, [assistant], RuleVerifier(alpha=0.9, beta=0.1), gamma=4)
    chunks = (fuse_stream(cosd, "hello", max_new_tokens=40, chat=False))
    result = chunks[-1].result
    assert "".join(c.text for c in chunks) == result.text  # the stream adds up to the result
    assert replacements(result) > 0
    # A round commits its kept draft prefix plus at most one replacement.
    assert replacements(result) <= result.stats.rounds
    check_tokens(result)


def test_stop_strings_cut_text_and_authorship():
    draft, assistant = same_vocab_pair(0)
    full = fuse(CoSD(draft, [assistant], RuleVerifier(0.9, 0.1), gamma=4), "hello", max_new_tokens=30, chat=False)
    stop = full.text[5:7]
    cut = fuse(CoSD(draft, [assistant], RuleVerifier(0.9, 0.1), gamma=4), "hello", max_new_tokens=30, chat=False, stop=[stop])
    assert cut.finish_reason == "stop" and cut.text == full.text[: full.text.index(stop)]
    assert "".join(cut.pieces) == cut.text  # the token that wrote the stop string's start is clipped
    assert len(cut.pieces) == len(cut.authors) == len(cut.provenance) == len(cut.token_ids)
    assert len(cut.token_ids) < len(full.token_ids) and cut.token_ids == full.token_ids[: len(cut.token_ids)]
    assert sum(cut.stats.provenance_counts.values()) == len(cut.token_ids)  # stats count only what was kept


def test_sampling_is_reproducible_with_a_seed():
    draft, assistant = same_vocab_pair(1)
    runs = [
        fuse(CoSD(draft, [assistant], RuleVerifier(), gamma=3), "hi", max_new_tokens=20, chat=False, temperature=1.0, seed=7)
        for _ in range(2)
    ]
    assert runs[0].token_ids == runs[1].token_ids
    assert runs[0].token_ids != greedy(draft.model, draft.tokenizer, "hi", 20, draft.eos_token_ids)


# Different tokenizers: a byte-level draft, an assistant with merges.


def test_text_space_never_replacing_gives_draft_only_greedy():
    draft = handle("draft", 0, byte_tokenizer())
    assistant = handle("assistant", 1, merged_tokenizer())
    cosd = CoSD(draft, [assistant], NEVER, gamma=4)
    assert not cosd.shares_vocabulary
    result = fuse(cosd, "the cat", max_new_tokens=40, chat=False)
    assert result.token_ids == greedy(draft.model, draft.tokenizer, "the cat", 40, draft.eos_token_ids)
    check_tokens(result)


@pytest.mark.parametrize("verifier", [RuleVerifier(0.9, 0.1), Always()], ids=["rule", "always"])
def test_text_space_output_decodes_to_its_authored_text(verifier):
    draft = handle("draft", 0, byte_tokenizer())
    assistant = handle("assistant", 1, merged_tokenizer())
    result = fuse(CoSD(draft, [assistant], verifier, gamma=4), "the cat", max_new_tokens=40, chat=False)
    assert replacements(result) > 0 and "assistant1" in result.authors
    check_tokens(result)


PROMPT = "Say: "


@pytest.mark.parametrize("tokenizers", ["same", "different"])
def test_replacement_by_a_confident_assistant_at_a_multibyte_character(tokenizers):
    """The draft (q = 0.3) wants "Hi é!", the assistant (p = 0.9) "Hi 😀!". The assistant's first
    token for 😀 ends inside the character, so in text space it writes the rest before committing."""
    assistant_tokenizer = byte_tokenizer() if tokenizers == "same" else merged_tokenizer()
    draft = scripted("draft", byte_tokenizer(), PROMPT + "Hi é!", 0.3)
    assistant = scripted("assistant", assistant_tokenizer, PROMPT + "Hi 😀!", 0.9)
    result = fuse(CoSD(draft, [assistant], RuleVerifier(), gamma=8), PROMPT, max_new_tokens=30, chat=False)
    assert result.text == "Hi 😀!" and result.finish_reason == "eos"
    assert written_by(result, "assistant1") in ("😀!", "!")
    assert written_by(result, "draft").startswith("Hi ")
    check_tokens(result)


def test_a_confident_draft_is_kept():
    draft = scripted("draft", byte_tokenizer(), PROMPT + "Hi é!", 0.3)
    assistant = scripted("assistant", merged_tokenizer(), PROMPT + "Hi 😀!", 0.9)
    result = fuse(CoSD(draft, [assistant], RuleVerifier(alpha=0.2), gamma=8), PROMPT, max_new_tokens=30, chat=False)
    assert result.text == "Hi é!" and set(result.authors) == {"draft"}
    # "é" (two byte tokens) and "!" were kept although the assistant preferred other tokens.
    relaxed = "".join(p for p, why in zip(result.pieces, result.provenance) if why is Provenance.RELAXED)
    assert relaxed == "é!"


def test_a_draft_cut_inside_a_word_is_not_replaced_by_the_longer_token():
    """Both want "say the end"; the draft stops after " th" and the assistant's top token there is
    "he" (its tokenizer merges it), not "h": that extends the draft's text, so it agrees."""
    draft = scripted("draft", byte_tokenizer(), PROMPT + "say the end", 0.3)
    assistant = scripted("assistant", merged_tokenizer(), PROMPT + "say the end", 0.9)
    result = fuse(CoSD(draft, [assistant], RuleVerifier(), gamma=6), PROMPT, max_new_tokens=30, chat=False)
    assert result.text == "say the end" and replacements(result) == 0


@pytest.mark.parametrize("tokenizers", ["same", "different"])
def test_the_most_confident_of_several_assistants_replaces(tokenizers):
    other = byte_tokenizer() if tokenizers == "same" else merged_tokenizer()
    draft = scripted("draft", byte_tokenizer(), PROMPT + "Hi é!", 0.3)
    first = scripted("first", other, PROMPT + "Hi ü!", 0.6)
    second = scripted("second", other, PROMPT + "Hi ö!", 0.8)
    result = fuse(CoSD(draft, [first, second], RuleVerifier(), gamma=8), PROMPT, max_new_tokens=30, chat=False)
    assert result.text == "Hi ö!"
    assert written_by(result, "assistant2") == "ö!"
    assert "assistant1" not in result.authors


# Bad input.


def test_chat_prompts_need_every_models_chat_template():
    bare = merged_tokenizer()
    bare.chat_template = None
    draft = handle("draft", 0, byte_tokenizer())
    base_model = handle("base-assistant", 1, bare)
    cosd = CoSD(draft, [base_model], RuleVerifier(), gamma=2)
    with pytest.raises(PromptError, match="assistant1 'base-assistant' has no chat template.*raw text"):
        fuse(cosd, [{"role": "user", "content": "hi"}], max_new_tokens=4)
    with pytest.raises(PromptError, match="no chat template"):
        fuse(cosd, "hi", chat=True, max_new_tokens=4)
    assert len(fuse(cosd, "hi", max_new_tokens=4).token_ids) == 4  # raw text works


def test_bad_options_are_refused():
    draft, assistant = same_vocab_pair(0)
    with pytest.raises(ConfigError, match="gamma"):
        CoSD(draft, [assistant], RuleVerifier(), gamma=0)
    with pytest.raises(ConfigError, match="at least one assistant"):
        CoSD(draft, [], RuleVerifier())
    with pytest.raises(ConfigError, match="max_new_tokens"):
        fuse(CoSD(draft, [assistant], RuleVerifier()), "hi", max_new_tokens=0)
    with pytest.raises(PromptError, match="empty"):
        fuse(CoSD(draft, [assistant], RuleVerifier()), "", max_new_tokens=3)
    with pytest.raises(PromptError, match="shorten the prompt"):
        fuse(CoSD(draft, [assistant], RuleVerifier()), "x" * 600, max_new_tokens=3)  # context 512
    with pytest.raises(ConfigError, match="the draft and assistant 1 are the same model handle"):
        CoSD(draft, [draft], RuleVerifier())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--alpha", "0"], r"alpha must be in \(0, 1\]"),
        (["--beta", "1.5"], r"beta must be in \(0, 1\]"),
        (["--method", "cosd-tree"], "needs tree=PATH.*train-tree"),
        (["--method", "co-llm"], "needs classifier=PATH.*train-deferral"),
    ],
)
def test_cli_refuses_bad_options_before_loading_models(arguments, message, capsys):
    from verispec.cli import main

    assert main(["cosd", "generate", "hi", "--draft", "no-such-model", *arguments]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_result_serializes():
    draft, assistant = same_vocab_pair(0)
    result = fuse(CoSD(draft, [assistant], RuleVerifier(0.9, 0.1), gamma=3), "hi", max_new_tokens=10, chat=False)
    data = result.to_dict()
    assert data["method"] == "cosd-rule:alpha=0.9,beta=0.1,gamma=3"
    assert set(data["authors"]) <= {"draft", "assistant1"} and len(data["authors"]) == len(data["token_ids"])
    assert data["stats"]["model_forwards"][0] >= data["stats"]["rounds"]
    assert torch.is_tensor(torch.tensor(data["token_ids"]))


def test_per_token_provenance_and_pipeline_stats():
    draft = scripted("draft", byte_tokenizer(), PROMPT + "Hi é!", 0.3)
    assistant = scripted("assistant", merged_tokenizer(), PROMPT + "Hi 😀!", 0.9)
    result = fuse(CoSD(draft, [assistant], RuleVerifier(), gamma=8), PROMPT, max_new_tokens=30, chat=False)
    # H, i, space by the draft; the emoji's 4 bytes and "!" by the assistant; then the draft's EOS,
    # which the assistant agreed with.
    assert result.authors == ["draft"] * 3 + ["assistant1"] * 5 + ["draft"] and len(result.token_ids) == 9
    provenance = result.provenance
    assert provenance == [Provenance.EXACT] * 3 + [Provenance.REPLACED] * 5 + [Provenance.EXACT]
    stats = result.stats
    assert (stats.accepted, stats.new_tokens) == (4, 9) and stats.proposed >= 4
    assert stats.verifier_forwards == stats.model_forwards[1] and stats.draft_forwards == stats.model_forwards[0]
    assert stats.provenance_counts == {"exact": 4, "replaced": 5}
    assert sum(stats.accepted_histogram) == stats.rounds

"""Token spellings: every token's bytes, bytes back to ids, cut characters, and tokenizers it refuses."""

import pytest
from cosd_models import REAL_MODELS, merged_tokenizer, real_tokenizer
from tiny_models import byte_tokenizer
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from verispec.drafting.byte_vocabulary import ByteVocabulary, whole_prefix
from verispec.errors import VocabularyMismatchError

TEXTS = [
    "the  tall tree\n\tindented\n    four spaces",
    "x = 12 * 3.5  # café",
    "emoji 😀😀 and 漢字 and é",
    "\n\n\t\t  trailing  ",
]


@pytest.fixture(params=["byte", "merged"])
def vocabulary(request):
    return ByteVocabulary(byte_tokenizer() if request.param == "byte" else merged_tokenizer())


@pytest.mark.parametrize("text", TEXTS)
def test_encoded_text_spells_itself(vocabulary, text):
    ids = vocabulary.encode(text.encode())
    assert vocabulary.spell(ids) == text.encode()
    assert ids == vocabulary.tokenizer(text, add_special_tokens=False)["input_ids"]  # the tokenizer's own merges


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_a_cut_character_at_either_end_becomes_byte_tokens(vocabulary, cut):
    data = "😀 ok 😀".encode()
    for piece, cut_head, cut_tail in ((data[cut:], True, False), (data[:-cut], False, True), (data[cut:-cut], True, True)):
        ids = vocabulary.encode(piece)
        assert vocabulary.spell(ids) == piece
        assert not cut_head or len(vocabulary.spellings[ids[0]]) == 1  # a cut end is spelled byte by byte
        assert not cut_tail or len(vocabulary.spellings[ids[-1]]) == 1


def test_whole_prefix_stops_before_an_unfinished_character():
    data = "ab😀".encode()
    assert whole_prefix(data) == len(data)
    assert [whole_prefix(data[:n]) for n in range(2, len(data))] == [2, 2, 2, 2]
    assert whole_prefix(b"") == 0


def test_special_tokens_and_padding_spell_nothing():
    tokenizer = merged_tokenizer()
    vocabulary = ByteVocabulary(tokenizer, size=len(tokenizer) + 5)
    assert vocabulary.spell([tokenizer.eos_token_id]) == b""
    assert vocabulary.spell([len(tokenizer) + 2]) == b""
    assert vocabulary.size == len(tokenizer) + 5


def test_a_tokenizer_that_does_not_spell_bytes_is_refused_with_what_to_do():
    words = {"[UNK]": 0, "hello": 1, "world": 2}
    core = Tokenizer(models.WordLevel(vocab=words, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]")
    with pytest.raises(VocabularyMismatchError, match="byte for byte.*drafter=lookup"):
        ByteVocabulary(tokenizer)


@pytest.mark.parametrize("name", REAL_MODELS)
def test_real_tokenizers_spell_text_exactly(name):
    vocabulary = ByteVocabulary(real_tokenizer(name))
    for text in TEXTS:
        assert vocabulary.spell(vocabulary.encode(text.encode())) == text.encode()
    cut = "ok 😀".encode()[:-2]
    spelled = vocabulary.spell(vocabulary.encode(cut))
    assert cut.startswith(spelled) and spelled.startswith(b"ok ")  # a byte without a token ends the spelling there

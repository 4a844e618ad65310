"""Token labels from character spans: good up to the error, one bad token, then nothing."""

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from tiny_models import byte_tokenizer
from verispec.training.judge.labels import label_tokens, labels_from_ends, token_ends


def word_tokenizer():
    """Whole words as tokens, so that a span can start in the middle of a token."""
    vocab = {w: i for i, w in enumerate(["[UNK]", "The", "answer", "is", "forty", "-", "two", "."])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]")


def test_no_error_span_labels_every_token_good():
    labels = label_tokens(byte_tokenizer(), "fine", None)
    assert labels.good == [True] * 4 and len(labels.token_ids) == 4


def test_span_starting_mid_token_makes_that_token_bad():
    text = "The answer is forty"
    start = text.index("forty") + 2  # inside "forty"
    labels = label_tokens(word_tokenizer(), text, start)
    assert labels.good == [True, True, True, False]


def test_span_starting_between_tokens_makes_the_next_token_bad():
    text = "The answer is forty"
    labels = label_tokens(word_tokenizer(), text, text.index(" forty"))  # the space before "forty"
    assert labels.good == [True, True, True, False]


def test_tokens_after_the_bad_token_are_not_labelled():
    labels = label_tokens(byte_tokenizer(), "abcdef", 2)
    assert labels.good == [True, True, False]
    assert labels.labelled == 3 and len(labels.token_ids) == 6


def test_multibyte_characters_split_over_byte_tokens():
    text = "aé😀b"  # é is 2 bytes, 😀 is 4: 8 byte tokens
    tokenizer = byte_tokenizer()
    # The error starts at 😀 (character 2): a and both bytes of é are good, 😀's first byte is bad.
    assert label_tokens(tokenizer, text, 2).good == [True, True, True, False]
    # The error starts at b: every byte of 😀 ends at or before it.
    assert label_tokens(tokenizer, text, 3).good == [True] * 7 + [False]
    # The error starts at é: its first byte is bad.
    assert label_tokens(tokenizer, text, 1).good == [True, False]


class SlowTokenizer:
    """The byte tokenizer without offsets, as a slow tokenizer would be."""

    is_fast = False

    def __init__(self):
        self.inner = byte_tokenizer()

    def __call__(self, text, **kwargs):
        return self.inner(text, **kwargs)

    def decode(self, ids, **kwargs):
        return self.inner.decode(ids, **kwargs)


def test_incremental_decoding_agrees_with_offsets_on_multibyte_text():
    text = "x😀é日本 y"
    ids, fast_ends = token_ends(byte_tokenizer(), text)
    slow_ids, slow_ends = token_ends(SlowTokenizer(), text)
    assert slow_ids == ids and slow_ends == fast_ends
    assert fast_ends[:5] == [1, 2, 2, 2, 2]  # the 4 bytes of 😀 all end after it


def test_labels_from_ends_edges():
    assert labels_from_ends([2, 4, 6], 0) == [False]
    assert labels_from_ends([2, 4, 6], 4) == [True, True, False]
    assert labels_from_ends([], 3) == []


def test_context_tokens_are_read_but_not_labelled():
    text = "The answer is forty"
    labels = label_tokens(word_tokenizer(), text, None, labels_from=text.index(" forty"))
    assert labels.context == 3 and labels.good == [True] and labels.end == 4


def test_an_error_right_after_the_context_labels_one_bad_token():
    text = "The answer is forty"
    start = text.index(" forty")
    labels = label_tokens(word_tokenizer(), text, start, labels_from=start)
    assert labels.context == 3 and labels.good == [False]

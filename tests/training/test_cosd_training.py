"""Training data along reference answers: features, labels (whose top token is the reference's), drops."""

import pytest
from cosd_models import merged_tokenizer, scripted
from tiny_models import byte_tokenizer

from verispec.cosd.baselines import load_deferral
from verispec.cosd.members import Member
from verispec.cosd.trained import model_identities
from verispec.cosd.tree import load_tree
from verispec.errors import ConfigError
from verispec.eval.tasks.base import is_train_by_hash
from verispec.training.cosd import Reference, TrainingOptions, collect, task_references, train

# The draft gets the number wrong in the first answer; the assistant gets the word wrong in the second.
REFERENCES = [Reference("one", "A: ", "It is 42 now"), Reference("two", "B: ", "all good")]


def models(assistant_tokenizer):
    draft = scripted("draft", byte_tokenizer(), ("A: It is 41 now", "B: all good"), 0.6, lost=0.2)
    assistant = scripted("assistant", assistant_tokenizer, ("A: It is 42 now", "B: all bad"), 0.8)
    return draft, assistant


def test_labels_name_the_model_whose_top_token_is_the_reference():
    draft, assistant = models(byte_tokenizer())
    examples = collect([Member.of(draft), Member.of(assistant)], REFERENCES, chat=False)
    # "It is 4" and "all " (both right) are dropped; "2 now" is the assistant's, "good" the draft's.
    assert examples.dropped == 7 + 4
    assert examples.labels == [1] * 5 + [0] * 4
    first = examples.features[0]  # at "2": the draft's top (its "1") at 0.6, the assistant's at 0.8
    assert first[0] == pytest.approx(0.6) and first[2] == pytest.approx(0.8) and len(first) == 4


def test_other_tokenizers_are_compared_where_both_have_a_token_start():
    draft, assistant = models(merged_tokenizer())
    examples = collect([Member.of(draft), Member.of(assistant)], REFERENCES, chat=False)
    byte_draft, byte_assistant = models(byte_tokenizer())
    everywhere = collect([Member.of(byte_draft), Member.of(byte_assistant)], REFERENCES, chat=False)
    assert 0 < len(examples.labels) + examples.dropped < len(everywhere.labels) + everywhere.dropped
    assert set(examples.labels) == {0, 1}


@pytest.mark.parametrize("kind", ["tree", "deferral"])
def test_train_writes_a_file_that_loads_for_the_same_models(kind, tmp_path):
    draft, assistant = models(byte_tokenizer())
    stored = train(kind, draft, [assistant], TrainingOptions(samples=2, max_depth=2, chat=False), references=REFERENCES)
    summary = stored.training
    assert (summary.positions, summary.dropped, summary.samples) == (9, 11, 2)
    assert summary.label_counts == {"draft (draft)": 4, "assistant1 (assistant)": 5}
    assert summary.accuracy >= 8 / 9  # only the first wrong digit looks like a right one to the draft
    stored.save(tmp_path / "model.json")
    identities = model_identities([(draft.name, draft.tokenizer), (assistant.name, assistant.tokenizer)])
    loaded = (load_tree if kind == "tree" else load_deferral)(tmp_path / "model.json", identities)
    assert loaded is not None


def test_training_options_are_checked():
    with pytest.raises(ConfigError, match="samples"):
        TrainingOptions(samples=0)
    with pytest.raises(ConfigError, match="max_depth"):
        TrainingOptions(max_depth=0)


def test_gsm8k_references_come_from_reserved_training_items_without_calculator_notes():
    from verispec.eval.data import missing_packages

    if missing_packages():
        pytest.skip("needs the benchmark data packages: run `verispec data pull`")
    references = task_references(TrainingOptions(tasks=("gsm8k",), samples=3))
    assert len(references) == 3
    for reference in references:
        task, _, item_id = reference.item_id.partition("/")
        assert task == "gsm8k" and is_train_by_hash("gsm8k", item_id, 0.15)
        assert "<<" not in reference.answer and "####" in reference.answer
        assert reference.prompt[0]["role"] == "user"
    raw = task_references(TrainingOptions(tasks=("gsm8k",), samples=1, chat=False))
    assert raw[0].prompt.startswith("Question: ") and raw[0].prompt.endswith("Answer:\n")


def test_references_from_several_tasks_take_each_tasks_answer_form():
    from verispec.eval.data import missing_packages

    if missing_packages():
        pytest.skip("needs the benchmark data packages: run `verispec data pull`")
    references = task_references(TrainingOptions(tasks=("mbpp", "mmlu", "arc_challenge"), samples=2))
    by_task = {}
    for reference in references:
        by_task.setdefault(reference.item_id.partition("/")[0], []).append(reference.answer)
    assert {task: len(answers) for task, answers in by_task.items()} == {"mbpp": 2, "mmlu": 2, "arc_challenge": 2}
    for code in by_task["mbpp"]:
        assert code.startswith("```python\ndef ") and code.endswith("\n```") and "\r" not in code
        compile(code.removeprefix("```python\n").removesuffix("\n```"), "<mbpp>", "exec")
    assert all(letter in "ABCD" and len(letter) == 1 for letter in by_task["mmlu"])
    with pytest.raises(ConfigError, match="'mt_bench' reserves no training items"):
        task_references(TrainingOptions(tasks=("mt_bench",), samples=1))


def test_train_commands_take_several_tasks():
    from verispec.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["cosd", "train-tree", "--task", "gsm8k", "--task", "mmlu", "--samples", "4", "--out", "t.json"])
    assert args.tasks == ["gsm8k", "mmlu"] and args.samples == 4
    assert parser.parse_args(["cosd", "train-deferral", "--out", "c.json"]).tasks is None  # gsm8k, as before
    with pytest.raises(ConfigError, match="at least one task"):
        TrainingOptions(tasks=())

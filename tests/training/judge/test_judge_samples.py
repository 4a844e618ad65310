"""Reading judge data sets (the builder's JSONL format) and the stable train/validation split."""

import pytest

from verispec.errors import JudgeDataError
from verispec.training.judge.samples import in_validation, of_sources, read_samples, subsample, summarize_samples


def test_reads_samples_with_the_first_error_span(make_record, write_jsonl):
    path = write_jsonl("a.jsonl", [
        make_record("1-a", "The answer is 5.", spans=[(14, 15), (3, 9)]),
        make_record("2-a", "The answer is 4."),
    ])
    path.write_text(path.read_text() + "\n\n")  # blank lines are skipped
    first, second = read_samples([path])
    assert first.error_start == 3  # the earliest span counts
    assert second.error_start is None
    assert first.messages == ({"role": "user", "content": "What is 2+2?"},)
    assert (first.source, first.task, first.labelled_by) == ("math", "gsm8k", "test")
    assert summarize_samples([first, second])["with_error"] == 1
    assert first.labels_from == 0  # optional: no context unless given


def test_reads_context_offsets(make_record, write_jsonl):
    path = write_jsonl("c.jsonl", [{**make_record("1-c", "The answer is 5."), "error_spans": [[14, 15]], "labels_from": 13}])
    (only,) = read_samples([path])
    assert (only.labels_from, only.error_start) == (13, 14)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("{not json", r"b.jsonl:2: not valid JSON"),
        ('{"id": "x", "messages": [], "response": "r", "error_spans": []}', "messages must be a non-empty list"),
        ('{"id": "x", "response": "r", "error_spans": []}', "needs the fields id, messages, response, error_spans"),
        ('{"id": "x", "messages": [{"role": "user", "content": "q"}], "response": "abc", "error_spans": [[2, 5]]}',
         r"error span \[2, 5\] is not \[start, end\] with 0 <= start < end <= 3"),
        ('{"id": "x", "messages": [{"role": "user", "content": "q"}], "response": "abc", "error_spans": [[0, 1]], "labels_from": 1}',
         r"the error starts at 0, inside the context \(labels_from 1\)"),
        ('{"id": "x", "messages": [{"role": "user", "content": "q"}], "response": "abc", "error_spans": [], "labels_from": 3}',
         r"labels_from must be a character offset in \[0, 3\), got 3"),
    ],
)
def test_malformed_lines_are_refused_with_their_place(make_record, write_jsonl, line, match):
    path = write_jsonl("b.jsonl", [make_record("ok", "fine")])
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(JudgeDataError, match=match):
        read_samples([path])


def test_duplicate_ids_across_files_and_missing_files_are_refused(make_record, write_jsonl, tmp_path):
    a = write_jsonl("a.jsonl", [make_record("same", "x")])
    b = write_jsonl("b.jsonl", [make_record("same", "y")])
    with pytest.raises(JudgeDataError, match="'same' already used at .*a.jsonl:1"):
        read_samples([a, b])
    with pytest.raises(JudgeDataError, match="does not exist; build one with `verispec judge build-data`"):
        read_samples([tmp_path / "missing.jsonl"])


def test_validation_split_is_a_stable_hash_of_the_id():
    ids = [f"sample-{i}" for i in range(2000)]
    chosen = [i for i in ids if in_validation(i, 0.2)]
    assert chosen == [i for i in ids if in_validation(i, 0.2)]
    assert 320 < len(chosen) < 480  # binomial(2000, 0.2): 400 ± 80 is over 4 standard deviations
    assert set(chosen) <= {i for i in ids if in_validation(i, 0.5)}  # nested: a larger fraction adds samples


def test_subsample_is_stable_nested_and_independent_of_the_validation_split(make_record, write_jsonl):
    path = write_jsonl("many.jsonl", [make_record(f"s-{i}", "The answer is 4.") for i in range(2000)])
    samples = read_samples([path])
    share = subsample(samples, 0.4)
    assert [s.id for s in share] == [s.id for s in subsample(list(reversed(samples)), 0.4)][::-1]
    assert 680 < len(share) < 920  # binomial(2000, 0.4): 800 ± 120 is over 5 standard deviations
    assert {s.id for s in share} <= {s.id for s in subsample(samples, 0.7)}
    in_val = sum(in_validation(s.id, 0.2) for s in share)
    assert 0.12 * len(share) < in_val < 0.28 * len(share)  # not the validation samples first
    assert subsample(samples, 1.0) == samples


def test_of_sources_includes_excludes_and_refuses_unknown_sources(make_record, write_jsonl):
    code = {**make_record("2-c", "def f(): pass"), "source": "code"}
    samples = read_samples([write_jsonl("mixed.jsonl", [make_record("1-m", "4"), code])])
    assert [s.id for s in of_sources(samples, exclude=["code"])] == ["1-m"]
    assert [s.id for s in of_sources(samples, include=["code"])] == ["2-c"]
    assert len(of_sources(samples)) == 2
    with pytest.raises(JudgeDataError, match="no samples have source chat; the data has: code, math"):
        of_sources(samples, exclude=["chat"])

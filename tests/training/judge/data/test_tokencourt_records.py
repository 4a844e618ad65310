"""The JSONL records: validation, round trip, and resuming writes."""

from __future__ import annotations

import json

import pytest

from verispec.errors import JudgeDataError
from verispec.training.judge.data.records import (
    Dropped,
    Sample,
    SampleWriter,
    dropped_path,
    read_dropped,
    read_samples,
    sample_id,
)


def sample(id_: str = "t::1::m::greedy", spans: list[tuple[int, int]] | None = None) -> Sample:
    return Sample(id_, "math", "t", "1", [{"role": "user", "content": "q"}], "2 + 2 = 5", "m", spans or [], "test")


def test_a_record_has_exactly_the_agreed_fields_and_round_trips() -> None:
    original = sample(spans=[(8, 9)])
    record = json.loads(original.to_json())
    assert set(record) == {"id", "source", "task", "item_id", "messages", "response", "model", "error_spans", "labelled_by"}
    assert record["error_spans"] == [[8, 9]]
    assert Sample.from_dict(record) == original


def test_a_context_offset_is_written_only_when_there_is_one() -> None:
    judged = Sample("t::1::m::at8", "math", "t", "1", [{"role": "user", "content": "q"}], "2 + 2 = 5", "m", [(8, 9)], "test", labels_from=8)
    record = json.loads(judged.to_json())
    assert record["labels_from"] == 8 and Sample.from_dict(record) == judged
    with pytest.raises(JudgeDataError, match="labelled part of the response"):
        Sample("t::1::m::at9", "math", "t", "1", [{"role": "user", "content": "q"}], "2 + 2 = 5", "m", [(7, 9)], "test", labels_from=8)


@pytest.mark.parametrize("span", [(5, 5), (8, 10), (-1, 2)])
def test_spans_outside_the_response_are_refused(span: tuple[int, int]) -> None:
    with pytest.raises(JudgeDataError, match="span"):
        sample(spans=[span])


def test_ids_are_stable_and_keep_slashes_apart() -> None:
    assert sample_id("mmlu", "anatomy/dev/0", "owner/model", "greedy") == "mmlu::anatomy/dev/0::owner/model::greedy"


def test_the_writer_resumes_skipping_written_and_dropped_ids(tmp_path) -> None:
    path = tmp_path / "d.jsonl"
    writer = SampleWriter(path)
    assert writer.add(sample("a")) and not writer.add(sample("a"))
    assert writer.drop(Dropped("b", "math", "t", "m", "no error found"))
    again = SampleWriter(path)  # a new run
    assert again.done("a") and again.done("b") and not again.done("c")
    assert not again.add(sample("a")) and again.add(sample("c"))
    assert [s.id for s in read_samples(path)] == ["a", "c"]
    assert [d["id"] for d in read_dropped(path)] == ["b"]
    assert dropped_path(path).name == "d.dropped.jsonl"


def test_a_broken_line_is_reported_with_its_place(tmp_path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(sample("a").to_json() + "\n{\"id\": \n", encoding="utf-8")
    with pytest.raises(JudgeDataError, match="d.jsonl:2"):
        read_samples(path)

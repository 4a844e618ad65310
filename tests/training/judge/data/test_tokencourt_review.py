"""The hand-checked subset: a stable spread-out choice, and precision from verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verispec.errors import JudgeDataError
from verispec.training.judge.data.records import Sample, read_samples
from verispec.training.judge.data.review import (
    Verdict,
    default_verdicts_path,
    load_verdicts,
    precision_by_source,
    response_hash,
    select_for_review,
    stale_rejections,
)


def sample(id_: str, source: str, labelled_by: str, bad: bool = True) -> Sample:
    return Sample(id_, source, "t", id_, [{"role": "user", "content": "q"}], "x = 1", "m", [(4, 5)] if bad else [], labelled_by)  # type: ignore[arg-type]


SAMPLES = (
    [sample(f"m{i}", "math", "corruption:number") for i in range(10)]
    + [sample("r0", "math", "arithmetic-recheck")]
    + [sample(f"c{i}", "code", "corruption:operator") for i in range(5)]
    + [sample(f"g{i}", "chat", "chat-model-response", bad=False) for i in range(5)]
)


def test_selection_is_stable_spread_over_labellers_and_bad_only() -> None:
    chosen = select_for_review(SAMPLES, 6, seed=0)
    assert [s.id for s in chosen] == [s.id for s in select_for_review(SAMPLES, 6, seed=0)]
    assert all(s.is_bad for s in chosen) and len(chosen) == 6
    assert "r0" in {s.id for s in chosen}  # the rare labeller is not crowded out
    assert {s.source for s in chosen} == {"math", "code"}
    assert len(select_for_review(SAMPLES, 100)) == 16


def verdict(s: Sample, confirmed: bool) -> Verdict:
    return Verdict(s.id, response_hash(s.response), s.error_spans[0], confirmed, "")


def test_precision_counts_only_verdicts_that_match_the_current_sample() -> None:
    m0, m1, c0 = SAMPLES[0], SAMPLES[1], SAMPLES[11]
    changed = Verdict(m1.id, response_hash("another response"), (4, 5), True, "")
    gone = Verdict("nope", "0", (0, 1), True, "")
    result = precision_by_source(SAMPLES, [verdict(m0, True), verdict(c0, False), changed, gone])
    assert (result["math"].checked, result["math"].confirmed) == (1, 1)
    assert (result["code"].checked, result["code"].confirmed, result["code"].value) == (1, 0, 0.0)
    assert (result["all"].checked, result["all"].confirmed, result["all"].stale) == (2, 1, 2)


def test_unjudged_templates_are_refused(tmp_path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text(json.dumps({"id": "a", "response_sha256": "0", "span": [0, 1], "confirmed": None, "reason": ""}) + "\n")
    with pytest.raises(JudgeDataError, match="not judged"):
        load_verdicts(path)


def test_rejections_of_changed_samples_are_listed_as_fixed() -> None:
    gone = Verdict("gone", "0", (0, 1), False, "the labeller was fixed")
    current = verdict(SAMPLES[0], False)
    assert stale_rejections(SAMPLES, [gone, current, verdict(SAMPLES[1], True)]) == [gone]


COMMITTED = Path(__file__).resolve().parents[4] / "data" / "judge" / "tokencourt-auto.jsonl"


def test_the_shipped_verdicts_are_complete() -> None:
    verdicts = load_verdicts(default_verdicts_path())
    assert len({v.id for v in verdicts}) == len(verdicts)
    assert all(v.reason for v in verdicts)  # every verdict says why


@pytest.mark.skipif(not COMMITTED.exists(), reason="the committed data set is not in this checkout")
def test_the_shipped_verdicts_cover_the_committed_data_set() -> None:
    samples = read_samples(COMMITTED)
    verdicts = load_verdicts(default_verdicts_path())
    result = precision_by_source(samples, verdicts)
    assert result["all"].checked >= 40
    assert {"math", "code", "choice"} <= set(result)
    # Only rejected labels may be stale (their labeller was fixed); a confirmed verdict must still
    # describe the sample in the data set, or the data set was rebuilt without a new check.
    assert result["all"].stale == len(stale_rejections(samples, verdicts))

"""The results file writer: whole lines, torn lines ended, and a file replaced mid-run still written."""

import json
import os

from test_eval_report import make_record
from verispec.eval.records import RecordWriter, read_records


def test_records_reach_a_results_file_replaced_while_the_run_goes_on(tmp_path):
    path = tmp_path / "results.jsonl"
    writer = RecordWriter(path)
    writer.append(make_record("math", "a", "verifier"))
    # What `git stash` or a checkout does: a new file takes the old one's name.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(path.read_bytes())
    os.replace(copy, path)
    writer.append(make_record("math", "b", "verifier"))
    assert [r.item_id for r in read_records(path)] == ["a", "b"]


def test_a_torn_last_line_is_ended_before_the_next_record(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(make_record("math", "a", "verifier").to_json()[:40])
    RecordWriter(path).append(make_record("math", "b", "verifier"))
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["item_id"] == "b"

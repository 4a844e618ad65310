"""The results file writer: whole lines, torn lines ended, and a file replaced mid-run still written;
packed runs read as plain ones and refuse what would rewrite them."""

import gzip
import json
import os

import pytest
from test_eval_report import make_record

from verispec.errors import ConfigError
from verispec.eval.records import RecordWriter, load_run, read_records
from verispec.eval.rescore import rescore_run


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


def test_a_packed_run_reads_as_the_plain_one_and_refuses_to_be_rescored_until_unpacked(tmp_path):
    path = tmp_path / "results.jsonl"
    writer = RecordWriter(path)
    for item in ("a", "b", "c"):
        writer.append(make_record("math", item, "verifier"))
    _, plain = load_run(tmp_path)
    packed = tmp_path / "results.jsonl.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))  # what `gzip -9 results.jsonl` leaves
    path.unlink()
    _, unpacked = load_run(tmp_path)
    assert unpacked == plain and [r.item_id for r in unpacked] == ["a", "b", "c"]
    with pytest.raises(ConfigError, match="to rescore it, unpack it first"):
        rescore_run(tmp_path)

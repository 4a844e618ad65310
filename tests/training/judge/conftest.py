"""Shared helpers for judge tests: sample records in the builder's JSONL format."""

import json

import pytest


def record(sample_id, response, spans=(), content="What is 2+2?"):
    return {
        "id": sample_id, "source": "math", "task": "gsm8k", "item_id": sample_id.split("-")[0],
        "messages": [{"role": "user", "content": content}], "response": response, "model": "reference",
        "error_spans": [list(s) for s in spans], "labelled_by": "test",
    }


@pytest.fixture
def make_record():
    """``make_record(id, response, spans=(), content=...)`` -> one JSONL record."""
    return record


@pytest.fixture
def write_jsonl(tmp_path):
    """``write_jsonl(name, records)`` -> path of a JSONL file under tmp_path."""

    def write(name, records):
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        return path

    return write

"""``/metrics`` in the Prometheus text format: the format itself, and what requests add to it."""

from __future__ import annotations

from server_support import MODEL, metric
from verispec.server.metrics import Counter, Histogram


def test_counter_and_histogram_text_format():
    counter = Counter("x_total", "Things.", ("kind",))
    counter.inc(2, 'a"b')
    histogram = Histogram("y", "Sizes.", buckets=(1, 2.5), labels=("m",))
    histogram.observe(0, "sd", count=3)
    histogram.observe(2, "sd")
    histogram.observe(7, "sd")
    assert counter.render() == ["# HELP x_total Things.", "# TYPE x_total counter", 'x_total{kind="a\\"b"} 2']
    assert histogram.render() == [
        "# HELP y Sizes.", "# TYPE y histogram",
        'y_bucket{m="sd",le="1"} 3', 'y_bucket{m="sd",le="2.5"} 4', 'y_bucket{m="sd",le="+Inf"} 5',
        'y_sum{m="sd"} 9', 'y_count{m="sd"} 5',
    ]
    assert Counter("z_total", "Unlabelled.").render()[-1] == "z_total 0"


def test_requests_add_tokens_accepted_lengths_and_latency(http, client):
    samples = {
        "completed": 'verispec_generations_total{method="sd",outcome="completed"}',
        "tokens": "verispec_completion_tokens_total",
        "rounds": 'verispec_accepted_length_count{method="sd"}',
        "kept": 'verispec_accepted_length_sum{method="sd"}',
        "latency": 'verispec_request_duration_seconds_count{endpoint="completions"}',
        "first": 'verispec_time_to_first_chunk_seconds_count{endpoint="completions"}',
        "ok": 'verispec_http_requests_total{route="/v1/completions",status="200"}',
        "bad": 'verispec_http_requests_total{route="/v1/completions",status="400"}',
    }
    before = {key: metric(http, sample) for key, sample in samples.items()}
    response = client.completions.create(model=MODEL, prompt="count me", max_tokens=9, temperature=0,
                                         extra_body={"verispec": {"method": "sd"}})
    http.post("/v1/completions", json={"model": MODEL, "prompt": ""})
    stats = response.usage.model_extra["verispec"]
    after = {key: metric(http, sample) for key, sample in samples.items()}
    delta = {key: after[key] - before[key] for key in samples}
    assert delta["completed"] == delta["latency"] == delta["first"] == delta["ok"] == delta["bad"] == 1
    assert delta["tokens"] == 9
    assert delta["rounds"] == sum(stats["accepted_histogram"]) > 0
    assert delta["kept"] == stats["accepted"]


def test_metrics_content_type_and_queue_gauge(http):
    response = http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE verispec_queue_depth gauge\nverispec_queue_depth 0\n" in response.text


def test_health(http):
    assert http.get("/health").json() == {"status": "ok", "model": MODEL, "queue_depth": 0}

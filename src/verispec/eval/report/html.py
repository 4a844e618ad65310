"""A self-contained HTML report: the results table and chosen samples token by token.

Each token is coloured by its provenance (why it was committed), with a legend, the sample's
score and statistics; samples of collaborative methods (CoSD and its baselines) are coloured by
author instead (which model wrote each token), with their own legend. One file with inline CSS and no scripts, so it opens from disk in any
browser. Colours are light tints under dark text (readable contrast) and the provenances that
matter most for judging a method also differ by underline style, not by colour alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from verispec.eval.records import SampleRecord
from verispec.eval.report.categories import whole_tasks
from verispec.eval.report.summary import DRAFT_AUTHOR, ItemOutcome, MethodRow, group_outcomes
from verispec.eval.report.tables import column_notes, difference_notes, stop_notes, table_grid, timing_notes
from verispec.provenance import Provenance

LABELS = {
    Provenance.EXACT: "kept by the exact check",
    Provenance.RELAXED: "kept only by a judge or rule",
    Provenance.REPLACED: "replaced by the verifier",
    Provenance.BONUS: "bonus token",
    Provenance.VERIFIER: "verifier alone",
    Provenance.DRAFT: "draft alone",
}

TOKEN_CSS = """
.t { border-radius: 2px; }
.p-exact { background: #cce5ff; }
.p-relaxed { background: #ffd8a8; text-decoration: underline dashed #8a4b00; text-underline-offset: 3px; }
.p-replaced { background: #ffc2c2; text-decoration: underline solid #a10000 2px; text-underline-offset: 3px; }
.p-bonus { background: #e3d1f7; text-decoration: underline dotted #4b2a80 2px; text-underline-offset: 3px; }
.p-verifier { background: #e4e4e4; }
.p-draft { background: #c9efd4; }
.a-draft { background: #c9efd4; } .a-assistant1 { background: #ffd8a8; }
.a-assistant2 { background: #cce5ff; } .a-assistant3 { background: #e3d1f7; } .a-assistant4 { background: #f7d1e3; }
"""
"""Token colours by provenance (``.p-*``) and by author (``.a-*``), shared with the server's page."""

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a; background: #fff;
       margin: 0 auto; padding: 1.5rem 2rem; max-width: 96rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
h3 { margin: 1.2rem 0 .4rem; font-size: 1.05rem; }
.settings, .note { color: #444; font-size: .9rem; }
table { border-collapse: collapse; font-size: .82rem; margin: .5rem 0; }
.scroll { overflow-x: auto; } .ci { color: #555; font-size: .75rem; }
th, td { border: 1px solid #bbb; padding: .25rem .45rem; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; white-space: normal; vertical-align: bottom; }
td:nth-child(-n+2), th:nth-child(-n+2) { text-align: left; }
.legend { display: flex; flex-wrap: wrap; gap: .5rem 1.2rem; padding: 0; list-style: none; }
.legend li { display: flex; align-items: center; gap: .4rem; }
.sample { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .8rem; margin: .5rem 0; }
.meta { display: flex; flex-wrap: wrap; gap: .3rem 1rem; align-items: baseline; font-size: .88rem; }
.method { font-weight: 600; font-family: ui-monospace, Menlo, Consolas, monospace; }
.badge { padding: 0 .45rem; border-radius: 4px; font-weight: 600; }
.correct { background: #d7f2dd; color: #0b5a1c; } .wrong { background: #fbdcdc; color: #8a1010; }
.unscored { background: #eee; color: #444; }
.stats, .detail { color: #444; }
.turn { font-size: .8rem; color: #555; margin-top: .4rem; }
.tokens, pre { font: 13px/1.6 ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap;
               overflow-wrap: anywhere; margin: .3rem 0; }
pre { background: #f7f7f7; padding: .5rem; border-radius: 4px; }
.swatch { display: inline-block; min-width: 2.2rem; text-align: center; font-family: ui-monospace, monospace; }
""" + TOKEN_CSS


def render_html(
    rows: Sequence[MethodRow],
    records: Sequence[SampleRecord],
    *,
    title: str,
    baseline: str,
    settings: Mapping[str, Any] | None = None,
    samples: int = 3,
    machines: Sequence[str] = (),
) -> str:
    """The whole page as a string; ``samples`` items per task are shown for every method.

    ``machines``: lines naming the machines that ran the samples (:meth:`RunReport.machines`).
    """
    body = [
        f"<h1>{escape(title)}</h1>",
        _settings(settings, len(records)),
        "<h2>Results per task and method</h2>",
        _table(rows, baseline),
        f'<p class="note">{escape(column_notes(baseline, table_grid(rows, baseline)[0]))}</p>',
        *_notes(rows, baseline),
        *_machines(machines),
        "<h2>Token view</h2>",
        _legend(),
        *_author_legend(records),
        *_samples(rows, records, samples),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_html(path: Path, *args: Any, **kwargs: Any) -> Path:
    """Render with :func:`render_html` and write the page to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(*args, **kwargs), encoding="utf-8")
    return path


def _settings(settings: Mapping[str, Any] | None, count: int) -> str:
    parts = [f"{escape(str(k))}: {escape(str(v))}" for k, v in (settings or {}).items()]
    return f'<p class="settings">{" · ".join([*parts, f"{count} records"])}</p>'


def _table(rows: Sequence[MethodRow], baseline: str) -> str:
    titles, grid = table_grid(rows, baseline)
    head = "".join(f"<th>{escape(h)}</th>" for h in titles)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in line) + "</tr>" for line in grid)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _cell(text: str) -> str:
    """A table cell, its confidence interval on a line of its own to keep the table narrow."""
    value, bracket, interval = escape(text).partition(" [")
    return f'{value}<br><span class="ci">[{interval}</span>' if bracket else value


def _notes(rows: Sequence[MethodRow], baseline: str) -> list[str]:
    return _note_list(difference_notes(rows, baseline) + timing_notes(rows) + stop_notes(rows))


def _machines(lines: Sequence[str]) -> list[str]:
    return ["<h3>Machines</h3>", *_note_list(lines)] if lines else []


def _note_list(lines: Sequence[str]) -> list[str]:
    return [f'<ul class="note">{"".join(f"<li>{escape(line)}</li>" for line in lines)}</ul>'] if lines else []


def _legend() -> str:
    items = "".join(
        f'<li><span class="t swatch p-{p.value}">{escape(p.value)}</span>'
        f'<span>{escape(LABELS[p])} <span class="note">({escape(p.description)})</span></span></li>'
        for p in Provenance
    )
    return f'<ul class="legend" aria-label="token colours">{items}</ul>'


def _author_legend(records: Sequence[SampleRecord]) -> list[str]:
    """The author colours, when some sample names its tokens' authors (the roles seen, draft first)."""
    seen = sorted({a for r in records for a in r.authors or ()}, key=lambda a: (a != DRAFT_AUTHOR, a))
    if not seen:
        return []
    items = "".join(
        f'<li><span class="t swatch a-{escape(a)}">{escape(a)}</span><span>{escape(_author_label(a))}</span></li>'
        for a in seen
    )
    return [f'<ul class="legend" aria-label="author colours">{items}</ul>']


def _author_label(author: str) -> str:
    if author == DRAFT_AUTHOR:
        return "written by the draft model"
    number = author.removeprefix("assistant")
    return "written by the verifier (assistant 1)" if number == "1" else f"written by assistant {number}"


def _samples(rows: Sequence[MethodRow], records: Sequence[SampleRecord], per_task: int) -> list[str]:
    grouped = group_outcomes(records)
    parts = []
    whole = whole_tasks(rows)  # a category's samples are its task's, shown once under the task
    for task in dict.fromkeys(row.task for row in whole):
        methods = [row.method for row in whole if row.task == task]
        by_method = {m: grouped[(task, m)] for m in methods}
        chosen = choose_items(task, by_method, per_task)
        if chosen:
            parts.append(f"<h2>Samples: {escape(task)}</h2>")
            parts += [_item(item_id, [(m, by_method[m].get(item_id)) for m in methods]) for item_id in chosen]
    return parts


def choose_items(task: str, by_method: Mapping[str, Mapping[str, ItemOutcome]], count: int) -> list[str]:
    """``count`` item ids of a task, the same for every method, chosen deterministically.

    Items every method completed come first, and among those the ones where the methods' scores
    disagree (the most telling to read); ties are broken by a stable hash of the item id.
    """
    ids = sorted({i for outcomes in by_method.values() for i in outcomes})

    def rank(item_id: str) -> tuple[int, int, str]:
        present = [o[item_id] for o in by_method.values() if item_id in o]
        verdicts = {o.correct for o in present}
        return (len(by_method) - len(present), 0 if len(verdicts) > 1 else 1, _hash(f"{task}:{item_id}"))

    return sorted(ids, key=rank)[:count]


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _item(item_id: str, outcomes: Sequence[tuple[str, ItemOutcome | None]]) -> str:
    first = next(o for _, o in outcomes if o is not None)
    prompt = "\n\n".join(f"[{m['role']}] {m['content']}" for m in first.records[-1].prompt)
    parts = [f"<h3>{escape(first.task)} · item {escape(item_id)}</h3>",
             f"<details><summary>Prompt</summary><pre>{escape(prompt)}</pre></details>"]
    parts += [_sample(method, outcome) for method, outcome in outcomes]
    return "<article>" + "\n".join(parts) + "</article>"


def _sample(method: str, outcome: ItemOutcome | None) -> str:
    if outcome is None:
        return f'<div class="sample"><div class="meta"><span class="method">{escape(method)}</span> not run</div></div>'
    meta = f'<div class="meta"><span class="method">{escape(method)}</span>{_score(outcome)}</div>'
    turns = "".join(_turn(r, len(outcome.records)) for r in outcome.records)
    return f'<div class="sample">{meta}{turns}</div>'


def _score(outcome: ItemOutcome) -> str:
    score = outcome.records[-1].score
    if score is None:
        return '<span class="badge unscored">not scored</span>'
    badge = '<span class="badge correct">✓ correct</span>' if score["correct"] else '<span class="badge wrong">✗ wrong</span>'
    return f'{badge}<span class="detail">{escape(str(score.get("detail", "")))}</span>'


def _turn(record: SampleRecord, turns: int) -> str:
    label = f'<div class="turn">turn {record.turn + 1} of {turns}</div>' if turns > 1 else ""
    return f'{label}<div class="stats">{escape(_stats_line(record))}</div><div class="tokens">{token_spans(record)}</div>'


def _stats_line(record: SampleRecord) -> str:
    s = record.stats
    parts = [f"{s['new_tokens']} tokens", f"{s['tokens_per_second']:.1f} tokens/s",
             f"mean accepted length {s['mean_accepted_length']:.2f}"]
    if s.get("acceptance_rate") is not None:
        parts.append(f"acceptance {s['acceptance_rate']:.0%}")
    if record.authors:
        assistants = sum(a != DRAFT_AUTHOR for a in record.authors) / len(record.authors)
        parts.append(f"{s['rounds']} rounds, {assistants:.0%} of tokens by assistants")
    return " · ".join([*parts, f"finish: {record.finish_reason}"])


def token_spans(record: SampleRecord) -> str:
    """Each token's text in a span coloured by its provenance (or its author, when the record names
    authors), with its id, author, provenance and the judge's score (where it scored; at a replaced
    token, of the drafted token it replaced, and which check rejected that) on hover."""
    authors = record.authors or [None] * len(record.token_ids)
    scores = record.rule_scores or [None] * len(record.token_ids)
    stops = record.rule_stops or [None] * len(record.token_ids)
    spans = []
    rows = zip(record.pieces, record.token_ids, record.provenance, authors, scores, stops, strict=True)
    for index, (piece, token_id, provenance, author, score, stop) in enumerate(rows):
        if piece:  # a token ending inside a multi-byte character shows with the next one
            kind = escape(provenance)
            style, by = (f"p-{kind}", "") if author is None else (f"a-{escape(author)}", f" by {escape(author)}")
            scored = "" if score is None else _score_note(score, provenance, stop)
            spans.append(f'<span class="t {style}" title="#{index} id {token_id}{by}: {kind}{scored}">{escape(piece)}</span>')
    return "".join(spans)


def _score_note(score: float, provenance: str, stop: str | None) -> str:
    """The hover text of a judge score: of the token itself, or of the drafted token a replaced one replaced."""
    if provenance != Provenance.REPLACED.value:
        return f", judge score {score:.3f}"
    return f", the drafted token here scored {score:.3f}, rejected by the judge's {escape(stop or 'test')}"

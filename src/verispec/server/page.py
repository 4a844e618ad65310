"""The playground served at ``/``: one self-contained page (inline CSS and JS, nothing fetched).

Type a prompt, pick a method, and watch tokens stream in from ``/v1/chat/completions``, each
coloured by its provenance (or, for collaborative methods, its author) with the colours and
labels of the HTML evaluation report.
"""

from __future__ import annotations

import json
from html import escape

from verispec.eval.report import html as report_html
from verispec.methods import available_methods, get_method_spec
from verispec.provenance import Provenance

_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; color: #1a1a1a; margin: 0 auto; padding: 1rem 2rem; max-width: 64rem; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; } .models { color: #555; font-size: .9rem; margin: 0 0 .8rem; }
form { display: grid; grid-template-columns: repeat(4, auto) 1fr; gap: .5rem .8rem; align-items: end; }
label { display: flex; flex-direction: column; font-size: .8rem; color: #444; gap: .15rem; }
textarea { grid-column: 1 / -1; font: 14px/1.4 ui-monospace, monospace; min-height: 5rem; padding: .4rem; }
input, select, button { font: inherit; padding: .25rem .4rem; }
input[type=number] { width: 6rem; } #options { width: 14rem; }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1rem; padding: 0; list-style: none; font-size: .85rem; }
#output { font: 14px/1.7 ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere;
          border: 1px solid #ccc; border-radius: 6px; padding: .6rem; min-height: 6rem; }
#stats { display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; font-size: .88rem; color: #333; margin: .5rem 0; }
#status { font-size: .85rem; color: #555; } #error { color: #a10000; font-weight: 600; }
"""

_SCRIPT = """
const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
let controller = null;

function setStatus(state, text) { $("status").dataset.state = state; $("status").textContent = text; }

function showStats(values) {
  $("stats").replaceChildren(...Object.entries(values).map(([name, value]) => {
    const item = document.createElement("span");
    item.textContent = name + ": " + value;
    return item;
  }));
}

function liveStats(run) {
  const seconds = (performance.now() - run.started) / 1000;
  const counts = Object.entries(run.counts).map(([p, n]) => p + " " + n).join(", ");
  showStats({"tokens": run.tokens, "tokens/s (client)": (run.tokens / seconds).toFixed(1), "provenance": counts});
}

function finalStats(run, stats) {
  const percent = (x) => x === null ? "–" : (100 * x).toFixed(1) + "%";
  showStats({"method": run.method, "tokens": stats.new_tokens, "tokens/s": stats.tokens_per_second.toFixed(1),
             "mean accepted length": stats.mean_accepted_length.toFixed(2),
             "acceptance rate": percent(stats.acceptance_rate), "draft forwards": stats.draft_forwards,
             "verifier forwards": stats.verifier_forwards});
}

function showAuthor(run, author) {
  if (run.authors.has(author)) return;
  run.authors.add(author);
  const swatch = document.createElement("span");
  swatch.className = "t a-" + author;
  swatch.textContent = "\u00a0" + author + "\u00a0";
  const item = document.createElement("li");
  item.append(swatch, " written by " + author);
  $("authors").append(item);
}

function addTokens(run, tokens) {
  for (const token of tokens) {
    const span = document.createElement("span");
    span.className = "t " + (token.author ? "a-" + token.author : "p-" + token.provenance);
    span.textContent = token.text;
    span.title = (token.author ? token.author + " · " : "") + token.provenance + " · token " + token.id;
    $("output").append(span);
    if (token.author) showAuthor(run, token.author);
    run.tokens += 1;
    run.counts[token.provenance] = (run.counts[token.provenance] || 0) + 1;
  }
  liveStats(run);
}

function handleEvent(run, event) {
  for (const line of event.split("\\n")) {
    if (!line.startsWith("data: ")) continue;
    const data = line.slice(6);
    if (data === "[DONE]") { setStatus("done", "done"); continue; }
    const chunk = JSON.parse(data);
    if (chunk.error) throw new Error(chunk.error.message);
    if (chunk.verispec && chunk.verispec.tokens) addTokens(run, chunk.verispec.tokens);
    if (chunk.verispec && chunk.verispec.method) run.method = chunk.verispec.method;
    if (chunk.usage) finalStats(run, chunk.usage.verispec);
  }
}

async function readStream(run, response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let end;
    while ((end = buffer.indexOf("\\n\\n")) >= 0) {
      handleEvent(run, buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
}

function requestBody() {
  const options = $("options").value.trim();
  const body = {
    model: config.model, stream: true, stream_options: {include_usage: true},
    messages: [{role: "user", content: $("prompt").value}],
    max_tokens: Number($("max-tokens").value), temperature: Number($("temperature").value),
    verispec: {method: $("method").value + (options ? ":" + options : "")},
  };
  return JSON.stringify(body);
}

async function generate(event) {
  event.preventDefault();
  if (controller) controller.abort();
  controller = new AbortController();
  $("output").replaceChildren();
  $("authors").replaceChildren();
  $("error").textContent = "";
  const run = {started: performance.now(), tokens: 0, counts: {}, authors: new Set(), method: $("method").value};
  const headers = {"Content-Type": "application/json"};
  if ($("api-key").value) headers["Authorization"] = "Bearer " + $("api-key").value;
  setStatus("streaming", "streaming…");
  try {
    const response = await fetch("/v1/chat/completions",
                                 {method: "POST", headers, body: requestBody(), signal: controller.signal});
    if (!response.ok) throw new Error((await response.json()).error.message);
    await readStream(run, response);
  } catch (err) {
    if (err.name === "AbortError") { setStatus("stopped", "stopped"); return; }
    $("error").textContent = err.message;
    setStatus("error", "error");
  }
}

$("form").addEventListener("submit", generate);
$("stop").addEventListener("click", () => controller && controller.abort());
"""


def _method_options(default: str) -> str:
    chosen = default.split(":")[0]
    options = []
    for name in available_methods():
        spec = get_method_spec(name)
        selected = " selected" if name == chosen else ""
        options.append(
            f'<option value="{escape(name)}" title="{escape(spec.summary)}"{selected}>{escape(name)}</option>'
        )
    return "".join(options)


def _legend() -> str:
    items = [
        f'<li><span class="t p-{p.value}">&nbsp;{escape(p.value)}&nbsp;</span> {escape(report_html.LABELS[p])}</li>'
        for p in Provenance
    ]
    return f'<ul class="legend">{"".join(items)}</ul>'


def render_page(*, model_id: str, draft: str, verifier: str, default_method: str, api_key_required: bool) -> str:
    """The playground page for a server with these models, default method and access rule."""
    config = json.dumps({"model": model_id}).replace("<", "\\u003c")  # safe inside <script>
    default_options = default_method.partition(":")[2]
    key_field = (
        '<label>API key<input id="api-key" type="password" autocomplete="off"></label>' if api_key_required
        else '<input id="api-key" type="hidden" value="">'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>verispec playground</title><style>{_CSS}{report_html.TOKEN_CSS}</style></head>
<body>
<h1>verispec playground</h1>
<p class="models">draft {escape(draft)} → verifier {escape(verifier)} · served as <code>{escape(model_id)}</code></p>
<form id="form">
<textarea id="prompt" placeholder="Ask something…" required></textarea>
<label>method<select id="method">{_method_options(default_method)}</select></label>
<label>options<input id="options" placeholder="gamma=8,l=0.5" value="{escape(default_options)}"></label>
<label>max tokens<input id="max-tokens" type="number" min="1" value="128"></label>
<label>temperature<input id="temperature" type="number" min="0" max="2" step="0.1" value="0"></label>
<span>{key_field} <button id="generate" type="submit">Generate</button> <button id="stop" type="button">Stop</button>
<span id="status" data-state="idle"></span></span>
</form>
{_legend()}
<ul class="legend" id="authors" aria-label="author colours"></ul>
<div id="output" class="tokens"></div>
<div id="stats"></div>
<div id="error"></div>
<script type="application/json" id="config">{config}</script>
<script>{_SCRIPT}</script>
</body></html>
"""

"""What the benchmark can run: any verispec method spec, plus transformers and llama.cpp as peers.

``hf-assisted`` is transformers' own assisted generation (the verifier's ``generate`` with the draft
as ``assistant_model``); ``hf-lookup`` is its prompt lookup decoding (``prompt_lookup_num_tokens``),
the peer of ``sd:drafter=lookup``; ``hf-verifier`` is the verifier's plain ``generate``, so the peer
can also be compared with its own plain decoding. Options of ``hf-assisted`` set the assistant's
generation config, e.g. ``hf-assisted:num_assistant_tokens=5,num_assistant_tokens_schedule=constant``;
those of ``hf-lookup`` go to ``generate``, e.g. ``hf-lookup:prompt_lookup_num_tokens=5``.

``llama-plain`` and ``llama-lookup`` are llama-cpp-python's own greedy and prompt-lookup decoding
of the verifier's GGUF (``llama-lookup:num_pred_tokens=10``); ``llama-speculative`` is llama.cpp's
own draft-model speculative decoding program (``llama-speculative:draft_max=8,p_min=0.75``; built
by ``benchmarks/build-llama-tools.sh``).

Any spec may end in ``@`` and a placement: ``@torch`` or ``@llama.cpp`` runs a verispec method on
that backend instead of the benchmark's own (``sd@torch`` beside ``sd`` on llama.cpp), and
``@draft=NAME`` uses another draft model (``sd@draft=smollm2-135m-instruct``,
``hf-assisted@draft=smollm2-135m-instruct``), so backends and drafts compare in one run; both
combine as ``sd@torch,draft=NAME``. A method's speedup and identity are measured against the
verifier on its own backend (``verifier@torch`` where the run has it), and its draft's cost ratio
against the draft-only run with the same placement (``draft@draft=NAME``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from verispec.bench.llamacpp_peer import LLAMA_LOOKUP, LLAMA_PLAIN, LOOKUP_DEFAULTS, LOOKUP_OPTIONS, has_gguf
from verispec.bench.llamacpp_tools import LLAMA_SPECULATIVE, SPECULATIVE_FLAGS
from verispec.errors import ConfigError
from verispec.methods import Method
from verispec.models.handles import LLAMA_CPP, TORCH, ModelHandle

BASELINE = "verifier"
DRAFT_ONLY = "draft"
HF_ASSISTED = "hf-assisted"
HF_LOOKUP = "hf-lookup"
HF_VERIFIER = "hf-verifier"
PEERS = (HF_ASSISTED, HF_LOOKUP, HF_VERIFIER)  # transformers' own generation
# llama-cpp-python's own generation (bench/llamacpp_peer.py) and llama.cpp's speculative program (llamacpp_tools.py)
LLAMA_PEERS = (LLAMA_PLAIN, LLAMA_LOOKUP, LLAMA_SPECULATIVE)
DEFAULT_METHODS = (BASELINE, DRAFT_ONLY, "sd", "sd:drafter=lookup", HF_ASSISTED)


def default_methods(verifier: ModelHandle) -> tuple[str, ...]:
    """The default comparison: where llama.cpp can run the verifier's GGUF, its own decoding is a peer too."""
    return (*DEFAULT_METHODS, LLAMA_PLAIN) if has_gguf(verifier) else DEFAULT_METHODS

HF_ASSISTANT_OPTIONS: dict[str, type] = {
    "num_assistant_tokens": int,
    "num_assistant_tokens_schedule": str,
    "assistant_confidence_threshold": float,
}
_SCHEDULES = ("constant", "heuristic", "heuristic_transient")
# transformers needs prompt_lookup_num_tokens to switch prompt lookup on; these defaults match sd:drafter=lookup's.
HF_LOOKUP_OPTIONS: dict[str, type] = {"prompt_lookup_num_tokens": int, "max_matching_ngram_size": int}
HF_LOOKUP_DEFAULTS: dict[str, Any] = {"prompt_lookup_num_tokens": 5, "max_matching_ngram_size": 3}


@dataclass(frozen=True)
class BenchMethod:
    """One column of the benchmark: a verispec :class:`Method` or a transformers peer."""

    label: str
    method: Method | None = None
    peer: str | None = None
    peer_options: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None  # None: the benchmark's own backend
    draft: str | None = None  # None: the benchmark's own draft model

    @property
    def placement(self) -> str:
        """The label's ``@`` suffix that says where the method ran ("" for the benchmark's own models)."""
        return _placed("", self.backend, self.draft)

    @property
    def runs_on(self) -> str | None:
        """The backend the method needs (transformers' peers run on torch); None: the benchmark's own."""
        return TORCH if self.peer in PEERS else self.backend

    def baseline(self, labels: Sequence[str]) -> str:
        """The verifier-only run to compare with: the one on this method's backend where the run has it."""
        same_backend = f"{BASELINE}@{self.runs_on}"
        return same_backend if self.runs_on and same_backend in labels else BASELINE

    def draft_only(self, labels: Sequence[str], own_backend: str | None = None) -> str | None:
        """The draft-only run of this method's draft model on its backend, where the run has it.

        ``own_backend`` is the benchmark's: a method that runs there (a transformers peer in a
        torch benchmark) has its draft-only run unplaced.
        """
        candidates = [_placed(DRAFT_ONLY, self.runs_on, self.draft)]
        if self.runs_on in (None, own_backend):
            candidates.append(_placed(DRAFT_ONLY, None, self.draft))
        return next((label for label in candidates if label in labels), None)

    @property
    def is_peer(self) -> bool:
        return self.peer is not None

    @property
    def speculative(self) -> bool:
        """True when a draft proposes tokens that the verifier checks."""
        if self.method is not None:
            return self.method.spec.speculative
        return self.peer in (HF_ASSISTED, HF_LOOKUP, LLAMA_LOOKUP, LLAMA_SPECULATIVE)

    @property
    def uses_draft_model(self) -> bool:
        """True when a draft model proposes the tokens (not prompt lookup)."""
        if self.method is not None:
            return self.method.spec.speculative and self.method.uses_draft_model
        return self.peer in (HF_ASSISTED, LLAMA_SPECULATIVE)

    def settings(self) -> dict[str, Any]:
        """The resolved settings, defaults included, for the results file."""
        if self.method is None:
            kinds = {LLAMA_PLAIN: "llama-cpp-python", LLAMA_LOOKUP: "llama-cpp-python", LLAMA_SPECULATIVE: "llama.cpp"}
            kind = kinds.get(self.peer, "transformers")
            return {"kind": kind, "peer": self.peer, "options": dict(self.peer_options)}
        spec = self.method.spec
        out: dict[str, Any] = {"kind": "verispec", "method": spec.name, "options": dict(self.method.options),
                               "lossless": spec.lossless, "backend": self.backend}
        if spec.speculative:
            rule = self.method.rule()
            out["schedule"] = asdict(self.method.schedule())
            out["stop_below"] = self.method.stop_below()
            out["rule"] = {"class": type(rule).__name__, **_scalars(vars(rule))}
        return out


def _placed(name: str, backend: str | None, draft: str | None) -> str:
    """``name`` with its ``@backend,draft=NAME`` suffix (none when both are the benchmark's own)."""
    parts = [p for p in (backend, draft and f"draft={draft}") if p]
    return name + "@" + ",".join(parts) if parts else name


def split_specs(text: str) -> list[str]:
    """Split a comma list of method specs whose options are comma lists too.

    ``"verifier,sd:gamma=5,adaptive=false,hf-assisted"`` -> ``["verifier", "sd:gamma=5,adaptive=false",
    "hf-assisted"]``: a ``key=value`` part without a method name (no ``:``, no ``@`` in its key)
    continues the spec before it, so ``sd@torch,draft=NAME`` stays one spec and ``draft@draft=NAME``
    starts one.
    """
    specs: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, _ = part.partition("=")
        if specs and eq and ":" not in part and "@" not in key:
            specs[-1] += "," + part
        else:
            specs.append(part)
    return specs


def parse_methods(specs: Sequence[str]) -> list[BenchMethod]:
    """Parse method specs (``"sd:gamma=5"``, ``"hf-assisted"``); the verifier baseline must be one.

    Speedups and the identical-to-verifier check are relative to verifier-only decoding measured
    in the same run, so a benchmark without it would have nothing to compare with.
    """
    methods = [parse_method(s) for s in specs]
    labels = [m.label for m in methods]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ConfigError(f"methods listed twice: {', '.join(duplicates)}")
    if BASELINE not in labels:
        raise ConfigError(f"the methods must include {BASELINE!r}: speedups and identity are measured against it")
    return methods


# Prompt-lookup peers: their options (all counts, >= 1) and the defaults that match sd:drafter=lookup's.
_LOOKUP_PEERS: dict[str, tuple[dict[str, type], dict[str, Any]]] = {
    HF_LOOKUP: (HF_LOOKUP_OPTIONS, HF_LOOKUP_DEFAULTS),
    LLAMA_LOOKUP: (LOOKUP_OPTIONS, LOOKUP_DEFAULTS),
}


def parse_method(spec: str) -> BenchMethod:
    """One method spec, optionally placed (``@torch``, ``@draft=NAME``): see the module docstring."""
    head, at, placement = spec.strip().rpartition("@") if "@" in spec else (spec.strip(), "", "")
    method = _parse_unplaced(head)
    if not at:
        return method
    backend, draft = _parse_placement(head, placement)
    if backend is not None and method.method is None:
        raise ConfigError(f"{spec}: only verispec methods take a backend; peers run where their library runs")
    placed = replace(method, backend=backend, draft=draft)
    return replace(placed, label=method.label + placed.placement)


def _parse_placement(head: str, placement: str) -> tuple[str | None, str | None]:
    """``torch`` / ``llama.cpp`` and ``draft=NAME``, comma separated, each at most once."""
    backend = draft = None
    for item in filter(None, (part.strip() for part in placement.split(","))):
        key, eq, value = item.partition("=")
        if item in (TORCH, LLAMA_CPP) and backend is None:
            backend = item
        elif eq and key == "draft" and value and draft is None:
            draft = value
        else:
            raise ConfigError(
                f"{head}@{placement}: a method runs @{TORCH} or @{LLAMA_CPP}, with another draft as "
                f"@draft=NAME (both: @{TORCH},draft=NAME)"
            )
    return backend, draft


def _parse_unplaced(spec: str) -> BenchMethod:
    """A transformers or llama.cpp peer name with options, or any verispec method spec."""
    name, _, raw = spec.partition(":")
    if name in (HF_VERIFIER, LLAMA_PLAIN):
        if raw:
            raise ConfigError(f"{name!r} takes no options, got {raw!r}")
        return BenchMethod(name, peer=name)
    if name == HF_ASSISTED:
        options = _peer_options(HF_ASSISTED, raw, HF_ASSISTANT_OPTIONS)
        schedule = options.get("num_assistant_tokens_schedule")
        if schedule is not None and schedule not in _SCHEDULES:
            raise ConfigError(f"{HF_ASSISTED}: num_assistant_tokens_schedule must be one of {', '.join(_SCHEDULES)}")
        return BenchMethod(_label(HF_ASSISTED, options), peer=HF_ASSISTED, peer_options=options)
    if name in _LOOKUP_PEERS:
        allowed, defaults = _LOOKUP_PEERS[name]
        options = _peer_options(name, raw, allowed)
        if any(value < 1 for value in options.values()):
            raise ConfigError(f"{name}: {', '.join(allowed)} must be >= 1, got {options}")
        return BenchMethod(_label(name, options), peer=name, peer_options={**defaults, **options})
    if name == LLAMA_SPECULATIVE:
        options = _peer_options(LLAMA_SPECULATIVE, raw, {key: kind for key, (_, kind) in SPECULATIVE_FLAGS.items()})
        if options.get("draft_max", 1) < 1 or options.get("draft_min", 0) < 0 or not 0 <= options.get("p_min", 0) <= 1:
            raise ConfigError(f"{LLAMA_SPECULATIVE}: need draft_max >= 1, draft_min >= 0, 0 <= p_min <= 1, got {options}")
        return BenchMethod(_label(LLAMA_SPECULATIVE, options), peer=LLAMA_SPECULATIVE, peer_options=options)
    method = Method.parse(spec)
    return BenchMethod(method.label(), method=method)


def _peer_options(peer: str, raw: str, allowed: dict[str, type]) -> dict[str, Any]:
    """``key=value`` options of a transformers peer, each converted to its type."""
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, eq, value = item.partition("=")
        if not eq or key not in allowed:
            known = ", ".join(allowed)
            raise ConfigError(f"{peer}: bad option {item!r}; options are key=value with key in: {known}")
        try:
            options[key] = allowed[key](value)
        except ValueError:
            raise ConfigError(f"{peer}: option {key}={value!r} is not a valid {allowed[key].__name__}") from None
    return options


def _label(name: str, options: dict[str, Any]) -> str:
    if not options:
        return name
    return name + ":" + ",".join(f"{k}={v}" for k, v in sorted(options.items()))


def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON-friendly attributes of a rule (numbers, strings, flags)."""
    return {k: v for k, v in values.items() if not k.startswith("_") and isinstance(v, (bool, int, float, str))}

"""The public entry point: load a draft and a verifier once, generate with any method.

Every method runs the same loop (:class:`~verispec.engine.Engine`) with its own round strategy;
collaborative methods (CoSD and its baselines) run the draft with the verifier, and any extra
``assistants``, as reviewers, and their results name each token's author.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from verispec.backends import ModelBackend
from verispec.cosd.decoding import FusionRounds
from verispec.drafting import CrossTokenizerDrafter, Drafter, ModelDrafter, PromptLookupDrafter
from verispec.drafting.byte_vocabulary import ByteVocabulary
from verispec.engine import Engine, RoundRecord, RoundStrategy, SoloRounds, SpeculativeRounds
from verispec.errors import ConfigError, PromptError
from verispec.methods import PROMPT_LOOKUP, FusionContext, Method, RuleContext
from verispec.models.handles import AUTO, LLAMA_CPP, ModelHandle, check_backend, choose_backend, open_model
from verispec.provenance import Provenance
from verispec.rules import VerificationRule
from verispec.models.int8 import INT8
from verispec.sampling import SamplingParams
from verispec.schedule import CostAwareSchedule, DraftSchedule
from verispec.stats import GenerationStats, committed_records, summarize
from verispec.text import TextTracker
from verispec.tokens import Prompt, encode_prompt, same_vocabulary

# int8: int8 weights and per-token int8 inputs in the linear layers, fp32 elsewhere (CPU; verispec.models.int8).
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32, "int8": INT8}
DEFAULT_DTYPE = "bf16"

# A name or path, a torch model with its tokenizer, or (for llama.cpp) a GGUF path with its tokenizer.
ModelSource = str | tuple[PreTrainedModel | str, PreTrainedTokenizerBase]


@dataclass(frozen=True)
class GenerationResult:
    """One finished generation: text, tokens with their text pieces and provenance, and statistics.

    ``pieces[i]`` is the text token ``i`` adds (joined, they are ``text``). ``authors``
    (collaborative methods only) names the model role that wrote each token: ``"draft"``,
    ``"assistant1"`` (the verifier), ``"assistant2"``, ...; ``rule_scores`` (scoring rules: the
    judge) the rule's score of each kept drafted token and, at a replaced token, of the drafted
    token it replaced, None for the others; ``rule_stops`` names, at each replaced token, the check
    that rejected the drafted token (the judge: ``score`` below θ, a guard, or its ``gate``).
    """

    text: str
    token_ids: list[int]
    provenance: list[Provenance]
    stats: GenerationStats
    finish_reason: str
    method: str
    prompt_token_ids: list[int] = field(repr=False)
    authors: list[str] | None = None
    pieces: list[str] = field(default_factory=list, repr=False)
    rule_scores: list[float | None] | None = None
    rule_stops: list[str | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "text": self.text,
            "token_ids": self.token_ids,
            "provenance": [p.value for p in self.provenance],
            "finish_reason": self.finish_reason,
            "method": self.method,
            "stats": self.stats.to_dict(),
        }
        if self.rule_scores is not None:
            data["rule_scores"] = self.rule_scores
            data["rule_stops"] = self.rule_stops
        return data if self.authors is None else {**data, "authors": self.authors}


@dataclass(frozen=True)
class StreamChunk:
    """Tokens that became final since the previous chunk, with their text; the last chunk carries the result.

    ``text`` is ``"".join(pieces)``; over all chunks the tokens, pieces, provenance and authors add
    up to the result's.
    """

    text: str
    token_ids: list[int]
    provenance: list[Provenance]
    result: GenerationResult | None = None
    authors: list[str] | None = None
    pieces: list[str] = field(default_factory=list)


class Pipeline:
    """A draft model and a verifier model, loaded once, and every decoding method over them.

    Models are given by registry name, GGUF file, local path or Hugging Face id (loaded on first
    use), or as ``(model, tokenizer)`` pairs already in memory. ``assistants`` are extra models that
    only collaborative methods use (after the verifier, which is assistant 1). One generation runs
    at a time per pipeline.

    ``backend`` runs the models in ``"torch"`` (transformers, any device, ``dtype``) or
    ``"llama.cpp"`` (GGUF files on the CPU, several times faster there); ``"auto"`` picks llama.cpp
    on a CPU for models with a GGUF file when it is installed and ``dtype`` is not given. A dict
    such as ``{"draft": "llama.cpp", "verifier": "torch"}`` chooses per role (``"assistantN"`` for
    extra assistants); models that share a tokenizer may run on different backends.
    """

    def __init__(
        self,
        draft: ModelSource | None = None,
        verifier: ModelSource | None = None,
        *,
        dtype: str | None = None,
        device: str = "cpu",
        assistants: Sequence[ModelSource] = (),
        backend: str | Mapping[str, str] = AUTO,
    ) -> None:
        from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER

        if dtype is not None and dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self._dtype_given = dtype is not None
        self.dtype = dtype or DEFAULT_DTYPE
        self.device = device
        self._backends = _backend_per_role(backend)
        self._sources = {"draft": draft or DEFAULT_DRAFT, "verifier": verifier or DEFAULT_VERIFIER}
        # The verifier is assistant 1, so the extra ones are numbered from 2.
        self._extra = [f"assistant{k}" for k in range(2, len(assistants) + 2)]
        self._sources.update(zip(self._extra, assistants))
        unknown = set(self._backends) - {"*", *self._sources}
        if unknown:
            raise ConfigError(f"backend given for {', '.join(sorted(unknown))}, but the roles are {', '.join(self._sources)}")
        self._handles: dict[str, ModelHandle] = {}
        self._fusions: dict[str, FusionRounds] = {}
        self._rules: dict[str, VerificationRule] = {}
        self._vocab_same: bool | None = None
        self._byte_vocabularies: dict[str, ByteVocabulary] = {}
        self._drafting_gate: Callable[[], bool] | None = None  # a batch's say on whether drafting pays now

    @property
    def draft(self) -> ModelHandle:
        return self._handle("draft")

    @property
    def verifier(self) -> ModelHandle:
        return self._handle("verifier")

    @property
    def assistants(self) -> list[ModelHandle]:
        """The models that review the draft in collaborative methods: the verifier, then the extra ones."""
        return [self.verifier, *(self._handle(role) for role in self._extra)]

    def generate(self, prompt: Prompt, **options: Any) -> GenerationResult:
        """Generate to the end; options as in :meth:`stream`."""
        for chunk in self.stream(prompt, **options):
            if chunk.result is not None:
                return chunk.result
        raise AssertionError("stream ended without a result")

    def stream(
        self,
        prompt: Prompt,
        *,
        method: str | Method = "sd",
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: Sequence[str] = (),
        chat: bool | None = None,
        **method_options: Any,
    ) -> Iterator[StreamChunk]:
        """Yield committed text round by round; the final chunk holds the :class:`GenerationResult`.

        ``prompt`` is raw text, chat messages (the chat template is applied), or token ids of the
        writer's tokenizer, taken as they are (to continue a given token sequence). ``chat=True``
        treats a string as one user message. ``method`` is a name with options
        (``"lenient:l=0.5"``) or a :class:`Method`; keyword options such as ``gamma=8`` override.
        """
        method = method if isinstance(method, Method) else Method.parse(method, **method_options)
        params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        as_chat = bool(chat) if chat is not None else not isinstance(prompt, str)
        strategy, writer = self._strategy(method, params)
        if isinstance(strategy, FusionRounds):
            prompt_ids = strategy.read_prompt(prompt, chat=as_chat)
            end_ids, roles = strategy.end_ids, strategy.roles
        else:
            prompt_ids = encode_prompt(writer.tokenizer, prompt, chat=as_chat)
            self._check_context(method, prompt_ids)
            end_ids, roles = writer.eos_token_ids, None
        yield from stream_rounds(
            strategy, writer.tokenizer, prompt_ids, eos_token_ids=end_ids, max_new_tokens=max_new_tokens,
            params=params, stop=stop, label=method.label(), roles=roles,
        )

    def writer(self, method: Method) -> ModelHandle:
        """The model whose tokenizer reads the prompt and writes the text for ``method``.

        Collaborative methods write the draft's token ids, whichever model wrote the text.
        """
        return self.verifier if method.spec.uses_verifier and not method.spec.collaborative else self.draft

    def _strategy(self, method: Method, params: SamplingParams) -> tuple[RoundStrategy, ModelHandle]:
        """The round strategy for ``method`` and the model whose tokenizer reads and writes the text."""
        spec = method.spec
        if spec.collaborative:
            return self._fusion(method), self.draft
        if not spec.speculative:
            handle = self.writer(method)
            return SoloRounds(handle.backend, seat=1 if spec.uses_verifier else 0), handle
        drafter = self._drafter(method, params)
        return SpeculativeRounds(self.verifier.backend, drafter, self._rule(method)), self.verifier

    def _rule(self, method: Method) -> VerificationRule:
        """The method's verification rule, built once per method label (a judge head is read and checked once)."""
        label = method.label()
        if label not in self._rules:
            proposer = self.draft.name if method.uses_draft_model else PROMPT_LOOKUP
            rule = method.rule(RuleContext(verifier=self.verifier.backend, tokenizer=self.verifier.tokenizer, drafter=proposer))
            assert rule is not None, "only speculative methods have a verification rule"
            self._rules[label] = rule
        return self._rules[label]

    def _fusion(self, method: Method) -> FusionRounds:
        """The method's round strategy, built once per method label (trained files are read and checked once)."""
        label = method.label()
        if label not in self._fusions:
            fusion = method.fusion(FusionContext(draft=self.draft, assistants=self.assistants))
            assert fusion is not None, "only collaborative methods fuse models"
            self._fusions[label] = fusion
        return self._fusions[label]

    def _drafter(self, method: Method, params: SamplingParams) -> Drafter:
        """Prompt lookup, or the draft model: directly when it shares the verifier's vocabulary, else
        through the bytes of text (:class:`CrossTokenizerDrafter`)."""
        drafter = self._new_drafter(method, params)
        drafter.gate = self._drafting_gate
        return drafter

    def _new_drafter(self, method: Method, params: SamplingParams) -> Drafter:
        verifier = self.verifier
        if not method.uses_draft_model:
            return PromptLookupDrafter(
                verifier.backend.vocab_size, max_ngram=method.ngram(), eos_token_ids=verifier.eos_token_ids,
                device=verifier.backend.device, schedule=self._schedule(method, None),
            )
        schedule = self._schedule(method, self.draft.backend)
        if not self._same_vocabulary():
            return CrossTokenizerDrafter(
                self.draft.backend, self._spellings("draft"), self._spellings("verifier"), params,
                verifier_vocab_size=verifier.backend.vocab_size, verifier_eos=verifier.eos_token_ids,
                draft_eos=self.draft.eos_token_ids, bridge=method.bridge(), stop_below=method.stop_below(),
                schedule=schedule,
            )
        return ModelDrafter(
            self.draft.backend, params, eos_token_ids=verifier.eos_token_ids,
            vocab_size=verifier.backend.vocab_size, stop_below=method.stop_below(),
            draft_vocab=method.draft_vocab(), special_token_ids=verifier.tokenizer.all_special_ids,
            schedule=schedule,
        )

    def _same_vocabulary(self) -> bool:
        if self._vocab_same is None:
            self._vocab_same = same_vocabulary(self.draft.tokenizer, self.verifier.tokenizer)
        return self._vocab_same

    def _spellings(self, role: str) -> ByteVocabulary:
        """What each token of ``role``'s tokenizer spells, built once (a pass over the vocabulary)."""
        if role not in self._byte_vocabularies:
            handle = self._handle(role)
            self._byte_vocabularies[role] = ByteVocabulary(handle.tokenizer, handle.backend.vocab_size)
        return self._byte_vocabularies[role]

    def _schedule(self, method: Method, draft: ModelBackend | None) -> DraftSchedule | CostAwareSchedule:
        """The method's draft-length schedule; a cost-aware one reads the running models' clocks.

        Cost-aware is the default on llama.cpp, where verifying k tokens costs nearly k single
        steps on a CPU and the draft model rarely pays: there ``sd`` must know when not to draft.
        """
        if not method.cost_aware(default=self.verifier.runtime == LLAMA_CPP):
            return method.schedule()
        return CostAwareSchedule(method.schedule(), self.verifier.backend.clock, draft.clock if draft else None)

    def _check_context(self, method: Method, prompt_ids: list[int]) -> None:
        roles = [r for r, used in (("draft", method.uses_draft_model), ("verifier", method.spec.uses_verifier)) if used]
        for role in roles:
            handle = self._handle(role)
            limit = handle.backend.max_context
            if len(prompt_ids) >= limit:
                raise PromptError(
                    f"the prompt has {len(prompt_ids)} tokens but {role} {handle.name!r} has a context of "
                    f"{limit}; shorten the prompt to fewer than {limit} tokens"
                )

    def clear_prefix_caches(self) -> None:
        """Start the next generation cold: drop the prompt prefixes backends keep for reuse, so
        that benchmarks time every generation on equal terms (loads nothing)."""
        for handle in self._handles.values():
            handle.backend.clear_prefix_cache()

    def on_backend(self, backend: str) -> Pipeline:
        """A pipeline of the same models, dtype and device on ``backend`` (nothing loads until used)."""
        return self._like(self._sources["draft"], backend)

    def with_draft(self, draft: ModelSource) -> Pipeline:
        """A pipeline of another draft with this pipeline's verifier, which both then share (loaded once)."""
        other = self._like(draft, self._backends)
        other._handles["verifier"] = self.verifier
        return other

    def _like(self, draft: ModelSource, backend: str | Mapping[str, str]) -> Pipeline:
        """A pipeline of ``draft`` with this one's other models, dtype and device, on ``backend``."""
        sources = self._sources
        return Pipeline(
            draft, sources["verifier"], dtype=self.dtype if self._dtype_given else None,
            device=self.device, assistants=[sources[role] for role in self._extra], backend=backend,
        )

    def roles(self) -> list[str]:
        """The model roles: ``draft``, ``verifier``, then ``assistant2``, ... (loads nothing)."""
        return list(self._sources)

    def with_backends(
        self, backends: Mapping[str, ModelBackend], *, drafting_gate: Callable[[], bool] | None = None
    ) -> Pipeline:
        """This pipeline with each role's model run by ``backends[role]`` (one slot of a batch): the
        same names, tokenizers and end tokens, and the vocabulary tables built once for all views.
        While ``drafting_gate()`` is false its rounds draft nothing (the batch decides)."""
        if not self._same_vocabulary():
            for role in ("draft", "verifier"):
                self._spellings(role)
        view = copy.copy(self)
        view._handles = {}
        for role in self._sources:
            handle = self._handle(role)
            # Each view its own tokenizer: a fast tokenizer used by two threads at once can fail ("Already borrowed").
            view._handles[role] = replace(handle, _backend=backends[role], tokenizer=copy.deepcopy(handle.tokenizer))
        view._fusions = {}
        view._rules = {}
        view._drafting_gate = drafting_gate
        return view

    def runtime(self) -> dict[str, Any]:
        """Where the models run, for results files: the backend per role, the torch dtype, the device."""
        return {"backend": self.backend_label(), "dtype": self.dtype, "device": self.device}

    def backend_label(self) -> str:
        """``"llama.cpp"`` when every role runs there (likewise ``"torch"``), else ``"draft=llama.cpp,verifier=torch"``."""
        chosen = {role: self.backend_of(role) for role in self._sources}
        if len(set(chosen.values())) == 1:
            return next(iter(chosen.values()))
        return ",".join(f"{role}={name}" for role, name in chosen.items())

    def backend_of(self, role: str) -> str:
        """The backend ``role`` runs on (``"torch"`` or ``"llama.cpp"``); loads nothing."""
        source = self._sources[role]
        requested = self._backends.get(role, self._backends.get("*", AUTO))
        if isinstance(source, tuple) and not isinstance(source[0], str):
            if requested not in (AUTO, "torch"):
                raise ConfigError(f"the {role} is a torch model in memory; it cannot run on {requested}")
            return "torch"
        name = source[0] if isinstance(source, tuple) else source
        return choose_backend(name, requested, device=self.device, dtype_given=self._dtype_given)

    def handle(self, role: str) -> ModelHandle:
        """The model of ``role`` (``draft``, ``verifier``, ``assistant2``, ...), loaded on first use."""
        return self._handle(role)

    def _handle(self, role: str) -> ModelHandle:
        if role not in self._handles:
            self._handles[role] = self._load(role)
        return self._handles[role]

    def _load(self, role: str) -> ModelHandle:
        source, backend = self._sources[role], self.backend_of(role)
        if isinstance(source, tuple) and not isinstance(source[0], str):
            model, tokenizer = source
            return ModelHandle(getattr(model.config, "name_or_path", "") or "in-memory", model, tokenizer)
        name, tokenizer = source if isinstance(source, tuple) else (source, None)
        return open_model(name, backend=backend, dtype=DTYPES[self.dtype], device=self.device, tokenizer=tokenizer)


def _backend_per_role(backend: str | Mapping[str, str]) -> dict[str, str]:
    """``{"*": name}`` for one backend for all roles, else the per-role mapping, each name checked."""
    chosen = {"*": backend} if isinstance(backend, str) else dict(backend)
    for name in chosen.values():
        check_backend(name)
    return chosen


def stream_rounds(
    strategy: RoundStrategy,
    tokenizer: PreTrainedTokenizerBase,
    prompt_ids: list[int],
    *,
    eos_token_ids: frozenset[int],
    max_new_tokens: int,
    params: SamplingParams,
    stop: Sequence[str] = (),
    label: str = "",
    roles: list[str] | None = None,
) -> Iterator[StreamChunk]:
    """Run ``strategy`` in the engine loop and commit its rounds through one text tracker.

    Chunks carry only final tokens with their text; the result's statistics are folded from the
    round records cut to what the output kept. ``roles`` names the seats for a result's ``authors``.
    """
    start = time.perf_counter()
    tracker = TextTracker(tokenizer, stop)
    rounds = Engine(strategy, eos_token_ids=eos_token_ids).rounds(
        prompt_ids, max_new_tokens=max_new_tokens, params=params, generator=params.generator(_device(strategy))
    )
    records: list[RoundRecord] = []
    provenance: list[Provenance] = []
    authors: list[int] = []
    sent = 0
    stopped = False
    for record in rounds:
        records.append(record)
        provenance.extend(record.provenance)
        authors.extend(record.authors)
        update = tracker.add(record.tokens)
        if update.tokens:
            yield _chunk(update.pieces, update.tokens, provenance[sent:], authors[sent:], roles)
            sent += len(update.tokens)
        if update.stopped:
            stopped = True
            rounds.close()
            break
    tail = tracker.finish()
    kept = len(tracker.tokens)
    records = committed_records(records, kept)
    result = GenerationResult(
        text=tracker.text, token_ids=list(tracker.tokens), provenance=provenance[:kept],
        stats=summarize(records, prompt_tokens=len(prompt_ids), total_seconds=time.perf_counter() - start),
        finish_reason="stop" if stopped else "eos" if records and records[-1].ended else "length",
        method=label, prompt_token_ids=prompt_ids,
        authors=None if roles is None else [roles[a] for a in authors[:kept]], pieces=list(tracker.pieces),
        **_rule_record(records, kept),
    )
    last = _chunk(tail.pieces, tail.tokens, provenance[sent:kept], authors[sent:kept], roles)
    yield StreamChunk(last.text, last.token_ids, last.provenance, result=result, authors=last.authors, pieces=last.pieces)


def _rule_record(records: Sequence[RoundRecord], kept: int) -> dict[str, list[Any] | None]:
    """Per committed token, the rule's score (``rule_scores``) and, at a replaced token, the check that
    rejected the drafted token it replaced (``rule_stops``); both None when the rule never scored."""
    if all(r.scores is None for r in records):
        return {"rule_scores": None, "rule_stops": None}
    scores = [s for r in records for s in (r.scores or (None,) * len(r.tokens))]
    stops = [r.stop_check if i == len(r.tokens) - 1 else None for r in records for i in range(len(r.tokens))]
    return {"rule_scores": scores[:kept], "rule_stops": stops[:kept]}


def _device(strategy: RoundStrategy) -> torch.device:
    """Where the strategy's models run (the random generator of sampling lives there)."""
    return next(seat.device for seat in strategy.seats if seat is not None)


def _chunk(
    pieces: list[str], tokens: list[int], provenance: list[Provenance], authors: list[int], roles: list[str] | None
) -> StreamChunk:
    n = len(tokens)
    named = None if roles is None else [roles[a] for a in authors[:n]]
    return StreamChunk("".join(pieces), list(tokens), list(provenance[:n]), authors=named, pieces=list(pieces))

"""Named decoding methods and their options: ``"sd"``, ``"lenient:l=0.5,gamma=8"``, ...

A method is the engine plus a choice of models and a verification rule. Every method that drafts
accepts the drafting options (``gamma``, ``adaptive``, ``max_gamma``, ``stop_below``); a rule adds
its own. Later methods register here and become usable from the API, CLI, harness and server.

A rule is built from options alone; a rule that needs the running models too (the judge reads a
head trained on its verifier) gets them afterwards through ``bind_rule`` and a :class:`RuleContext`,
which is where files are loaded, so every rule can still be described without loading anything.

Methods that fuse whole models instead of verifying drafts with one rule (CoSD and its baselines)
give ``build_fusion``: it builds a :class:`~verispec.cosd.decoding.FusionRounds` round strategy
over a :class:`FusionContext` (the draft and the assistants). ``check_options`` refuses bad
options when a method is parsed, before any model loads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedTokenizerBase

from verispec.backends.base import ModelBackend
from verispec.cosd import AvgDecoding, CoSD, Deferral, FusionRounds, ModelLike, RuleVerifier, load_deferral, load_tree
from verispec.cosd.trained import ModelIdentity, model_identities
from verispec.drafting.cross_tokenizer import BRIDGES
from verispec.errors import ConfigError
from verispec.judge.features import careful_tokens
from verispec.judge.head import load_head_for
from verispec.rules import (
    ExactRule,
    JudgeRule,
    LenientRule,
    TypicalRule,
    VerificationRule,
)
from verispec.schedule import DEFAULT_GAMMA, DraftSchedule

DRAFTING_OPTIONS: dict[str, type] = {
    "gamma": int, "adaptive": bool, "max_gamma": int, "stop_below": float, "draft_vocab": int,
    "drafter": str, "ngram": int, "cost_aware": bool, "bridge": str,
}
DRAFTERS = ("model", "lookup")  # the draft model, or prompt lookup (copying; no draft model runs)
PROMPT_LOOKUP = "prompt lookup"  # RuleContext.drafter when no draft model proposes


@dataclass(frozen=True)
class RuleContext:
    """The running models, for rules that need more than one round's tensors (the judge's head).

    ``drafter`` names what proposes the drafted tokens: the draft model's name, or
    :data:`PROMPT_LOOKUP` (None: not known).
    """

    verifier: ModelBackend
    tokenizer: PreTrainedTokenizerBase | None = None
    drafter: str | None = None


@dataclass(frozen=True)
class FusionContext:
    """The loaded models a collaborative method fuses: the draft writes, the assistants review.

    In a :class:`~verispec.pipeline.Pipeline` the assistants are its verifier, then any extra ones.
    """

    draft: ModelLike
    assistants: Sequence[ModelLike]

    def identities(self) -> list[ModelIdentity]:
        """Role, name and vocabulary of every model (draft first): what a trained classifier is checked against."""
        return model_identities([(m.name, m.tokenizer) for m in [self.draft, *self.assistants]])


@dataclass(frozen=True)
class MethodSpec:
    """What a method needs and how to build its rule (or its decoder) from options.

    ``rule_options`` are the method's own options (its rule's or its fusion's). ``bind_rule``
    gives a built rule what it needs from the running models and the method's options (default:
    nothing); ``drafting_defaults`` overrides the shared drafting defaults for this method.
    ``build_fusion`` makes a collaborative method's round strategy (see the module docstring);
    ``check_options`` raises ConfigError for options that could never work.
    """

    name: str
    summary: str
    uses_draft: bool
    uses_verifier: bool
    same_vocabulary: bool = True
    lossless: bool = False
    rule_options: dict[str, type] = field(default_factory=dict)
    build_rule: Callable[[Mapping[str, Any]], VerificationRule] | None = None
    bind_rule: Callable[[VerificationRule, RuleContext, Mapping[str, Any]], VerificationRule] | None = None
    drafting_defaults: dict[str, Any] = field(default_factory=dict)
    build_fusion: Callable[[Mapping[str, Any], FusionContext], FusionRounds] | None = None
    check_options: Callable[[Mapping[str, Any]], object] | None = None  # raises; what it returns is ignored

    @property
    def speculative(self) -> bool:
        return self.build_rule is not None

    @property
    def collaborative(self) -> bool:
        """True for methods whose models fuse round by round (the draft's tokenizer writes the output)."""
        return self.build_fusion is not None

    def allowed_options(self) -> dict[str, type]:
        return {**(DRAFTING_OPTIONS if self.speculative else {}), **self.rule_options}


@dataclass(frozen=True)
class Method:
    """A method with concrete options, e.g. ``Method.parse("lenient:l=0.5")``."""

    spec: MethodSpec
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.spec.check_options is not None:
            self.spec.check_options(self.options)
        if self.drafter() not in DRAFTERS:
            raise ConfigError(f"method {self.name!r}: drafter must be one of {', '.join(DRAFTERS)}, got {self.drafter()!r}")
        if self.ngram() < 1:
            raise ConfigError(f"method {self.name!r}: ngram must be >= 1, got {self.ngram()}")
        if self.bridge() not in BRIDGES:
            raise ConfigError(f"method {self.name!r}: bridge must be one of {', '.join(BRIDGES)}, got {self.bridge()!r}")
        if self.options.get("cost_aware") and self.options.get("adaptive"):
            raise ConfigError(f"method {self.name!r}: choose one draft schedule, adaptive=true or cost_aware=true")

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def uses_draft_model(self) -> bool:
        """Whether the draft model runs (prompt lookup drafts without it)."""
        return self.spec.uses_draft and not (self.spec.speculative and self.drafter() == "lookup")

    @classmethod
    def parse(cls, text: str, **overrides: Any) -> Method:
        """``name[:key=value,...]``; keyword ``overrides`` that are not ``None`` win."""
        name, _, raw = text.strip().partition(":")
        spec = get_method_spec(name)
        options = _parse_options(spec, raw)
        options.update({k: v for k, v in overrides.items() if v is not None and k in spec.allowed_options()})
        return cls(spec, options)

    def rule(self, context: RuleContext | None = None) -> VerificationRule | None:
        """The verification rule (None for methods that do not draft).

        With ``context`` the rule is ready to run on those models; without it, it may only describe
        itself (e.g. the judge's options before its head is loaded).
        """
        if self.spec.build_rule is None:
            return None
        options = {k: v for k, v in self.options.items() if k in self.spec.rule_options}
        rule = self.spec.build_rule(options)
        if context is None or self.spec.bind_rule is None:
            return rule
        return self.spec.bind_rule(rule, context, options)

    def fusion(self, context: FusionContext) -> FusionRounds | None:
        """The collaborative round strategy over ``context``'s models (None for other methods)."""
        if self.spec.build_fusion is None:
            return None
        return self.spec.build_fusion(self.options, context)

    def schedule(self) -> DraftSchedule:
        """The draft-length schedule (fixed by default; ``adaptive=true`` for the grow/shrink heuristic)."""
        gamma = self._drafting("gamma", DEFAULT_GAMMA)
        max_gamma = self._drafting("max_gamma", max(DraftSchedule.max_gamma, gamma))
        return DraftSchedule(gamma=gamma, adaptive=self._drafting("adaptive", DEFAULT_ADAPTIVE), max_gamma=max_gamma)

    def cost_aware(self, default: bool = False) -> bool:
        """Whether the draft length is re-chosen every round from measured costs (see :mod:`verispec.costs`).

        As given; else ``default`` (the pipeline's choice for its backend: on where verifying
        several tokens costs much more than one) unless ``adaptive=true`` was given.
        """
        if "cost_aware" in self.options:
            return bool(self.options["cost_aware"])
        return default and not self.options.get("adaptive", False)

    def stop_below(self) -> float:
        return float(self._drafting("stop_below", DEFAULT_STOP_BELOW))

    def draft_vocab(self) -> int:
        return int(self._drafting("draft_vocab", DEFAULT_DRAFT_VOCAB))

    def drafter(self) -> str:
        return str(self._drafting("drafter", "model"))

    def bridge(self) -> str:
        """How a draft of another tokenizer proposes verifier tokens (see :mod:`verispec.drafting.cross_tokenizer`)."""
        return str(self._drafting("bridge", "auto"))

    def ngram(self) -> int:
        """Prompt lookup's longest suffix to match (it tries shorter ones down to 1 token)."""
        return int(self._drafting("ngram", DEFAULT_NGRAM))

    def _drafting(self, key: str, default: Any) -> Any:
        """A drafting option: given, else the method's own default, else the shared one."""
        return self.options.get(key, self.spec.drafting_defaults.get(key, default))

    def label(self) -> str:
        """Canonical text form, usable as a key in results files."""
        if not self.options:
            return self.name
        return self.name + ":" + ",".join(f"{k}={_format(v)}" for k, v in sorted(self.options.items()))


# Measured with the draft length (verispec.schedule.DEFAULT_GAMMA): fixed drafts that stop when the
# draft is unsure, from a 32k-token draft head, won on a 2-core CPU without AMX (see docs/lossless.md).
DEFAULT_ADAPTIVE = False
DEFAULT_STOP_BELOW = 0.3
DEFAULT_DRAFT_VOCAB = 32768
DEFAULT_NGRAM = 3


def _format(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _parse_options(spec: MethodSpec, raw: str) -> dict[str, Any]:
    allowed = spec.allowed_options()
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, eq, value = item.partition("=")
        if not eq or key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"method {spec.name!r}: bad option {item!r}; options are key=value with key in: {known}")
        options[key] = _convert(spec.name, key, value, allowed[key])
    return options


def _convert(method: str, key: str, value: str, kind: type) -> Any:
    if kind is bool:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
    else:
        try:
            return kind(value)
        except ValueError:
            pass
    raise ConfigError(f"method {method!r}: option {key}={value!r} is not a valid {kind.__name__}")


_SPECS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> MethodSpec:
    """Make a method available by name everywhere (API, CLI, harness, server)."""
    _SPECS[spec.name] = spec
    return spec


def get_method_spec(name: str) -> MethodSpec:
    if name not in _SPECS:
        raise ConfigError(f"unknown method {name!r}; available: {', '.join(available_methods())}")
    return _SPECS[name]


def available_methods() -> list[str]:
    return list(_SPECS)


def cross_vocabulary_methods() -> list[str]:
    """Methods that work when draft and verifier tokenizers differ (drafting ones through a text bridge)."""
    return [name for name, spec in _SPECS.items() if not spec.same_vocabulary or not spec.uses_draft or not spec.uses_verifier]


register_method(MethodSpec("verifier", "verifier-only autoregressive decoding (baseline)", uses_draft=False, uses_verifier=True, lossless=True))
register_method(MethodSpec("draft", "draft-only autoregressive decoding (speed ceiling)", uses_draft=True, uses_verifier=False))
register_method(
    MethodSpec(
        "sd", "standard speculative decoding, lossless (greedy and sampling)", uses_draft=True, uses_verifier=True,
        same_vocabulary=False, lossless=True, build_rule=lambda o: ExactRule(),
    )
)
register_method(
    MethodSpec(
        "lenient", "lenient acceptance min(1, p/(l·q)), lossy (l=1 is lossless)", uses_draft=True, uses_verifier=True,
        same_vocabulary=False, rule_options={"l": float}, build_rule=lambda o: LenientRule(leniency=o.get("l", 0.5)),
    )
)
register_method(
    MethodSpec(
        "typical", "typical acceptance p(x) > min(ε, δ·exp(−H)), lossy", uses_draft=True, uses_verifier=True,
        same_vocabulary=False, rule_options={"epsilon": float, "delta": float},
        build_rule=lambda o: TypicalRule(epsilon=o.get("epsilon", 0.09), delta=o.get("delta", 0.3)),
    )
)


def _judge_for_verifier(rule: VerificationRule, context: RuleContext, options: Mapping[str, Any]) -> VerificationRule:
    """Load the head (the shipped one for the verifier unless ``head=PATH``) and check it fits the verifier
    and, for a head that reads the draft's distribution, the drafter."""
    assert isinstance(rule, JudgeRule)
    strict_tokens = careful_tokens(context.tokenizer) if rule.strict is not None and context.tokenizer is not None else None
    head = load_head_for(context.verifier, options.get("head"))
    if context.drafter is not None:
        head.check_drafter(context.drafter, options.get("head") or "shipped for the verifier")
    return rule.with_head(head, strict_tokens)


register_method(
    MethodSpec(
        "judge", "Judge Decoding: exact check OR a linear judge on the verifier's hidden states >= θ, lossy",
        uses_draft=True, uses_verifier=True, same_vocabulary=False,
        rule_options={"threshold": float, "head": str, "lookahead": bool, "gate": bool, "strict": float},
        build_rule=lambda o: JudgeRule(threshold=o.get("threshold"), lookahead=o.get("lookahead", False),
                                       gate=o.get("gate", True), strict=o.get("strict")),
        bind_rule=_judge_for_verifier,
        # Judged drafts pay off when long (the paper keeps ~19 tokens a round): start at 8 and grow
        # while whole drafts are kept, up to max_gamma. Not yet measured with a trained head here.
        drafting_defaults={"gamma": 8, "adaptive": True},
    )
)


# Collaborative methods (CoSD and its baselines): the draft writes and the assistants (the verifier,
# then any extra ones) review. ``gamma`` is CoSD's own fixed draft length.


def _rule_verifier(options: Mapping[str, Any]) -> RuleVerifier:
    return RuleVerifier(alpha=options.get("alpha", 0.5), beta=options.get("beta", 0.5))


def _requires(method: str, key: str, command: str) -> Callable[[Mapping[str, Any]], None]:
    """A check that ``key`` (a trained file) was given, saying how to make one."""

    def check(options: Mapping[str, Any]) -> None:
        if not options.get(key):
            raise ConfigError(
                f"method {method!r} needs {key}=PATH, a file from `verispec cosd {command}` "
                f"(e.g. {method}:{key}=runs/{key}.json)"
            )

    return check


register_method(
    MethodSpec(
        "cosd-rule", "CoSD: assistants replace unsure drafted tokens (q(x) < α, p(y) > β·q(x)), lossy, any tokenizers",
        uses_draft=True, uses_verifier=True, same_vocabulary=False,
        rule_options={"alpha": float, "beta": float, "gamma": int},
        build_fusion=lambda o, m: CoSD(m.draft, m.assistants, _rule_verifier(o), gamma=o.get("gamma", DEFAULT_GAMMA)),
        check_options=_rule_verifier,
    )
)
register_method(
    MethodSpec(
        "cosd-tree", "CoSD: a trained decision tree picks whose token to keep, lossy, any tokenizers",
        uses_draft=True, uses_verifier=True, same_vocabulary=False, rule_options={"tree": str, "gamma": int},
        build_fusion=lambda o, m: CoSD(
            m.draft, m.assistants, load_tree(o["tree"], m.identities()), gamma=o.get("gamma", DEFAULT_GAMMA)
        ),
        check_options=_requires("cosd-tree", "tree", "train-tree"),
    )
)
register_method(
    MethodSpec(
        "avg", "Avg decoding: each token from the mean of every model's distribution, one vocabulary",
        uses_draft=True, uses_verifier=True, build_fusion=lambda o, m: AvgDecoding([m.draft, *m.assistants]),
    )
)
register_method(
    MethodSpec(
        "co-llm", "Co-LLM-style deferral: a trained classifier on the draft's confidence hands tokens to an assistant",
        uses_draft=True, uses_verifier=True, rule_options={"classifier": str},
        build_fusion=lambda o, m: Deferral(
            m.draft, m.assistants, load_deferral(o["classifier"], m.identities()), source=o["classifier"]
        ),
        check_options=_requires("co-llm", "classifier", "train-deferral"),
    )
)

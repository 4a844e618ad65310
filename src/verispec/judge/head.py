"""The judge head: ``σ(w·h + b)`` on the verifier's hidden state, saved with what it was trained on.

A head file is one safetensors file: tensors ``weight`` ``[d]`` and ``bias`` ``[1]`` (float32), and
in the safetensors metadata ``format`` = ``verispec-judge-head`` plus ``judge``, the JSON of
:class:`HeadMetadata` (verifier identity, threshold, training-data summary, metrics, θ curve).
A head only makes sense on the hidden states it was trained on, so loading it for a verifier checks
the identity (model name, hidden size, vocabulary size, layer) and refuses any difference.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from verispec.backends.base import ModelBackend
from verispec.errors import ConfigError, JudgeHeadMismatchError, JudgeHeadNotFoundError
from verispec.judge.familiarity import TENSORS as FAMILIARITY_TENSORS
from verispec.judge.familiarity import Familiarity
from verispec.judge.features import HIDDEN_BLOCKS, LOGITS, VERIFIER_HIDDEN, check_blocks, round_features

HEAD_FORMAT = "verispec-judge-head"
HEAD_SUFFIX = ".safetensors"
# What the backend returns with ``hidden=True`` and what extraction reads: the same call, so
# decoding and training see the same states.
HIDDEN_STATE = "last decoder layer after the final norm (hidden_states[-1]), at each token's own position"


@dataclass(frozen=True)
class VerifierIdentity:
    """Which hidden states a head reads.

    ``name`` is the verifier as verispec names it (registry name, local path or hub id);
    ``layer`` indexes the model's ``hidden_states`` (``num_hidden_layers`` is the last layer);
    ``final_norm`` says the states are taken after the model's final norm.
    """

    name: str
    hidden_size: int
    vocab_size: int
    layer: int
    final_norm: bool = True

    @classmethod
    def of(cls, backend: ModelBackend) -> VerifierIdentity:
        """The identity of the hidden states ``backend.forward(..., hidden=True)`` returns."""
        model = backend.identity()
        return cls(model.name, model.hidden_size, model.vocab_size, model.layers)

    def differences(self, other: VerifierIdentity) -> list[str]:
        """``"field: mine vs other"`` for every field that differs."""
        return [
            f"{f.name} {getattr(self, f.name)!r} vs {getattr(other, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]

    def describe(self) -> str:
        return f"{self.name} (hidden size {self.hidden_size}, vocabulary {self.vocab_size}, layer {self.layer})"


@dataclass(frozen=True)
class HeadMetadata:
    """Everything saved next to the weights.

    ``threshold`` is θ (keep a drafted token when its score is at least θ), chosen on validation
    data for ``target_recall`` of bad tokens; ``training`` summarizes the data and the settings;
    ``metrics`` holds validation metrics and the θ curve. ``features`` names the blocks the weights
    read, in order (:mod:`verispec.judge.features`); heads from before blocks read the hidden state only.
    ``familiarity`` holds the limits of the head's familiarity gate, if it has one.
    """

    verifier: VerifierIdentity
    threshold: float
    hidden_state: str = HIDDEN_STATE
    features: tuple[str, ...] = (VERIFIER_HIDDEN,)
    familiarity: dict[str, Any] | None = None
    feature_dtype: str = "float32"
    target_recall: float | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HeadMetadata:
        data = json.loads(text)
        features = check_blocks(data.pop("features", [VERIFIER_HIDDEN]))
        return cls(**{**data, "verifier": VerifierIdentity(**data["verifier"]), "features": features})


@dataclass(frozen=True)
class JudgeHead:
    """One linear layer, ``d + 1`` parameters, and its metadata; optionally where its training states lie."""

    weight: torch.Tensor
    bias: torch.Tensor
    meta: HeadMetadata
    familiarity: Familiarity | None = None

    @property
    def width(self) -> int:
        """How many numbers the head reads per token (its feature blocks side by side)."""
        return int(self.weight.shape[0])

    @property
    def reads_hidden(self) -> bool:
        return bool(HIDDEN_BLOCKS.intersection(self.meta.features))

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        """``σ(w·f + b)`` for each row of ``features`` ``[n, width]``: the judge's belief the token is fine."""
        if features.shape[-1] != self.width:
            raise JudgeHeadMismatchError(
                f"the judge head reads {self.width} numbers per token ({', '.join(self.meta.features)}) but got "
                f"{features.shape[-1]}: it was trained for {self.meta.verifier.describe()}"
            )
        return torch.sigmoid(features.float() @ self.weight + self.bias)

    def round_scores(self, hidden: torch.Tensor | None, verifier_logits: torch.Tensor, draft_logits: torch.Tensor,
                     tokens: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """The scores of one round's drafted ``tokens`` from what the verification pass computed
        (``context``: the verifier's states that predicted each slot, for heads that read them)."""
        return self.scores(round_features(self.meta.features, hidden, verifier_logits, draft_logits, tokens, context))

    def to(self, device: torch.device | str) -> JudgeHead:
        familiarity = self.familiarity.to(device) if self.familiarity is not None else None
        return replace(self, weight=self.weight.to(device), bias=self.bias.to(device), familiarity=familiarity)

    def familiar(self, hidden: torch.Tensor) -> torch.Tensor:
        """Per row: like the head's training states (always True for a head without a gate)."""
        if self.familiarity is None:
            return torch.ones(hidden.shape[0], dtype=torch.bool, device=hidden.device)
        return self.familiarity.familiar(hidden)

    def check(self, identity: VerifierIdentity, source: str) -> None:
        """Refuse a verifier other than the one the head was trained on."""
        differences = self.meta.verifier.differences(identity)
        if differences:
            raise JudgeHeadMismatchError(
                f"the judge head {source} was trained for {self.meta.verifier.describe()}, not for "
                f"{identity.describe()} ({'; '.join(differences)}). Train a head for this verifier with "
                f"`verispec judge train DATA.jsonl --verifier {identity.name} --out HEAD{HEAD_SUFFIX}` "
                f"and pass it as `judge:head=HEAD{HEAD_SUFFIX}`"
            )

    def check_drafter(self, drafter: str, source: str) -> None:
        """Refuse a drafter other than the one a head reading logit features was trained with: those
        features describe that draft's distribution (prompt lookup has none)."""
        trained = self.meta.training.get("data", {}).get("draft")
        if LOGITS not in self.meta.features or trained is None or drafter == trained:
            return
        raise JudgeHeadMismatchError(
            f"the judge head {source} reads the draft's distribution and was trained with the draft {trained}, "
            f"not {drafter}. Draft with {trained}, or mine and fit a head for this pair (`verispec judge mine "
            f"--draft DRAFT` then `verispec judge fit`; `--features verifier_hidden,verifier_context` reads no draft)"
        )

    def save(self, path: str | Path) -> Path:
        """Write the head file (parent directories are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {
            "weight": self.weight.detach().float().cpu().contiguous(),
            "bias": self.bias.detach().float().cpu().reshape(1).contiguous(),
        }
        meta = self.meta
        if self.familiarity is not None:
            tensors.update({k: v.detach().float().cpu().contiguous() for k, v in self.familiarity.tensors().items()})
            meta = replace(meta, familiarity=self.familiarity.limits())
        save_file(tensors, str(path), metadata={"format": HEAD_FORMAT, "judge": meta.to_json()})
        return path

    @classmethod
    def load(cls, path: str | Path) -> JudgeHead:
        """Read a head file written by :meth:`save` (on the CPU)."""
        path = Path(path)
        if not path.is_file():
            raise JudgeHeadNotFoundError(f"the judge head file {path} does not exist; check the path given as head=")
        with safe_open(str(path), framework="pt") as f:
            info = f.metadata() or {}
            if info.get("format") != HEAD_FORMAT or "judge" not in info:
                raise ConfigError(f"{path} is not a verispec judge head (written by `verispec judge train`)")
            weight, bias = f.get_tensor("weight"), f.get_tensor("bias")
            meta = HeadMetadata.from_json(info["judge"])
            familiarity = (Familiarity.from_parts({name: f.get_tensor(name) for name in FAMILIARITY_TENSORS}, meta.familiarity)
                           if meta.familiarity is not None else None)
        return cls(weight.float(), bias.float().reshape(()), meta, familiarity)


def shipped_head_path(verifier_name: str) -> Path | None:
    """The head that ships in the package for a registry verifier name, if there is one."""
    candidate = resources.files("verispec.judge") / "heads" / f"{verifier_name}{HEAD_SUFFIX}"
    return Path(str(candidate)) if "/" not in verifier_name and candidate.is_file() else None


def shipped_heads() -> list[str]:
    """Names of the verifiers with a head in the package."""
    folder = resources.files("verispec.judge") / "heads"
    return sorted(p.name[: -len(HEAD_SUFFIX)] for p in folder.iterdir() if p.name.endswith(HEAD_SUFFIX))


def head_path_for(verifier_name: str, path: str | Path | None = None) -> Path | None:
    """The head file a judge reads: ``path`` when given, else the one shipped for the verifier (None: none ships)."""
    return Path(path) if path is not None else shipped_head_path(verifier_name)


def load_head_for(verifier: ModelBackend, path: str | Path | None = None) -> JudgeHead:
    """The head at ``path`` (default: the shipped head for the verifier), checked and on its device."""
    identity = VerifierIdentity.of(verifier)
    resolved = head_path_for(identity.name, path)
    if resolved is None:
        shipped = ", ".join(shipped_heads()) or "none yet"
        raise JudgeHeadNotFoundError(
            f"no judge head ships for the verifier {identity.name!r} (shipped for: {shipped}). Train one with "
            f"`verispec judge train DATA.jsonl --verifier {identity.name} --out HEAD{HEAD_SUFFIX}` and pass it "
            f"as `judge:head=HEAD{HEAD_SUFFIX}`"
        )
    head = JudgeHead.load(resolved)
    head.check(identity, str(resolved))
    return head.to(verifier.device)

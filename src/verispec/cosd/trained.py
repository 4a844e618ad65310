"""Trained classifiers on disk (CoSD trees, deferral classifiers): plain JSON with what they were trained for.

A file records the models it was trained with (name and a hash of the vocabulary), the feature
names in order, the class names and a training summary. Loading it for other models or features
fails with a :class:`ClassifierMismatchError` that says how to retrain. No pickle: the file is
readable, diffable and safe to load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from transformers import PreTrainedTokenizerBase

from verispec.errors import ClassifierMismatchError, ConfigError

FORMAT = "verispec-cosd-classifier"
VERSION = 1
Kind = Literal["tree", "deferral"]
_TRAIN_COMMAND = {"tree": "train-tree", "deferral": "train-deferral"}


@dataclass(frozen=True)
class ModelIdentity:
    """A model as a trained file knows it: its role, name and vocabulary."""

    role: str  # "draft", "assistant1", "assistant2", ...
    name: str
    vocab_size: int
    vocab_sha256: str

    @classmethod
    def of(cls, role: str, name: str, tokenizer: PreTrainedTokenizerBase) -> ModelIdentity:
        return cls(role, name, len(tokenizer), vocabulary_hash(tokenizer))


def vocabulary_hash(tokenizer: PreTrainedTokenizerBase) -> str:
    """sha256 of the token-string → id map: equal hashes mean the same vocabulary."""
    items = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode()).hexdigest()


def model_roles(n_assistants: int) -> list[str]:
    """``["draft", "assistant1", ...]``: class ``k`` of a classifier is the model in role ``k``."""
    return ["draft", *(f"assistant{k}" for k in range(1, n_assistants + 1))]


def model_identities(models: Sequence[tuple[str, PreTrainedTokenizerBase]]) -> list[ModelIdentity]:
    """Role, name and vocabulary of each ``(name, tokenizer)``, the draft first."""
    return [ModelIdentity.of(role, name, tokenizer) for role, (name, tokenizer) in zip(model_roles(len(models) - 1), models)]


@dataclass(frozen=True)
class TrainingSummary:
    """Where the training positions came from and how well the classifier fits them."""

    task: str
    split: str
    samples: int
    item_ids: tuple[str, ...]
    positions: int
    dropped: int
    label_counts: dict[str, int]
    accuracy: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassifierFile:
    """A trained classifier and what it was trained for. ``payload`` is the classifier itself."""

    kind: Kind
    models: tuple[ModelIdentity, ...]
    features: tuple[str, ...]
    class_names: tuple[str, ...]
    payload: dict[str, Any]
    training: TrainingSummary

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, kind: Kind | None = None) -> ClassifierFile:
        """Read a file written by :meth:`save`; ``kind`` refuses files of the other kind."""
        data = _read_json(Path(path))
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ConfigError(
                f"{path} is not a verispec CoSD classifier file (format {FORMAT} version {VERSION}); "
                "train one with `verispec cosd train-tree` or `verispec cosd train-deferral`"
            )
        if kind is not None and data.get("kind") != kind:
            raise ConfigError(
                f"{path} holds a {data.get('kind')} classifier, not a {kind}; train one with `verispec cosd {_TRAIN_COMMAND[kind]}`"
            )
        try:
            training = data["training"]
            return cls(
                kind=data["kind"],
                models=tuple(ModelIdentity(**m) for m in data["models"]),
                features=tuple(data["features"]),
                class_names=tuple(data["class_names"]),
                payload=data["payload"],
                training=TrainingSummary(**{**training, "item_ids": tuple(training["item_ids"])}),
            )
        except (KeyError, TypeError) as err:
            raise ConfigError(f"{path} is an incomplete classifier file ({err!r} is wrong or missing); retrain it") from err

    def summary(self) -> str:
        """What the classifier was trained on and how well it fits, one fact per line."""
        t = self.training
        return (
            f"trained on {t.samples} {t.task} {t.split} item(s) ({', '.join(t.item_ids)}): {t.positions} positions, "
            f"{t.dropped} dropped (no model or every model right); training accuracy {t.accuracy:.1%}\n"
            + "labels: " + ", ".join(f"{name} {count}" for name, count in t.label_counts.items()) + "\n"
            + "models: " + ", ".join(f"{m.role}={m.name}" for m in self.models) + "\n"
        )

    def check(self, models: Sequence[ModelIdentity], features: Sequence[str]) -> None:
        """Refuse to use this classifier for other models (names or vocabularies) or features."""
        retrain = (
            f"retrain it for these models: `verispec cosd {_TRAIN_COMMAND[self.kind]} "
            + " ".join(f"--{'draft' if m.role == 'draft' else 'assistant'} {m.name}" for m in models)
            + " --out FILE`"
        )
        trained = ", ".join(f"{m.role} {m.name}" for m in self.models)
        given = ", ".join(f"{m.role} {m.name}" for m in models)
        if [(m.role, m.name) for m in self.models] != [(m.role, m.name) for m in models]:
            raise ClassifierMismatchError(f"this {self.kind} was trained for {trained}, not {given}; {retrain}")
        for mine, theirs in zip(self.models, models):
            if (mine.vocab_size, mine.vocab_sha256) != (theirs.vocab_size, theirs.vocab_sha256):
                raise ClassifierMismatchError(
                    f"the {mine.role} {mine.name!r} has another vocabulary than the one this {self.kind} was trained "
                    f"with ({theirs.vocab_size} vs {mine.vocab_size} tokens, or other token ids); {retrain}"
                )
        if tuple(features) != self.features:
            raise ClassifierMismatchError(
                f"this {self.kind} reads the features {', '.join(self.features)} but this verispec computes "
                f"{', '.join(features)}; {retrain}"
            )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"classifier file {path} does not exist; train one with `verispec cosd train-tree` (or train-deferral)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON ({err}); retrain it with `verispec cosd train-tree`") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a verispec CoSD classifier file; retrain it with `verispec cosd train-tree`")
    return data


def require_sklearn() -> None:
    """Fail early, with the install command, when scikit-learn (the ``cosd`` extra) is missing."""
    try:
        import sklearn  # noqa: F401
    except ImportError as err:
        raise ConfigError(
            "training a CoSD tree or deferral classifier needs scikit-learn: pip install 'verispec[cosd]' "
            "(or pip install scikit-learn)"
        ) from err

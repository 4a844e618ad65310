"""Training data for the CoSD tree and the deferral classifier: run the models along reference answers.

Each model reads the prompt and the reference answer in one forward pass (teacher forcing). At
every position where the draft and every assistant have a token starting at the same character,
the features are what CoSD sees at generation time (the draft's probability of its own top token
and its entropy; each assistant's top-token probability and entropy), and the label is the model
whose top token is the reference's token. Positions where no model or every model is right are
dropped (they teach nothing about whom to trust); where some but not all are right, the most
confident of those wins the label, as the CoSD authors did with three models.

Only reserved training items are used (``task.items(split="train")``), never evaluation items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from verispec.cosd.baselines import LogisticDeferral
from verispec.cosd.bridge import encode, positions_from
from verispec.cosd.features import DRAFT_FEATURES, entropy, feature_names
from verispec.cosd.members import Member, ModelLike, members_of
from verispec.cosd.trained import ClassifierFile, Kind, TrainingSummary, model_identities, model_roles, require_sklearn
from verispec.cosd.tree import DecisionTree
from verispec.errors import ConfigError
from verispec.eval.tasks import get_task
from verispec.sampling import SamplingParams, warp_probs
from verispec.tokens import Prompt


@dataclass(frozen=True)
class Reference:
    """A prompt and a reference answer to run the models along."""

    item_id: str
    prompt: Prompt
    answer: str


@dataclass(frozen=True)
class TrainingOptions:
    """Where the reference answers come from (``samples`` per task) and how big the classifier may grow."""

    tasks: tuple[str, ...] = ("gsm8k",)
    samples: int = 3
    seed: int = 0
    max_depth: int = 3
    chat: bool = True

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ConfigError("name at least one task to take reference answers from")
        if self.samples < 1:
            raise ConfigError(f"samples must be >= 1 reference answers, got {self.samples}")
        if self.max_depth < 1:
            raise ConfigError(f"max_depth must be >= 1, got {self.max_depth}")


@dataclass
class Examples:
    """Feature rows and labels (0 draft, k assistant k), with counts of what was dropped."""

    features: list[list[float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    dropped: int = 0


def task_references(options: TrainingOptions) -> list[Reference]:
    """Reference answers of ``options.samples`` reserved training items of each task."""
    references = []
    for name in options.tasks:
        task = get_task(name)
        items = task.items(split="train", limit=options.samples, seed=options.seed)
        if not items:
            raise ConfigError(f"task {name!r} reserves no training items to take reference answers from")
        for item in items:
            answer = task.reference_answer(item)
            if answer is None:
                raise ConfigError(
                    f"task {name!r} has no reference answers to train on; use tasks that have them "
                    "(gsm8k, mbpp, humaneval, mmlu, arc_challenge)"
                )
            references.append(Reference(f"{name}/{item.item_id}", _prompt(task.messages(item), options.chat), answer))
    return references


def _prompt(messages: list[dict[str, str]], chat: bool) -> Prompt:
    """Chat messages, or for models without a chat template a plain question-and-answer text."""
    if chat:
        return messages
    question = "\n\n".join(m["content"] for m in messages if m["role"] == "user")
    return f"Question: {question}\nAnswer:\n"


def collect(members: Sequence[Member], references: Sequence[Reference], *, chat: bool) -> Examples:
    """Features and labels at every aligned position of every reference answer."""
    examples = Examples()
    for reference in references:
        roles = model_roles(len(members) - 1)
        rows = [_read_along(m, reference, chat=chat, role=role) for m, role in zip(members, roles)]
        for start, view in rows[0].items():
            aligned = [row.get(start) for row in rows[1:]]
            if all(a is not None for a in aligned):
                _add(examples, [view, *aligned])  # type: ignore[list-item]
    return examples


def _read_along(member: Member, reference: Reference, *, chat: bool, role: str) -> dict[int, tuple[torch.Tensor, int]]:
    """For each token of the answer that begins on a whole character: its start → (distribution, token)."""
    member.read_prompt(reference.prompt, chat=chat, role=role)
    answer = encode(member.tokenizer, reference.answer)
    ids = [*member.prompt_ids, *answer]
    member.scorer.reset()
    probs = warp_probs(member.scorer.score(ids, len(member.prompt_ids) - 1)[: len(answer)], SamplingParams())
    return {p.start: (probs[p.index], answer[p.index]) for p in positions_from(member.tokenizer, answer, 0)}


def _add(examples: Examples, views: Sequence[tuple[torch.Tensor, int]]) -> None:
    """Append one position's features and label, or count it as dropped."""
    features: list[float] = []
    right: list[tuple[float, int]] = []
    for k, (probs, target) in enumerate(views):
        top_prob, top = probs.max(dim=-1)
        features += [float(top_prob), float(entropy(probs))]
        if int(top) == target:
            right.append((float(top_prob), -k))
    if not right or len(right) == len(views):
        examples.dropped += 1
        return
    examples.features.append(features)
    examples.labels.append(-max(right)[1])


def train(
    kind: Kind, draft: ModelLike, assistants: Sequence[ModelLike], options: TrainingOptions,
    references: Sequence[Reference] | None = None,
) -> ClassifierFile:
    """Train a CoSD tree (``kind="tree"``) or a deferral classifier on reference answers.

    ``references`` default to ``options.samples`` reserved training items of each of ``options.tasks``.
    """
    require_sklearn()
    members = members_of([draft, *assistants])
    source = (",".join(options.tasks), "train") if references is None else ("given references", "-")
    references = list(references) if references is not None else task_references(options)
    examples = collect(members, references, chat=options.chat)
    if not examples.labels:
        raise ConfigError(
            f"no position of the {len(references)} reference answer(s) separates the models (each was right "
            "everywhere or wrong everywhere); train on more samples (--samples)"
        )
    names = feature_names(len(assistants)) if kind == "tree" else DRAFT_FEATURES
    rows = examples.features if kind == "tree" else [f[: len(DRAFT_FEATURES)] for f in examples.features]
    if kind == "tree":
        model: DecisionTree | LogisticDeferral = DecisionTree.fit(rows, examples.labels, max_depth=options.max_depth, seed=options.seed)
    else:
        model = LogisticDeferral.fit(rows, examples.labels, seed=options.seed)
    correct = sum(model.predict(x) == y for x, y in zip(rows, examples.labels))
    class_names = tuple(f"{role} ({m.name})" for role, m in zip(model_roles(len(assistants)), members))
    return ClassifierFile(
        kind=kind,
        models=tuple(model_identities([(m.name, m.tokenizer) for m in members])),
        features=tuple(names),
        class_names=class_names,
        payload=model.to_payload(),
        training=TrainingSummary(
            task=source[0], split=source[1], samples=len(references), item_ids=tuple(r.item_id for r in references),
            positions=len(examples.labels), dropped=examples.dropped,
            label_counts={class_names[c]: n for c, n in sorted(Counter(examples.labels).items())},
            accuracy=correct / len(examples.labels),
            options={"max_depth": options.max_depth, "seed": options.seed, "chat": options.chat} if kind == "tree"
            else {"seed": options.seed, "chat": options.chat},
        ),
    )

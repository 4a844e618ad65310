"""CoSD's tree-based verification: a small decision tree picks, per position, whose token to keep.

The tree is fitted with scikit-learn and stored as plain data (node arrays in JSON), so using a
tree needs neither scikit-learn nor pickle. Class ``k`` is the model in role ``k``: 0 the draft,
``k >= 1`` assistant ``k``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from verispec.cosd.features import Slot, feature_names
from verispec.cosd.trained import ClassifierFile, ModelIdentity, require_sklearn

LEAF = -1


@dataclass(frozen=True)
class DecisionTree:
    """A fitted tree as node arrays. Node ``i`` sends ``x`` left iff ``x[feature[i]] <= threshold[i]``;
    a leaf (``feature[i] == -1``) predicts the class with the largest ``value[i]``."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[tuple[float, ...], ...]
    samples: tuple[int, ...]
    classes: tuple[int, ...]

    @classmethod
    def fit(cls, features: Sequence[Sequence[float]], labels: Sequence[int], *, max_depth: int, seed: int = 0) -> DecisionTree:
        """Fit scikit-learn's ``DecisionTreeClassifier`` and keep only its node arrays."""
        require_sklearn()
        from sklearn.tree import DecisionTreeClassifier

        fitted = DecisionTreeClassifier(max_depth=max_depth, random_state=seed).fit(np.asarray(features), np.asarray(labels))
        return cls.from_sklearn(fitted)

    @classmethod
    def from_sklearn(cls, fitted: Any) -> DecisionTree:
        tree = fitted.tree_
        return cls(
            feature=tuple(int(f) if f >= 0 else LEAF for f in tree.feature),
            threshold=tuple(float(t) for t in tree.threshold),
            left=tuple(int(i) for i in tree.children_left),
            right=tuple(int(i) for i in tree.children_right),
            value=tuple(tuple(float(v) for v in row[0]) for row in tree.value),
            samples=tuple(int(n) for n in tree.n_node_samples),
            classes=tuple(int(c) for c in fitted.classes_),
        )

    def predict(self, x: Sequence[float]) -> int:
        """The class of one feature vector, exactly as scikit-learn would predict it."""
        node = 0
        while self.feature[node] != LEAF:
            # scikit-learn compares float32 features with float64 thresholds; do the same.
            goes_left = float(np.float32(x[self.feature[node]])) <= self.threshold[node]
            node = self.left[node] if goes_left else self.right[node]
        return self.classes[int(np.argmax(self.value[node]))]

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> DecisionTree:
        return cls(**{k: tuple(tuple(v) if isinstance(v, list) else v for v in payload[k]) for k in payload})

    def rules(self, names: Sequence[str], class_names: Sequence[str], decimals: int = 2) -> str:
        """The tree as indented rules, in the layout of ``sklearn.tree.export_text``.

        ``class_names[c]`` names class ``c`` (a model role), whichever classes the tree has seen.
        """
        return "".join(line + "\n" for line in self._lines(0, 0, names, class_names, decimals))

    def _lines(self, node: int, depth: int, names: Sequence[str], class_names: Sequence[str], decimals: int) -> Iterator[str]:
        indent = "|   " * depth + "|---"
        if self.feature[node] == LEAF:
            yield f"{indent} class: {class_names[self.classes[int(np.argmax(self.value[node]))]]}"
            return
        name, threshold = names[self.feature[node]], f"{self.threshold[node]:.{decimals}f}"
        yield f"{indent} {name} <= {threshold}"
        yield from self._lines(self.left[node], depth + 1, names, class_names, decimals)
        yield f"{indent} {name} >  {threshold}"
        yield from self._lines(self.right[node], depth + 1, names, class_names, decimals)


@dataclass(frozen=True)
class TreeVerifier:
    """CoSD-Tree: at each slot the tree picks the writer from the draft's and assistants' confidences.

    Slots where some assistant has no token of its own (tokenizers that split the text
    differently) keep the draft's token: the tree needs every assistant's features.
    """

    tree: DecisionTree
    source: str = "tree"

    def choose(self, slot: Slot) -> int:
        features = slot.features()
        return 0 if features is None else self.tree.predict(features)

    def label(self) -> str:
        return f"cosd-tree:tree={self.source}"


def load_tree(path: str | Path, models: Sequence[ModelIdentity]) -> TreeVerifier:
    """Read a tree file and check it was trained for ``models`` (draft first) and today's features."""
    stored = ClassifierFile.load(path, kind="tree")
    stored.check(models, feature_names(len(models) - 1))
    return TreeVerifier(DecisionTree.from_payload(stored.payload), source=Path(path).name)

"""The CoSD tree: fit, predict like scikit-learn, print like export_text, save/load/check, refuse mismatches."""

import json

import numpy as np
import pytest
from cosd_models import merged_tokenizer
from sklearn.tree import DecisionTreeClassifier, export_text
from tiny_models import byte_tokenizer

from verispec.cli import main
from verispec.cosd import DecisionTree, TreeVerifier, load_tree
from verispec.cosd.features import Review, Slot, feature_names
from verispec.cosd.trained import ClassifierFile, ModelIdentity, TrainingSummary
from verispec.errors import ClassifierMismatchError, ConfigError


def synthetic(n=300, assistants=1, seed=0):
    """Features like CoSD's; label: the assistant when the draft is unsure and the assistant is not."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, len(feature_names(assistants))))
    y = np.where((x[:, 0] < 0.4) & (x[:, 2] > 0.5), 1, 0)
    if assistants == 2:
        y = np.where((y == 1) & (x[:, 4] > x[:, 2]), 2, y)
    return x, y


def models(assistants=1):
    byte, merged = byte_tokenizer(), merged_tokenizer()
    ids = [ModelIdentity.of("draft", "tiny-byte", byte)]
    ids += [ModelIdentity.of(f"assistant{k}", f"tiny-merged-{k}", merged) for k in range(1, assistants + 1)]
    return ids


def stored_tree(tree, assistants=1):
    names = ["draft (tiny-byte)", *(f"assistant{k} (tiny-merged-{k})" for k in range(1, assistants + 1))]
    return ClassifierFile(
        kind="tree", models=tuple(models(assistants)), features=feature_names(assistants), class_names=tuple(names),
        payload=tree.to_payload(),
        training=TrainingSummary("gsm8k", "train", 3, ("a", "b", "c"), 300, 12, {names[0]: 200, names[1]: 100}, 0.97),
    )


@pytest.mark.parametrize("assistants", [1, 2])
def test_tree_predicts_and_prints_exactly_like_scikit_learn(assistants):
    x, y = synthetic(assistants=assistants)
    fitted = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y)
    tree = DecisionTree.from_sklearn(fitted)
    probe = np.random.default_rng(1).random((500, x.shape[1]))
    assert [tree.predict(row) for row in probe] == fitted.predict(probe).tolist()
    assert len(set(fitted.predict(probe))) == assistants + 1  # the check has power: every class occurs
    names = list(feature_names(assistants))
    classes = ["draft", "one", "two"][: assistants + 1]
    assert tree.rules(names, classes) == export_text(fitted, feature_names=names, class_names=classes)


def test_save_load_round_trip_and_verifier(tmp_path):
    x, y = synthetic()
    tree = DecisionTree.fit(x, y, max_depth=2)
    path = tmp_path / "tree.json"
    stored_tree(tree).save(path)
    assert json.loads(path.read_text())["format"] == "verispec-cosd-classifier"  # plain JSON, no pickle
    verifier = load_tree(path, models())
    assert verifier.tree == tree
    unsure = Slot(0, 0, 0.1, 2.0, (Review(0, False, 5, 0.9, 0.3, 0),))
    sure = Slot(0, 0, 0.9, 0.2, (Review(0, False, 5, 0.9, 0.3, 0),))
    assert (verifier.choose(unsure), verifier.choose(sure)) == (1, 0)
    no_opinion = Slot(0, 0, 0.1, 2.0, (None,))
    assert verifier.choose(no_opinion) == 0  # the tree needs every assistant's features


def test_mismatched_trees_are_refused_with_what_to_do(tmp_path):
    x, y = synthetic()
    path = tmp_path / "tree.json"
    stored_tree(DecisionTree.fit(x, y, max_depth=2)).save(path)
    merged = models()[1]
    renamed = [models()[0], ModelIdentity("assistant1", "other-model", merged.vocab_size, merged.vocab_sha256)]
    with pytest.raises(ClassifierMismatchError, match="trained for draft tiny-byte, assistant1 tiny-merged-1.*train-tree"):
        load_tree(path, renamed)
    other_vocab = [models()[0], ModelIdentity("assistant1", "tiny-merged-1", 257, "0" * 64)]
    with pytest.raises(ClassifierMismatchError, match="another vocabulary"):
        load_tree(path, other_vocab)
    with pytest.raises(ClassifierMismatchError, match="trained for"):
        load_tree(path, models(assistants=2))  # one more assistant: other models and features
    data = json.loads(path.read_text())
    data["features"] = ["draft_prob", "draft_entropy", "assistant1_top_prob", "assistant1_draft_prob"]
    path.write_text(json.dumps(data))
    with pytest.raises(ClassifierMismatchError, match="reads the features"):
        load_tree(path, models())


def test_broken_or_missing_files_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="does not exist.*train-tree"):
        load_tree(tmp_path / "absent.json", models())
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_tree(tmp_path / "bad.json", models())
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ConfigError, match="not a verispec CoSD classifier"):
        load_tree(tmp_path / "other.json", models())


def test_show_tree_prints_rules_and_training_summary(tmp_path, capsys):
    x, y = synthetic()
    tree = DecisionTree.fit(x, y, max_depth=2)
    stored_tree(tree).save(tmp_path / "tree.json")
    assert main(["cosd", "show-tree", str(tmp_path / "tree.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(tree.rules(feature_names(1), ["draft (tiny-byte)", "assistant1 (tiny-merged-1)"]))
    assert "|--- draft_prob <= " in out and "class: assistant1 (tiny-merged-1)" in out
    assert "trained on 3 gsm8k train item(s)" in out and "training accuracy 97.0%" in out


def test_tree_verifier_label_names_the_file():
    assert TreeVerifier(DecisionTree.fit([[0.1, 0, 0, 0], [0.9, 0, 0, 0]], [1, 0], max_depth=1), "t.json").label() == "cosd-tree:tree=t.json"

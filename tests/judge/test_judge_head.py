"""Head files: save/load round trip, the verifier identity check, and the shipped heads."""

import pytest
import torch
from safetensors.torch import save_file

from tiny_models import tiny_model
from verispec.backends import TransformersBackend
from verispec.errors import ConfigError, JudgeHeadMismatchError, JudgeHeadNotFoundError
from verispec.judge.features import LOGIT_FEATURES
from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity, load_head_for, shipped_head_path, shipped_heads


@pytest.fixture(scope="module")
def backend():
    return TransformersBackend(tiny_model(0), name="tiny-verifier")


def head_for(identity, threshold=0.25):
    meta = HeadMetadata(identity, threshold, target_recall=0.9, training={"data": {"samples": 3}}, metrics={"validation": {"roc_auc": 0.8}})
    return JudgeHead(torch.linspace(-1, 1, identity.hidden_size), torch.tensor(0.5), meta)


def test_identity_of_a_backend_names_model_widths_and_last_layer(backend):
    assert VerifierIdentity.of(backend) == VerifierIdentity("tiny-verifier", hidden_size=32, vocab_size=257, layer=2)


def test_save_load_round_trip(backend, tmp_path):
    head = head_for(VerifierIdentity.of(backend))
    loaded = JudgeHead.load(head.save(tmp_path / "deep" / "head.safetensors"))
    assert torch.equal(loaded.weight, head.weight) and torch.equal(loaded.bias, head.bias)
    assert loaded.meta == head.meta
    hidden = torch.randn(5, 32)
    assert torch.allclose(loaded.scores(hidden), torch.sigmoid(hidden @ head.weight + 0.5))


def test_load_for_the_right_verifier(backend, tmp_path):
    path = head_for(VerifierIdentity.of(backend)).save(tmp_path / "h.safetensors")
    assert load_head_for(backend, path).meta.threshold == 0.25


@pytest.mark.parametrize(
    ("change", "difference"),
    [({"name": "other-model"}, "name 'other-model' vs 'tiny-verifier'"), ({"layer": 1}, "layer 1 vs 2"), ({"vocab_size": 300}, "vocab_size")],
)
def test_head_of_another_verifier_is_refused(backend, tmp_path, change, difference):
    identity = VerifierIdentity(**{**VerifierIdentity.of(backend).__dict__, **change})
    path = head_for(identity).save(tmp_path / "h.safetensors")
    with pytest.raises(JudgeHeadMismatchError, match=difference) as err:
        load_head_for(backend, path)
    assert "verispec judge train DATA.jsonl --verifier tiny-verifier" in str(err.value)


def test_head_of_another_width_is_refused(tmp_path):
    wide = TransformersBackend(tiny_model(0, hidden=64), name="tiny-verifier")
    path = head_for(VerifierIdentity("tiny-verifier", 32, 257, 2)).save(tmp_path / "h.safetensors")
    with pytest.raises(JudgeHeadMismatchError, match="hidden_size 32 vs 64"):
        load_head_for(wide, path)


def test_missing_heads_and_other_files_are_refused(backend, tmp_path):
    with pytest.raises(JudgeHeadNotFoundError, match="no judge head ships for the verifier 'tiny-verifier'.*verispec judge train"):
        load_head_for(backend)
    with pytest.raises(JudgeHeadNotFoundError, match="does not exist"):
        load_head_for(backend, tmp_path / "nope.safetensors")
    save_file({"weight": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ConfigError, match="not a verispec judge head"):
        JudgeHead.load(tmp_path / "other.safetensors")


def test_shipped_heads_are_named_after_their_verifier():
    for name in shipped_heads():
        head = JudgeHead.load(shipped_head_path(name))
        assert head.meta.verifier.name == name
        blocks = {"verifier_hidden": head.meta.verifier.hidden_size, "verifier_context": head.meta.verifier.hidden_size,
                  "logits": len(LOGIT_FEATURES)}
        assert head.width == sum(blocks[b] for b in head.meta.features)  # its weights read the blocks it names
    assert shipped_head_path("owner/model") is None  # hub ids never map into the package

"""`verispec judge retarget`: θ moves along the head's own out-of-fold curve; the weights stay."""

import pytest
import torch

from verispec.cli import main
from verispec.errors import ConfigError
from verispec.judge.head import HeadMetadata, JudgeHead, VerifierIdentity
from verispec.training.judge.mining.retarget import retarget

CURVE = [{"target": 0.9, "threshold": 0.69, "recall": 0.901, "harmless_kept": 0.35},
         {"target": 0.99, "threshold": 0.83, "recall": 0.991, "harmless_kept": 0.07}]


def fitted_head(metrics=None) -> JudgeHead:
    meta = HeadMetadata(VerifierIdentity("v", 4, 10, 2), 0.69, target_recall=0.9, training={"fit": {"c": 0.1}},
                        metrics={"grouped_cv": {"curve": CURVE}} if metrics is None else metrics)
    return JudgeHead(torch.tensor([0.5, -1.0, 2.0, 0.0]), torch.tensor(0.25), meta)


def test_the_new_theta_is_the_curves_point_and_the_move_is_recorded(tmp_path):
    head = fitted_head()
    moved = JudgeHead.load(retarget(head, 0.99).save(tmp_path / "h.safetensors"))
    assert (moved.meta.threshold, moved.meta.target_recall) == (0.83, 0.99)
    assert moved.meta.training == {"fit": {"c": 0.1}, "retargeted": {"from_target_recall": 0.9, "from_threshold": 0.69}}
    assert torch.equal(moved.weight, head.weight) and torch.equal(moved.bias, head.bias)
    assert moved.meta.metrics == head.meta.metrics


def test_a_recall_off_the_curve_or_a_head_without_one_says_what_to_do():
    with pytest.raises(ConfigError, match=r"recalls 0.9, 0.99, not 0.8.*--target-recall 0.8"):
        retarget(fitted_head(), 0.8)
    with pytest.raises(ConfigError, match="no out-of-fold θ curve.*judge:threshold"):
        retarget(fitted_head(metrics={"validation": {"roc_auc": 0.9}}), 0.99)


def test_the_command_writes_the_moved_head(tmp_path, capsys):
    source = fitted_head().save(tmp_path / "fit.safetensors")
    assert main(["judge", "retarget", str(source), "--target-recall", "0.99", "--out", str(tmp_path / "out.safetensors")]) == 0
    assert JudgeHead.load(tmp_path / "out.safetensors").meta.threshold == 0.83
    assert "θ 0.8300 (recall 0.99" in capsys.readouterr().out

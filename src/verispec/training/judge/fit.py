"""Logistic regression for the judge head: ``σ(w·h + b)`` ≈ P(token is good), in float32.

Bad tokens are rare (one per erroneous response), so the loss weighs both classes equally in
total. Features are standardized for a well-conditioned optimization and the scaling is folded back
into ``w`` and ``b``, so the head still reads raw hidden states with ``d + 1`` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from verispec.errors import ConfigError, JudgeDataError


@dataclass(frozen=True)
class FitConfig:
    """Full-batch Adam: ``epochs`` steps at learning rate ``lr``, L2 penalty ``weight_decay`` on ``w``."""

    epochs: int = 300
    lr: float = 0.05
    weight_decay: float = 1e-3

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ConfigError(f"need epochs >= 1, lr > 0, weight_decay >= 0; got {self.epochs}, {self.lr}, {self.weight_decay}")


def fit_logistic(hidden: torch.Tensor, good: torch.Tensor, config: FitConfig = FitConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """``(w [d], b [])`` fitted to ``hidden`` ``[N, d]`` and labels ``good`` ``[N]`` (True = good)."""
    n_good = int(good.sum())
    n_bad = int(good.numel()) - n_good
    if not n_good or not n_bad:
        raise JudgeDataError(f"training needs good and bad tokens, got {n_good} good and {n_bad} bad")
    x = hidden.float()
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    z = (x - mean) / std
    y = good.float()
    # Each class weighs half of the total.
    weights = torch.where(good, good.numel() / (2 * n_good), good.numel() / (2 * n_bad))
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.Adam([w, b], lr=config.lr)
    for _ in range(config.epochs):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z @ w + b, y, weight=weights) + config.weight_decay * w.square().sum()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        raw_w = w / std
        return raw_w.clone(), (b - raw_w @ mean).clone()

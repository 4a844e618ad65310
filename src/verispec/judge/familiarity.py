"""Whether a hidden state looks like the ones a judge head was trained on: a gate for the unfamiliar.

A head trained on math and code mismatches has no idea what a wrong noun in a translation looks
like, and may score it as confidently as a harmless rewording. So a head can carry a summary of
its training states: their mean, their top principal directions with the spread along each, and
two limits (the ``quantile`` of the training states' own distances): the distance inside that
subspace (Mahalanobis, in units of each direction's spread) and the distance off it (the residual
norm). A state beyond either limit is unfamiliar, and the judge then leaves the token to the exact
check: it trusts itself only where it has seen similar text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

TENSORS = ("familiar_mean", "familiar_basis", "familiar_scale")


@dataclass(frozen=True)
class Familiarity:
    """The training states' mean ``[d]``, principal ``basis`` ``[d, k]``, spread ``scale`` ``[k]`` and limits."""

    mean: torch.Tensor
    basis: torch.Tensor
    scale: torch.Tensor
    inside_limit: float
    outside_limit: float
    quantile: float

    @classmethod
    def fit(cls, hidden: torch.Tensor, *, components: int = 16, quantile: float = 0.99) -> Familiarity:
        """Summarise training states ``[n, d]``; the limits let ``quantile`` of them through."""
        x = hidden.double()
        mean = x.mean(dim=0)
        _, singular, vh = torch.linalg.svd(x - mean, full_matrices=False)
        k = min(components, vh.shape[0])
        scale = (singular[:k] / max(x.shape[0] - 1, 1) ** 0.5).clamp_min(1e-8)
        partial = cls(mean.float(), vh[:k].T.float().contiguous(), scale.float(), 0.0, 0.0, quantile)
        inside, outside = partial.distances(hidden)
        return cls(partial.mean, partial.basis, partial.scale, float(torch.quantile(inside, quantile)),
                   float(torch.quantile(outside, quantile)), quantile)

    def distances(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(RMS distance in spread units inside the subspace, residual norm off it) per row of ``hidden``."""
        centred = hidden.float().to(self.mean.device) - self.mean
        coordinates = centred @ self.basis
        inside = (coordinates / self.scale).square().mean(dim=-1).sqrt()
        outside = (centred - coordinates @ self.basis.T).norm(dim=-1)
        return inside, outside

    def familiar(self, hidden: torch.Tensor) -> torch.Tensor:
        """True for rows within both limits."""
        inside, outside = self.distances(hidden)
        return (inside <= self.inside_limit) & (outside <= self.outside_limit)

    def tensors(self) -> dict[str, torch.Tensor]:
        return dict(zip(TENSORS, (self.mean, self.basis, self.scale)))

    def limits(self) -> dict[str, Any]:
        return {"inside": self.inside_limit, "outside": self.outside_limit, "quantile": self.quantile,
                "components": int(self.basis.shape[1])}

    @classmethod
    def from_parts(cls, tensors: dict[str, torch.Tensor], limits: dict[str, Any]) -> Familiarity:
        mean, basis, scale = (tensors[name].float() for name in TENSORS)
        return cls(mean, basis, scale, float(limits["inside"]), float(limits["outside"]), float(limits["quantile"]))

    def to(self, device: torch.device | str) -> Familiarity:
        return Familiarity(self.mean.to(device), self.basis.to(device), self.scale.to(device),
                           self.inside_limit, self.outside_limit, self.quantile)

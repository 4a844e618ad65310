"""Move a fitted head's θ to another recall of its own out-of-fold curve, without refitting.

`verispec judge fit` chooses θ for one recall of important mismatches, but it measures the whole
trade-off out of fold at several recalls (``metrics.grouped_cv.curve``). The weights do not depend
on the recall, so a head can be given another point of that curve: the θ is the one the fit
itself would have chosen with ``--target-recall`` set to it. The metadata records the move; the
report's other at-θ figures (token classes, guards) still describe the fit's own recall.
"""

from __future__ import annotations

from dataclasses import replace

from verispec.errors import ConfigError
from verispec.judge.head import JudgeHead


def curve_of(head: JudgeHead) -> list[dict[str, float]]:
    """The head's out-of-fold θ curve (one point per recall target), or a ConfigError saying why it has none."""
    curve = head.meta.metrics.get("grouped_cv", {}).get("curve")
    if not curve:
        raise ConfigError("this judge head has no out-of-fold θ curve (only `verispec judge fit` records one); "
                          "choose θ at decode time with judge:threshold=θ instead")
    return curve


def retarget(head: JudgeHead, target_recall: float) -> JudgeHead:
    """The same head with θ at ``target_recall`` of its curve (one of the recalls the fit measured)."""
    curve = curve_of(head)
    point = next((p for p in curve if abs(p["target"] - target_recall) < 1e-9), None)
    if point is None:
        measured = ", ".join(f"{p['target']:g}" for p in curve)
        raise ConfigError(f"the head's curve was measured at recalls {measured}, not {target_recall:g}: choose one "
                          f"of those, or refit with `verispec judge fit --target-recall {target_recall:g}`")
    moved = {"from_target_recall": head.meta.target_recall, "from_threshold": head.meta.threshold}
    training = {**head.meta.training, "retargeted": moved}
    meta = replace(head.meta, threshold=point["threshold"], target_recall=point["target"], training=training)
    return replace(head, meta=meta)

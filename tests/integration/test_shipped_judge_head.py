"""The judge head shipped for the default verifier: its documented figures, and that it runs out of the box.

The shipped head comes from `verispec judge fit` on mined mismatches, with θ moved to 99% recall
of its out-of-fold curve (`verispec judge retarget`). The figures the docs print for it (θ, the
grouped-CV ROC-AUC, the number of labels, the recall and the share of harmless mismatches kept at
θ, the target recall) are read from whichever of README.md, docs/*.md and the heads folder's
README.md states them, and compared with the metadata stored in the head file itself, to the
precision the doc prints. The doc tests need no model, so they are not marked ``integration`` and
run with the unit tests; the last two tests load the real pair.

The ROC-AUC is not recomputed from data (that needs the verifier's and the draft's states at 2,784
mismatches: most of an hour on 2 cores); instead it is checked against the θ curve stored with it,
which bounds the area under the ROC curve from both sides.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from verispec import Pipeline
from verispec.judge.head import JudgeHead, VerifierIdentity, shipped_head_path
from verispec.models import cache
from verispec.models.registry import DEFAULT_DRAFT, DEFAULT_VERIFIER
from verispec.provenance import Provenance

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"(\d+(?:\.\d+)?)"


def doc_files() -> list[Path]:
    """Every doc that may state the shipped head's figures."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "src/verispec/judge/heads/README.md"]


def head_paragraphs(verifier: str) -> list[tuple[str, str]]:
    """``(file, paragraph)`` for each doc paragraph that names the shipped head's verifier and gives
    its grouped-CV ROC-AUC (whitespace collapsed, so figures may wrap across lines)."""
    found = []
    for path in doc_files():
        if not path.is_file():
            continue
        for paragraph in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            text = " ".join(paragraph.split())
            if f"`{verifier}`" in text and "ROC-AUC" in text and "grouped-CV" in text:
                found.append((str(path.relative_to(ROOT)), text))
    return found


def figure(pattern: str, text: str) -> str | None:
    """The first number ``pattern`` captures in ``text``, as printed (None when absent)."""
    match = re.search(pattern, text)
    return match.group(1) if match else None


def assert_printed(printed: str, value: float, what: str, where: str) -> None:
    """``value`` rounds to the figure as printed (to its number of decimals)."""
    decimals = len(printed.partition(".")[2])
    assert abs(value - float(printed)) <= 0.5 * 10**-decimals + 1e-12, f"{where} says {what} {printed}, the head file {value}"


@pytest.fixture(scope="module")
def head() -> JudgeHead:
    path = shipped_head_path(DEFAULT_VERIFIER)
    assert path is not None, f"no head ships for the default verifier {DEFAULT_VERIFIER}"
    return JudgeHead.load(path)


def point_at_theta(head: JudgeHead) -> dict[str, float]:
    """The curve's point for the head's own θ."""
    return next(p for p in head.meta.metrics["grouped_cv"]["curve"] if p["target"] == head.meta.target_recall)


def test_the_docs_figures_for_the_shipped_head_are_the_head_files(head):
    paragraphs = head_paragraphs(head.meta.verifier.name)
    assert paragraphs, f"no doc paragraph gives the grouped-CV ROC-AUC of the head for `{head.meta.verifier.name}`"
    cv, point = head.meta.metrics["grouped_cv"], point_at_theta(head)
    for where, text in paragraphs:
        theta, auc = figure(r"θ\s*=\s*" + NUMBER, text), figure(r"ROC-AUC\s+" + NUMBER, text)
        assert theta is not None and auc is not None, f"{where}: no θ or ROC-AUC in {text!r}"
        assert_printed(theta, head.meta.threshold, "θ", where)
        assert_printed(auc, cv["auc"], "the grouped-CV ROC-AUC", where)
        optional = {
            "labels": (r"([\d,]+) mined labels", cv["labels"]),
            "% of important mismatches rejected at θ": (r"rejects " + NUMBER + r"% of the important", 100 * point["recall"]),
            "% of harmless mismatches kept at θ": (r"keeps " + NUMBER + r"% of the harmless", 100 * point["harmless_kept"]),
            "target recall": (r"--target-recall " + NUMBER, head.meta.target_recall),
        }
        for what, (pattern, value) in optional.items():
            printed = figure(pattern, text)
            if printed is not None:
                assert_printed(printed.replace(",", ""), value, what, where)


def test_the_stored_theta_is_the_curves_point_at_the_target_recall(head):
    """What the docs say θ is: the out-of-fold θ for the head's recall; the curve rises with the recall."""
    curve = head.meta.metrics["grouped_cv"]["curve"]
    assert head.meta.threshold == point_at_theta(head)["threshold"] and head.meta.target_recall == 0.99
    assert all(p["recall"] >= p["target"] for p in curve)
    for lower, higher in itertools.pairwise(sorted(curve, key=lambda p: p["target"])):
        assert lower["threshold"] <= higher["threshold"] and lower["harmless_kept"] >= higher["harmless_kept"]


def test_the_stored_roc_auc_agrees_with_the_stored_curve(head):
    """The ROC curve (harmless kept against important kept) passes through every point of the θ curve
    and is monotone between them, so its area lies between the lower and upper step sums over those points."""
    cv = head.meta.metrics["grouped_cv"]
    points = sorted([(0.0, 0.0), (1.0, 1.0), *((1 - p["recall"], p["harmless_kept"]) for p in cv["curve"])])
    segments = list(itertools.pairwise(points))
    lower = sum((f2 - f1) * t1 for (f1, t1), (f2, _) in segments)
    upper = sum((f2 - f1) * t2 for (f1, _), (f2, t2) in segments)
    assert lower - 1e-9 <= cv["auc"] <= upper + 1e-9


@pytest.fixture(scope="module")
def pipe():
    missing = [n for n in (DEFAULT_DRAFT, DEFAULT_VERIFIER) if not cache.is_complete(cache.model_dir(n))]
    if missing:
        pytest.skip(f"needs `verispec models pull` for {', '.join(missing)}")
    return Pipeline()


@pytest.mark.integration
def test_the_judge_method_uses_the_shipped_head_and_its_theta(pipe, head):
    rule = _judge_rule(pipe)
    assert rule.head.meta.verifier == VerifierIdentity.of(pipe.verifier.backend)
    assert rule.head.meta == head.meta
    assert rule.threshold == head.meta.threshold


@pytest.mark.integration
def test_judge_generates_with_the_shipped_head(pipe):
    # A fixed draft length: on llama.cpp the cost-aware default would rightly draft nothing here.
    method = "judge:cost_aware=false"
    # An answer long enough for drafts to be kept (a two-token answer can end after one rejected draft).
    result = pipe.generate("Write a Python function that returns the square of a number.", chat=True, method=method,
                           max_new_tokens=24)
    assert result.token_ids
    assert set(result.provenance) <= {Provenance.EXACT, Provenance.RELAXED, Provenance.REPLACED, Provenance.BONUS}
    assert result.stats.verifier_forwards < len(result.token_ids)  # drafts were kept, not token by token


def _judge_rule(pipe: Pipeline):
    from verispec.methods import Method, RuleContext

    return Method.parse("judge").rule(RuleContext(verifier=pipe.verifier.backend))

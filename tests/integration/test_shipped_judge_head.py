"""The judge head shipped for the default verifier: its documented figures, and that it runs out of the box.

The figures the docs print for the shipped head (θ, ROC-AUC on its validation split, the split's
size, the share of good tokens kept, the training settings) are read from whichever of README.md,
docs/*.md and the heads folder's README.md states them, and compared with the metadata stored in
the head file itself, to the precision the doc prints. The doc tests need no model, so they are
not marked ``integration`` and run with the unit tests; the last two tests load the real pair.

The ROC-AUC is not recomputed from data: that needs the verifier's hidden states on the 95
validation samples (minutes of fp32/bf16 forwards on 2 cores), and the data file the head was
trained on has since changed (the head records its sha256). Instead the stored ROC-AUC is checked
against the θ curve stored with it, which bounds the area under the ROC curve from both sides.
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
    its validation ROC-AUC (whitespace collapsed, so figures may wrap across lines)."""
    found = []
    for path in doc_files():
        if not path.is_file():
            continue
        for paragraph in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            text = " ".join(paragraph.split())
            if f"`{verifier}`" in text and "ROC-AUC" in text and "validation" in text:
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


def test_the_docs_figures_for_the_shipped_head_are_the_head_files(head):
    paragraphs = head_paragraphs(head.meta.verifier.name)
    assert paragraphs, f"no doc paragraph gives the ROC-AUC of the head for `{head.meta.verifier.name}`"
    validation = head.meta.metrics["validation"]
    training = head.meta.training
    for where, text in paragraphs:
        theta, auc = figure(r"θ\s*=\s*" + NUMBER, text), figure(r"ROC-AUC\s+" + NUMBER, text)
        assert theta is not None and auc is not None, f"{where}: no θ or ROC-AUC in {text!r}"
        assert_printed(theta, head.meta.threshold, "θ", where)
        assert_printed(auc, validation["roc_auc"], "the validation ROC-AUC", where)
        optional = {
            "validation tokens": (r"\((\d+) tokens, \d+ bad\)", validation["tokens"]),
            "bad validation tokens": (r"\(\d+ tokens, (\d+) bad\)", validation["bad"]),
            "% of good tokens kept at θ": (r"keeps " + NUMBER + r"% of the good", 100 * validation["at_threshold"]["good_acceptance"]),
            "target recall": (r"--target-recall " + NUMBER, head.meta.target_recall),
            "sample fraction": (r"--sample-fraction " + NUMBER, training["data"]["sample_fraction"]),
            "training samples": (r"\((\d+) of the \d+ samples", training["data"]["samples"]),
        }
        for what, (pattern, value) in optional.items():
            printed = figure(pattern, text)
            if printed is not None:
                assert_printed(printed, value, what, where)


def test_the_stored_theta_is_the_lowest_that_rejects_every_bad_validation_token(head):
    """What the docs say θ is: recall 1 at θ, and below 1 at every lower θ of the stored curve."""
    validation = head.meta.metrics["validation"]
    assert head.meta.target_recall == 1.0
    assert validation["at_threshold"]["threshold"] == head.meta.threshold
    assert validation["at_threshold"]["bad_recall"] == 1.0
    lower = [p for p in validation["curve"] if p["threshold"] < head.meta.threshold]
    assert lower and all(p["bad_recall"] < 1.0 for p in lower)


def test_the_stored_roc_auc_agrees_with_the_stored_curve(head):
    """The ROC curve passes through every (1 - good acceptance, bad recall) point of the θ curve and is
    monotone between them, so its area lies between the lower and upper step sums over those points."""
    validation = head.meta.metrics["validation"]
    points = sorted((1 - p["good_acceptance"], p["bad_recall"]) for p in validation["curve"])
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)  # θ = 0 keeps all, θ = 1 rejects all
    segments = list(itertools.pairwise(points))
    lower = sum((f2 - f1) * t1 for (f1, t1), (f2, _) in segments)
    upper = sum((f2 - f1) * t2 for (f1, _), (f2, t2) in segments)
    assert lower - 1e-9 <= validation["roc_auc"] <= upper + 1e-9


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
    result = pipe.generate("What is 12 * 7? Answer briefly.", chat=True, method=method, max_new_tokens=16)
    assert result.token_ids
    assert set(result.provenance) <= {Provenance.EXACT, Provenance.RELAXED, Provenance.REPLACED, Provenance.BONUS}
    assert result.stats.verifier_forwards < len(result.token_ids)  # drafts were kept, not token by token


def _judge_rule(pipe: Pipeline):
    from verispec.methods import Method, RuleContext

    return Method.parse("judge").rule(RuleContext(verifier=pipe.verifier.backend))

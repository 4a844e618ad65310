"""Tests marked `data` read the benchmark data packages; they skip when those are missing."""

from __future__ import annotations

import pytest

from verispec.eval.data import install_hint, missing_packages


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("data") and missing_packages():
        names = ", ".join(p.requirement for p in missing_packages())
        pytest.skip(f"data packages missing ({names}). {install_hint()}")

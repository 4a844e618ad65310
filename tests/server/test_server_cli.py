"""``verispec serve``: settings reach the app, a warning when exposed without a key, one-line errors."""

from __future__ import annotations

import sys

import pytest
import uvicorn

from server_support import tiny_pipeline
from verispec.cli import main
from verispec.cli.serve import is_loopback


@pytest.fixture
def served(monkeypatch) -> dict:
    """Capture what ``serve`` would run instead of serving forever; build tiny models instead of loading."""
    captured: dict = {}
    monkeypatch.setattr("verispec.cli.serve.Pipeline", lambda **kwargs: tiny_pipeline())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: captured.update(app=app, **kwargs))
    monkeypatch.delenv("VERISPEC_API_KEY", raising=False)
    return captured


def test_settings_reach_the_app(served, capsys):
    assert main(["serve", "--port", "8123", "--method", "lenient:l=0.5", "--max-tokens", "64"]) == 0
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    config = served["app"].state.verispec.config
    assert (config.method, config.default_max_tokens, config.api_key) == ("lenient:l=0.5", 64, None)
    err = capsys.readouterr().err
    assert "playground at http://127.0.0.1:8123/" in err and "warning" not in err


def test_binding_elsewhere_without_a_key_warns(served, capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert "warning: serving on 0.0.0.0 without an API key" in capsys.readouterr().err


def test_api_key_from_the_environment(served, monkeypatch, capsys):
    monkeypatch.setenv("VERISPEC_API_KEY", "k3y")
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert served["app"].state.verispec.config.api_key == "k3y"
    assert "warning" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--method", "magic"], "unknown method 'magic'"),
        (["serve", "--queue-size", "0"], "queue size must be >= 1"),
        (["serve", "--max-tokens", "0"], "default max tokens must be in [1, 4096]"),
        (["serve", "--api-key", " "], "the API key is empty"),
    ],
)
def test_bad_settings_exit_2_with_one_line(served, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert "app" not in served


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.5", "::", "example.org"]))


def test_missing_server_packages_give_one_line_with_the_install_command(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # a None entry makes the import fail
    assert main(["serve"]) == 2
    assert "pip install 'verispec[serve]'" in capsys.readouterr().err

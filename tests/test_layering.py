"""The core never imports tooling: decoding must not depend on evaluation, benchmarks, the server,
the command line or training (ARCHITECTURE.md, "Core and tooling").

The check reads the source (no module is imported), so it sees imports inside functions too.
Every module of ``verispec`` outside ``TOOLING`` is core: a new module is core until it is added
here on purpose.
"""

from __future__ import annotations

import ast
from importlib.util import find_spec
from pathlib import Path

# Found without importing verispec: the check must run even when the package fails to import.
PACKAGE = Path(find_spec("verispec").submodule_search_locations[0])
TOOLING = ("eval", "bench", "server", "cli", "training", "runinfo")
# Parts of the core named in ARCHITECTURE.md; each must be found, or the walk missed them.
CORE = (
    "backends", "drafting", "rules", "engine", "sampling", "stats", "text", "tokens", "provenance", "schedule",
    "judge", "cosd", "pipeline", "methods", "models",
)


def module_name(path: Path) -> str:
    parts = ("verispec", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_tooling(name: str) -> bool:
    return any(name == f"verispec.{t}" or name.startswith(f"verispec.{t}.") for t in TOOLING)


def package_of(path: Path) -> str:
    """The package a file's relative imports start from."""
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_of(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) for every import, relative ones resolved from ``package``.

    ``from verispec import bench`` imports the module ``verispec.bench``, so names imported from
    the top package count as modules.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names = [f"{module}.{alias.name}" for alias in node.names] if module == "verispec" else [module]
            found += [(node.lineno, name) for name in names]
    return found


def tooling_imports(paths: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in paths
        for line, name in imports_of(path.read_text(encoding="utf-8"), package_of(path))
        if is_tooling(name)
    ]


def core_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if not is_tooling(module_name(p)))


def test_the_core_imports_no_tooling():
    core = core_modules()
    assert {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in core} >= set(CORE)
    assert tooling_imports(core) == []


def test_the_check_sees_imports_in_functions_relative_ones_and_from_the_package():
    source = (
        "from verispec import bench\n"
        "from ..eval.tasks import get_task\n"
        "def train():\n"
        "    import verispec.training.cosd\n"
        "from verispec import judge, evaluation\n"
    )
    tooling = [name for _, name in imports_of(source, "verispec.cosd") if is_tooling(name)]
    assert tooling == ["verispec.bench", "verispec.eval.tasks", "verispec.training.cosd"]

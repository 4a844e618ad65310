"""Collaborative settings side by side (CoSD's three settings).

Per task, each setting's models decoding alone and its collaborative methods, with every
collaborative method compared with the setting's best single model on that task, on the same items:
fusion is worth its cost only where it beats the best model it fuses.

A model decoding alone is its run's ``draft`` or ``verifier`` (assistant 1) method. Where a run
has none for a model (a further assistant, ``verispec eval --assistant``, never decodes alone; a
run may hold only collaborative methods), its samples come from another of the given runs where it
was the draft or the verifier, made with the same generation settings, on the items of this setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from verispec.errors import ConfigError
from verispec.eval.records import RunManifest, RunSettings, SampleRecord, load_run
from verispec.eval.report.plots import pyplot, save_figure, short_label
from verispec.eval.report.summary import Comparison, MethodRow, group_outcomes, method_row
from verispec.eval.report.tables import DASH, accuracy_cell, difference_cell, number_cell, table_line

MODEL_FIELDS = ("draft", "verifier", "assistants")  # what may differ between settings; the rest must not
ALONE = " alone"
COLUMNS = ("setting", "method", "n", "accuracy [95% CI]", "Δ vs best single model [95% CI]", "McNemar p",
           "tokens/s", "speed vs best single model", "seconds per answer", "rounds per answer",
           "written by assistants")


@dataclass(frozen=True)
class Setting:
    """One run directory of a collaborative setting: its name, fixed settings and records."""

    name: str
    manifest: RunManifest
    records: list[SampleRecord]

    @property
    def models(self) -> list[str]:
        """The draft, then assistant 1 (the run's verifier), then any further assistants."""
        s = self.manifest.settings
        return [s.draft, s.verifier, *s.assistants]

    def alone_method(self, model: str) -> str | None:
        """The method label under which ``model`` decoded alone in this run, if it could."""
        s = self.manifest.settings
        return "draft" if model == s.draft else "verifier" if model == s.verifier else None


@dataclass(frozen=True)
class SettingRow:
    """A model alone or a collaborative method, in one setting and task.

    ``best``: this model alone is the setting's most accurate on the task (the faster of a tie).
    ``source``: the other setting whose samples a model alone comes from (None: its own run). A
    collaborative method's row is summarised against the best single model.
    """

    setting: str
    row: MethodRow
    single: bool
    best: bool = False
    source: str | None = None

    @property
    def versus_best(self) -> Comparison | None:
        """A collaborative method against the best single model, on the items both completed."""
        return self.row.comparison


def load_settings(run_dirs: Sequence[Path]) -> list[Setting]:
    """Read each run directory; every one needs its ``run.json`` to say which models it ran."""
    settings = []
    for run_dir in run_dirs:
        manifest, records = load_run(run_dir)
        if manifest is None:
            raise ConfigError(f"{run_dir} has no run.json, so its models are unknown; report it with `verispec report`")
        settings.append(Setting(run_dir.resolve().name, manifest, records))
    return settings


def compare_settings(
    settings: Sequence[Setting], *, tasks: Sequence[str] = (), methods: Sequence[str] = ()
) -> list[SettingRow]:
    """Rows by task, then setting: its models alone (the best one marked), then its other methods,
    all on the items that every one of those other methods answered (a run's models alone and its
    lossless baseline often cover more items than its collaborative methods).

    ``methods`` narrows the other methods to these labels or names (``cosd-tree`` matches every
    tree); models alone are always shown.
    """
    rows = []
    for task in tasks or dict.fromkeys(r.task for s in settings for r in s.records):
        for setting in settings:
            rows += _setting_rows(setting, task, settings, methods)
    return rows


def _setting_rows(setting: Setting, task: str, settings: Sequence[Setting], methods: Sequence[str]) -> list[SettingRow]:
    own = [r for r in setting.records if r.task == task]
    if not own:
        return []
    shown = [r for r in own if _shown(r.method, methods)]
    items = _common_items(shown) if shown else {r.item_id for r in own}
    singles: dict[str, str | None] = {}  # label of a model alone -> the setting its samples come from
    records = [r for r in shown if r.item_id in items]
    for model in setting.models:
        found, source = _alone(model, setting, settings, task, items)
        if found:
            singles[model + ALONE] = source
            records += [replace(r, method=model + ALONE) for r in found]
    grouped = group_outcomes(records)
    alone = [method_row(task, label, grouped[(task, label)], None) for label in singles]
    best = max(alone, key=_strength, default=None)
    result = [SettingRow(setting.name, row, True, row is best, singles[row.method]) for row in alone]
    reference = grouped[(task, best.method)] if best else None
    for label in dict.fromkeys(r.method for r in shown):
        result.append(SettingRow(setting.name, method_row(task, label, grouped[(task, label)], reference), False))
    return result


def _strength(row: MethodRow) -> tuple[float, float]:
    """Accuracy, then speed: of two equally accurate models the faster is the one to beat."""
    accuracy = row.accuracy.estimate if row.accuracy else -1.0
    return accuracy, -row.seconds_per_answer if row.seconds_per_answer is not None else -float("inf")


def _common_items(records: Sequence[SampleRecord]) -> set[str]:
    """The items every method among ``records`` answered."""
    by_method: dict[str, set[str]] = {}
    for record in records:
        by_method.setdefault(record.method, set()).add(record.item_id)
    return set.intersection(*by_method.values())


def _shown(method: str, methods: Sequence[str]) -> bool:
    """Whether a method of the run (not a model alone) belongs in the table."""
    if method in ("draft", "verifier"):
        return False
    return not methods or method in methods or method.partition(":")[0] in methods


def _alone(
    model: str, setting: Setting, settings: Sequence[Setting], task: str, items: set[str]
) -> tuple[list[SampleRecord], str | None]:
    """The records of ``model`` decoding alone on these items: from the setting's own run if it has
    them, else from the first comparable run that does, with that run's name."""
    for other in [setting, *(s for s in settings if s is not setting and comparable(s, setting))]:
        method = other.alone_method(model)
        found = [r for r in other.records if r.task == task and r.method == method and r.item_id in items]
        if method and found:
            return found, None if other is setting else other.name
    return [], None


def comparable(a: Setting, b: Setting) -> bool:
    """Whether two runs generated alike (dtype, device, split, seed, temperature, lengths, turns),
    whichever models they paired."""
    return all(getattr(a.manifest.settings, f.name) == getattr(b.manifest.settings, f.name)
               for f in fields(RunSettings) if f.name not in MODEL_FIELDS)


def settings_markdown(rows: Sequence[SettingRow], settings: Sequence[Setting]) -> str:
    """A table per task, the models of each setting, and where a model's samples were borrowed."""
    lines = ["# verispec settings report", ""]
    lines += [f"- **{s.name}**: draft {s.models[0]}; " + ", ".join(
        f"assistant {k} {m}" for k, m in enumerate(s.models[1:], 1)) for s in settings]
    for task in dict.fromkeys(r.row.task for r in rows):
        lines += ["", f"## {task}", "", table_line(COLUMNS), table_line(["---"] * len(COLUMNS))]
        lines += [table_line(_cells(r)) for r in rows if r.row.task == task]
    borrowed = [r for r in rows if r.source]
    if borrowed:
        lines += ["", "Models alone taken from another run with the same generation settings, on this setting's items "
                  "(their speed was measured in that run):", ""]
        lines += [f"- {r.row.task} / {r.setting}: {r.row.method} from {r.source}" for r in borrowed]
    missing = _missing(rows, settings)
    lines += ["", *missing] if missing else []
    return "\n".join(lines) + "\n\n" + NOTE + "\n"


def _missing(rows: Sequence[SettingRow], settings: Sequence[Setting]) -> list[str]:
    """Lines naming every model of a setting with no samples alone on a task of that setting."""
    lines = []
    for task in dict.fromkeys(r.row.task for r in rows):
        for setting in settings:
            shown = {r.row.method for r in rows if r.setting == setting.name and r.row.task == task}
            if shown:
                lines += [f"- {task} / {setting.name}: no run decoded {model} alone on these items"
                          for model in setting.models if model + ALONE not in shown]
    return lines


def _cells(r: SettingRow) -> list[str]:
    row, c = r.row, r.versus_best
    return [
        r.setting,
        short_label(row.method),
        str(row.items),
        accuracy_cell(row.accuracy),
        "best single model" if r.best else difference_cell(c.difference) if c else DASH,
        f"{c.mcnemar_p:.3f}" if c and c.mcnemar_p is not None else DASH,
        number_cell(row.tokens_per_second, "{:.1f}"),
        number_cell(c.speedup if c else None, "{:.2f}×"),
        number_cell(row.seconds_per_answer, "{:.1f}"),
        number_cell(row.mean_rounds, "{:.1f}"),
        number_cell(row.assistant_share, "{:.1%}"),
    ]


def settings_plot(rows: Sequence[SettingRow], out_dir: Path) -> Path | None:
    """Accuracy with its 95% interval, a panel per task and a line per setting and method, coloured
    by setting; each setting's best single model is a filled square, with a grey bar at its accuracy
    across the setting's lines, its other models hollow diamonds, its other methods circles. None if
    no row is scored."""
    scored = [r for r in rows if r.row.accuracy is not None]
    if not scored:
        return None
    plt = pyplot()
    tasks = list(dict.fromkeys(r.row.task for r in scored))
    lines = list(dict.fromkeys((r.setting, short_label(r.row.method)) for r in scored))
    colours = {name: f"C{k}" for k, name in enumerate(dict.fromkeys(r.setting for r in scored))}
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks) + 4.0, 1.2 + 0.3 * len(lines)),
                             sharey=True, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for r in (r for r in scored if r.row.task == task):
            y, a = lines.index((r.setting, short_label(r.row.method))), r.row.accuracy
            style = {"fmt": "s"} if r.best else {"fmt": "D", "mfc": "none"} if r.single else {"fmt": "o"}
            ax.errorbar([100 * a.estimate], [y], xerr=[[100 * (a.estimate - a.low)], [100 * (a.high - a.estimate)]],
                        color=colours[r.setting], capsize=3, **style)
            if r.best:
                ys = [k for k, (setting, _) in enumerate(lines) if setting == r.setting]
                ax.vlines(100 * a.estimate, min(ys) - 0.4, max(ys) + 0.4, color="grey", alpha=0.5)
        ax.set(title=task, xlabel="accuracy, % (95% CI)")
        ax.grid(alpha=0.3, axis="x")
    axes[0][0].set_yticks(range(len(lines)), [f"{setting} · {method}" for setting, method in lines], fontsize=7)
    axes[0][0].invert_yaxis()
    out_dir.mkdir(parents=True, exist_ok=True)
    return save_figure(plt, fig, out_dir / "settings_accuracy.png")


NOTE = ("n: items; accuracy: Wilson 95% interval; best single model: the most accurate model alone, the fastest "
        "of a tie; Δ: the method's accuracy minus the best single model's on the items both completed, paired "
        "bootstrap 95% interval, percentage points; McNemar p: exact two-sided test on the same pairs; speed vs best "
        "single model: summed tokens / summed seconds over the same pairs (timings other processes disturbed left "
        "out); seconds per answer: mean generation time of an item, what a user waits where methods write answers "
        "of different lengths (multiple choice); rounds per answer: verifier passes (collaborative methods: "
        "draft-and-review rounds) per item; written by assistants: tokens whose author is not the draft.")

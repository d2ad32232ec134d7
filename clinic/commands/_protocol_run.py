"""What ``kinetics demo`` and ``kinetics run`` share on the terminal when they run a protocol: the cue reporter
that shows the session's progress with rich, and the results table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from clinic.running import fmt_value

if TYPE_CHECKING:
    from protocols.runner import Cue
    from protocols.schema import Protocol
    from protocols.session import SessionResult, TrialResult

#: Cue kinds printed as a line of their own (the others only update the progress line): what the patient or
#: the clinician must do, and the interruptions.
PRINTED_CUES = ("prepare", "go", "hold", "switch_side", "paused", "resumed")


def results_table(results: Sequence[SessionResult], title: str) -> Any:
    """A rich table: per protocol, condition and side the counted trials, the headline's best and mean, the side
    comparison (LSI or the protocol's method), the flags of its trials, and the ratios between conditions."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in ("protocol", "condition", "side", "trials", "headline", "best", "mean", "comparison", "flags"):
        table.add_column(col, overflow="fold")
    for res in results:
        units = res.units()
        head = res.protocol.scoring.headline
        sym = res.symmetry()
        ratios = res.ratios()
        for s in res.summaries():
            flags = sorted({f for t in res.trials if t.condition == s.condition and t.side == s.side for f in t.flags})
            comp = ""
            if s.condition in sym:
                comp = f"{sym[s.condition]['method']} {sym[s.condition]['value']:.1f} %"
                if sym[s.condition].get("involved"):
                    comp += f" (involved: {sym[s.condition]['involved']})"
            table.add_row(
                res.protocol.id,
                "" if s.condition == "default" else s.condition,
                s.side,
                str(s.n_trials),
                f"{head} ({res.protocol.scoring.aggregate})",
                fmt_value(s.best[head], units.get(head, "")),
                fmt_value(s.mean[head], units.get(head, "")),
                comp,
                ", ".join(flags),
            )
        for key, value in ratios.items():
            table.add_row(res.protocol.id, "", "", "", key, f"{value:.2f}", "", "", "")
    return table


class CueReporter:
    """A runner listener that shows a session's progress: ``update(text, trials_done)`` gets a one-line status at
    every cue (e.g. a rich status or progress bar), each scored trial is printed as a line on ``console``, and
    with ``show_cues`` so are the cues the patient acts on (:data:`PRINTED_CUES`).

    It also keeps every trial the runner reported (``trials``, in order, with the status it had when reported),
    so that a session cut short still has its finished trials when the runner's own result is out of reach.
    """

    def __init__(
        self,
        protocol: Protocol,
        console: Any,
        update: Callable[[str, int], None] | None = None,
        *,
        show_cues: bool = False,
    ) -> None:
        self.protocol = protocol
        self.console = console
        self.update = update
        self.show_cues = show_cues
        self.total = len(protocol.trial_plan())
        self.trials: list[TrialResult] = []
        self.current: Cue | None = None

    def _side(self, side: str) -> str:
        return "" if side == "none" else f" ({side})"

    def status_text(self, cue: Cue) -> str:
        """``"<protocol> — trial i/n (side): kind · text"`` with rich markup escaped."""
        from rich.markup import escape

        trial = "" if cue.trial is None else f" — trial {cue.trial + 1}/{self.total}"
        return (
            f"[bold]{escape(self.protocol.name)}[/]{trial}{escape(self._side(cue.side))}: "
            f"{escape(cue.kind)} · {escape(cue.text)}"
        )

    def trial_line(self, trial: TrialResult) -> str:
        """``"<id> trial i (side): headline = value [status] flags"`` (rich markup)."""
        from rich.markup import escape

        head = self.protocol.scoring.headline
        unit = trial.units.get(head, "")
        flags = f" [yellow]{escape(', '.join(trial.flags))}[/]" if trial.flags else ""
        value = fmt_value(trial.values.get(head, math.nan), unit)
        return (
            f"  {escape(self.protocol.id)} trial {trial.index + 1}{escape(self._side(trial.side))}: "
            f"{escape(head)} = {escape(value)} \\[{escape(trial.status)}]{flags}"
        )

    def cue_line(self, cue: Cue) -> str:
        from rich.markup import escape

        trial = "" if cue.trial is None else f"trial {cue.trial + 1}/{self.total}{self._side(cue.side)} "
        duration = f" ({cue.duration:g} s)" if cue.duration > 0 else ""
        return f"  [cyan]{escape(trial)}{escape(cue.kind)}[/]: {escape(cue.text)}{escape(duration)}"

    def __call__(self, cue: Cue) -> None:
        self.current = cue
        if cue.kind == "trial_done" and cue.result is not None:
            self.trials.append(cue.result)
            done = len({t.index for t in self.trials})
            self.total = max(self.total, done)
            self.console.print(self.trial_line(cue.result))
        elif self.show_cues and cue.kind in PRINTED_CUES:
            self.console.print(self.cue_line(cue))
        if self.update is not None:
            self.update(self.status_text(cue), len({t.index for t in self.trials}))


__all__ = ["PRINTED_CUES", "CueReporter", "results_table"]

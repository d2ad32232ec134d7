"""A TrialWriter killed with SIGKILL at random moments leaves a file that read_trial opens, holding every
sample up to the last checkpoint, bit-exact (values checked against the deterministic generator below)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from kinetics.io import read_trial
from kinetics.trial import Event, Gap

ROOT = Path(__file__).resolve().parents[2]
RATES = {"plate": 1000.0, "push": 1000.0, "gonio": 200.0}
GAP_EVERY = 700  # the push dynamometer loses 3 samples after every 700

# The generator is shared verbatim by the child (the writer) and the parent (the checker).
GENERATOR = textwrap.dedent(
    """
    import numpy as np
    from kinetics.trial import Channel, DeviceInfo, Event, Gap

    RATES = {"plate": 1000.0, "push": 1000.0, "gonio": 200.0}
    GAP_EVERY = 700

    def infos():
        return [
            DeviceInfo("plate", "plate", 1000.0, tuple(Channel(f"cell_{i}", "N") for i in range(4))),
            DeviceInfo("push", "push", 1000.0, (Channel("force", "N"),)),
            DeviceInfo("gonio", "goniometer", 200.0, (Channel("angle", "deg"),), value_dtype="float64"),
        ]

    def counters(name, i0, i1):
        i = np.arange(i0, i1, dtype=np.int64)
        return i + 3 * (i // GAP_EVERY) if name == "push" else i

    def samples(name, i0, i1):
        c = counters(name, i0, i1)
        t = c / RATES[name]
        n_ch = 4 if name == "plate" else 1
        v = np.sin(np.outer(np.arange(1, n_ch + 1), c * 0.0123)) * 100.0 + c % 7
        return t, c, v.astype(np.float64 if name == "gonio" else np.float32)

    def gap(k):
        # the k-th gap of "push" (k >= 1): counters lost just before sample index k * GAP_EVERY
        c_before, c_after = counters("push", k * GAP_EVERY - 1, k * GAP_EVERY + 1)
        return Gap(int(c_before) + 1, int(c_after) - 1, c_before / 1000.0, c_after / 1000.0)

    def event(k):
        return Event(0.05 * k, "marker", f"mark {k} é")
    """
)

CHILD = GENERATOR + textwrap.dedent(
    """
    import json, sys
    from kinetics.io import TrialWriter
    from kinetics.trial import TrialMeta

    path, seed = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(seed)
    w = TrialWriter(path, TrialMeta(trial_id=f"kill{seed}"), infos(), checkpoint_interval=0.02)
    print("ready", flush=True)
    pos = dict.fromkeys(RATES, 0)
    committed = w.committed_samples
    n_gaps = n_events = 0
    while True:
        for name in RATES:
            n = int(rng.integers(10, 51)) // (5 if name == "gonio" else 1) + 1
            w.append(name, *samples(name, pos[name], pos[name] + n))
            pos[name] += n
            if name == "push":
                while (n_gaps + 1) * GAP_EVERY < pos[name]:
                    n_gaps += 1
                    w.add_gap("push", gap(n_gaps))
            if w.committed_samples != committed:
                committed = w.committed_samples
                print(json.dumps(committed), flush=True)
        if pos["plate"] // 50 > n_events:
            n_events += 1
            w.add_event(event(n_events))
    """
)

N_KILLS = 20


def _generator() -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(GENERATOR, namespace)
    return namespace


def test_generator_is_shared_with_the_child() -> None:
    assert RATES == _generator()["RATES"] and GAP_EVERY == _generator()["GAP_EVERY"]


@pytest.mark.timeout(120)
def test_sigkill_at_random_moments_keeps_every_checkpointed_sample(tmp_path: Path) -> None:
    gen = _generator()
    samples, gap, event = gen["samples"], gen["gap"], gen["event"]
    rng = np.random.default_rng(20261123)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    checked_samples = 0
    interrupted_mid_stream = 0
    for case in range(N_KILLS):
        path = tmp_path / f"kill{case}.h5"
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), str(case)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == b"ready", proc.stderr.read() if proc.stderr else b""
        time.sleep(float(rng.uniform(0.0, 0.35)))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err.decode()
        lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        promised = lines[-1] if lines else dict.fromkeys(RATES, 0)

        trial = read_trial(path)
        assert not trial.complete
        assert trial.meta.trial_id == f"kill{case}"
        for name in RATES:
            rec = trial.devices[name]
            n = rec.n_samples
            assert n >= promised[name], f"case {case}: {name} lost committed samples ({n} < {promised[name]})"
            t, c, v = samples(name, 0, n)  # type: ignore[operator]
            assert np.array_equal(rec.time, t) and np.array_equal(rec.counter, c)
            assert rec.values.dtype == v.dtype and np.array_equal(rec.values, v)
            checked_samples += n
        push = trial.devices["push"]
        assert push.gaps == tuple(gap(k) for k in range(1, len(push.gaps) + 1))  # type: ignore[operator]
        assert trial.events == [event(k) for k in range(1, len(trial.events) + 1)]  # type: ignore[operator]
        assert all(isinstance(g, Gap) for g in push.gaps) and all(isinstance(e, Event) for e in trial.events)
        interrupted_mid_stream += bool(lines)
    # The kills must land while data streams, not only before the first checkpoint.
    assert interrupted_mid_stream >= N_KILLS // 2
    assert checked_samples > 0

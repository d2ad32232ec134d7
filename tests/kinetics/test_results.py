"""Metrics results carry units and select one trial out of a batch."""

from __future__ import annotations

import numpy as np
import pytest

from kinetics import Metrics
from kinetics._checks import KineticsInputError, as_signal, check_rate


def test_every_metric_needs_a_unit() -> None:
    with pytest.raises(ValueError, match="without a unit"):
        Metrics({"peak_force": 1.0}, {}, "x")


def test_select_one_trial_of_a_batch() -> None:
    m = Metrics(
        {"peak_force": np.array([100.0, 200.0]), "n": 3.0},
        {"peak_force": "N", "n": "1"},
        "m",
        flags={"bad": np.array([False, True])},
    )
    one = m.select(1)
    assert one["peak_force"] == 200.0 and one["n"] == 3.0 and one.flags["bad"] is True
    assert one.to_records()[0] == {"key": "peak_force", "value": 200.0, "unit": "N", "method": "m"}
    with pytest.raises(ValueError, match="batched result"):
        m.to_records()


def test_signal_checks_use_one_wording() -> None:
    with pytest.raises(KineticsInputError, match=r"^force: contains 1 NaN or infinite value\(s\); fill or cut"):
        as_signal([1.0, np.nan, 2.0], "force")
    with pytest.raises(KineticsInputError, match="at least 10 are needed"):
        as_signal(np.zeros(3), "force", min_samples=10)
    with pytest.raises(KineticsInputError, match="positive and finite"):
        check_rate(-1)
    assert as_signal([[1, 2], [3, 4]], "x").dtype == np.float64

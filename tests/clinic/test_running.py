"""How the command line and the app show a metric value."""

from __future__ import annotations

import math

import pytest

from clinic.running import fmt_value


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.3041, "m", "30.4 cm"),
        (1.5, "m", "1.5 m"),
        (0.000412, "m^2", "4.12 cm²"),
        (41500.0, "Pa", "41.5 kPa"),
        (-0.0796, "1", "-0.0796"),
        (434.2, "N", "434 N"),
        (math.nan, "N", "—"),
    ],
)
def test_values_are_shown_in_clinical_units(value: float, unit: str, shown: str) -> None:
    assert fmt_value(value, unit) == shown

"""Centre of pressure from force plates: 4-load-cell plates, 6-axis plates, and two plates in one frame.

Axes (DESIGN.md): x medio-lateral (right +), y antero-posterior (forward +), z up; metres and newtons. Forces
are the ground reaction on the person, so the vertical force Fz is positive while someone stands. Where Fz is
below ``min_force`` (nobody, or almost nobody, on the plate) the COP is NaN and ``loaded`` is False: the COP is
never a division by a near-zero force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import as_signal, input_error
from kinetics.trial import DeviceRecording, Trial

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Vertical force (N) below which a plate counts as unloaded (about 2 kg).
MIN_FORCE = 20.0
#: Channel names of a 6-axis plate, in order.
WRENCH_CHANNELS = ("fx", "fy", "fz", "mx", "my", "mz")


@dataclass(frozen=True)
class PlateCOP:
    """COP of one plate.

    Attributes
    ----------
    cop : ndarray, shape (..., 2, n)
        x (ML) and y (AP) in metres; NaN where the plate is unloaded.
    fz : ndarray, shape (..., n)
        Vertical force in N.
    loaded : ndarray of bool, shape (..., n)
        ``fz >= min_force``.
    front_share : ndarray, shape (..., n), or None
        Fraction of the vertical force carried by the plate's front support line, by the lever rule between its
        back and front support lines (for a 4-cell plate: the front cells' share of the force, exactly); NaN
        where unloaded; None when the plate's AP span is unknown.
    """

    cop: FloatArray
    fz: FloatArray
    loaded: BoolArray
    front_share: FloatArray | None = None

    @property
    def fully_loaded(self) -> bool:
        """True when someone stood on the plate for the whole recording."""
        return bool(np.all(self.loaded))


def _check_min_force(min_force: float) -> float:
    if not (np.isfinite(min_force) and min_force > 0):
        raise input_error("min_force", f"must be a positive force in N, got {min_force}", "use e.g. 20.0")
    return float(min_force)


def _lever_share(y: FloatArray, span: tuple[float, float] | None) -> FloatArray | None:
    if span is None:
        return None
    back, front = span
    return np.asarray((y - back) / (front - back), dtype=np.float64)


def cop_from_cells(forces: Any, cell_positions: Any, *, min_force: float = MIN_FORCE) -> PlateCOP:
    """COP of a plate standing on vertical load cells: COP = Σ Fᵢ·rᵢ / Σ Fᵢ.

    Parameters
    ----------
    forces : array_like, shape (..., n_cells, n)
        Vertical force of each cell in N (cells in the order of ``cell_positions``).
    cell_positions : array_like, shape (n_cells, 2)
        (x, y) of each cell in metres, from the device description's geometry ``cell_positions``.
    min_force : float
        Total force (N) below which the plate counts as unloaded.
    """
    f = as_signal(forces, "forces", min_samples=1, min_ndim=2)
    pos = np.asarray(cell_positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2 or pos.shape[0] < 3:
        raise input_error("cell_positions", f"has shape {pos.shape}", "give (n_cells, 2) x, y in metres, ≥ 3 cells")
    if f.shape[-2] != pos.shape[0]:
        raise input_error(
            "forces", f"has {f.shape[-2]} cells (axis −2) but {pos.shape[0]} cell positions", "match the cells"
        )
    min_force = _check_min_force(min_force)
    fz = f.sum(axis=-2)
    loaded = fz >= min_force
    safe = np.where(loaded, fz, 1.0)
    cop = np.einsum("...cn,cd->...dn", f, pos) / safe[..., None, :]
    cop = np.where(loaded[..., None, :], cop, np.nan)
    ys = pos[:, 1]
    span = (float(ys.min()), float(ys.max())) if ys.max() > ys.min() else None
    share = _lever_share(cop[..., 1, :], span)
    return PlateCOP(cop, fz, loaded, share)


def cop_from_wrench(
    wrench: Any, *, dz: float = 0.0, min_force: float = MIN_FORCE, ap_span: tuple[float, float] | None = None
) -> PlateCOP:
    """COP of a 6-axis plate from its forces and moments about the plate's origin.

    With z up and the plate surface ``dz`` metres above the origin of the moments, a force F applied at
    (x, y, dz) gives M = (x, y, dz) × F, so Mx = y·Fz − dz·Fy and My = dz·Fx − x·Fz, hence
    ``COPx = (−My + Fx·dz) / Fz`` and ``COPy = (Mx + Fy·dz) / Fz``. (Manuals that write
    ``(−My − Fx·dz)/Fz`` use a z-down frame; Santos & Duarte's BDS files have dz = 0.)

    Parameters
    ----------
    wrench : array_like, shape (..., 6, n)
        Fx, Fy, Fz (N), Mx, My, Mz (N·m) in our axes.
    dz : float
        Height (m) of the contact surface above the origin of the moments (positive when the origin is below).
    ap_span : (back_y, front_y) or None
        AP positions (m) of the plate's back and front support lines, for ``front_share``.
    """
    w = as_signal(wrench, "wrench", min_samples=1, min_ndim=2)
    if w.shape[-2] != 6:
        raise input_error("wrench", f"has {w.shape[-2]} rows on axis −2", "stack Fx, Fy, Fz, Mx, My, Mz")
    if not np.isfinite(dz):
        raise input_error("dz", f"must be a finite height in m, got {dz}", "use 0.0 when unknown")
    min_force = _check_min_force(min_force)
    fx, fy, fz, mx, my = (w[..., i, :] for i in range(5))
    loaded = fz >= min_force
    safe = np.where(loaded, fz, 1.0)
    x = (-my + fx * dz) / safe
    y = (mx + fy * dz) / safe
    cop = np.where(loaded[..., None, :], np.stack([x, y], axis=-2), np.nan)
    return PlateCOP(cop, fz, loaded, _lever_share(cop[..., 1, :], ap_span))


def cop_from_recording(recording: DeviceRecording, *, min_force: float = MIN_FORCE) -> PlateCOP:
    """COP of a recorded plate: load cells (channels ``cell_*`` with geometry ``cell_positions``) or a 6-axis
    plate (channels fx, fy, fz, mx, my, mz; optional geometry ``surface_height`` (m) as dz)."""
    info = recording.info
    values = np.asarray(recording.values, dtype=np.float64)
    cells = [i for i, name in enumerate(info.channel_names) if name.startswith("cell")]
    if cells:
        if "cell_positions" not in info.geometry:
            raise input_error(
                f"device {info.name!r}", "has load cells but no geometry 'cell_positions'", "add it to its description"
            )
        return cop_from_cells(values[cells], info.geometry["cell_positions"], min_force=min_force)
    if all(c in info.channel_names for c in WRENCH_CHANNELS):
        rows = [info.channel_index(c) for c in WRENCH_CHANNELS]
        dz = float(np.asarray(info.geometry.get("surface_height", 0.0)))
        return cop_from_wrench(values[rows], dz=dz, min_force=min_force)
    raise input_error(
        f"device {info.name!r}",
        f"channels {info.channel_names} are neither load cells nor a 6-axis wrench",
        "record cell_0..cell_3 or fx, fy, fz, mx, my, mz",
    )


@dataclass(frozen=True)
class TwoPlateCOP:
    """Two plates (left and right foot) in one frame.

    Attributes
    ----------
    cop : (..., 2, n) net COP, (Fz_L·COP_L + Fz_R·COP_R)/(Fz_L + Fz_R); NaN where the total is below min_force
    left, right : (..., 2, n) per-foot COP in the common frame (NaN where that plate is unloaded)
    fz_left, fz_right : (..., n) vertical forces (N)
    share_left, share_right : (..., n) weight shares Fz_L/(Fz_L + Fz_R), Fz_R/(Fz_L + Fz_R)
    share_front : (..., n) or None — share carried by the plates' front support lines (lever rule per plate)
    loaded : (..., n) bool — total vertical force ≥ min_force
    """

    cop: FloatArray
    left: FloatArray
    right: FloatArray
    fz_left: FloatArray
    fz_right: FloatArray
    share_left: FloatArray
    share_right: FloatArray
    share_front: FloatArray | None
    loaded: BoolArray


def combine_plates(
    left: PlateCOP,
    right: PlateCOP,
    *,
    left_origin: Any = (0.0, 0.0),
    right_origin: Any = (0.0, 0.0),
    min_force: float = MIN_FORCE,
) -> TwoPlateCOP:
    """Net COP and weight shares of two plates; ``*_origin`` is each plate's origin (x, y) in the common frame (m).

    A plate that is unloaded contributes no force (a foot in the air), so the net COP is the other foot's COP.
    """
    min_force = _check_min_force(min_force)
    lo = np.asarray(left_origin, dtype=np.float64).reshape(2, 1)
    ro = np.asarray(right_origin, dtype=np.float64).reshape(2, 1)
    if left.fz.shape != right.fz.shape:
        raise input_error("plates", f"shapes differ: {left.fz.shape} vs {right.fz.shape}", "resample to one clock")
    cl, cr = left.cop + lo, right.cop + ro
    fl = np.where(left.loaded, left.fz, 0.0)
    fr = np.where(right.loaded, right.fz, 0.0)
    total = fl + fr
    loaded = total >= min_force
    safe = np.where(loaded, total, 1.0)
    net = (np.nan_to_num(cl) * fl[..., None, :] + np.nan_to_num(cr) * fr[..., None, :]) / safe[..., None, :]
    net = np.where(loaded[..., None, :], net, np.nan)
    share_l = np.where(loaded, fl / safe, np.nan)
    share_r = np.where(loaded, fr / safe, np.nan)
    front: FloatArray | None = None
    if left.front_share is not None and right.front_share is not None:
        front_force = np.nan_to_num(left.front_share) * fl + np.nan_to_num(right.front_share) * fr
        front = np.where(loaded, front_force / safe, np.nan)
    return TwoPlateCOP(net, cl, cr, left.fz, right.fz, share_l, share_r, front, loaded)


#: Default plate centres, x (m), when a plate's geometry has no ``origin``: two plates side by side.
PLATE_HALF_SPACING = 0.17


@dataclass(frozen=True)
class TrialCOP:
    """COP of a trial on one time grid: ``time`` (n,) s, ``cop`` (2, n) m, ``fs`` Hz, ``plates`` used (left first).

    ``share_left`` (n,) is the left plate's share of the vertical force with two plates, else None.
    """

    time: FloatArray
    cop: FloatArray
    fs: float
    plates: tuple[str, ...]
    share_left: FloatArray | None


def _plate_origin(rec: DeviceRecording, default_x: float) -> tuple[float, float]:
    origin = rec.info.geometry.get("origin")
    if origin is not None and np.shape(origin) == (2,):
        return float(origin[0]), float(origin[1])
    return (default_x, 0.0)


def _on_grid(recording: DeviceRecording, t_ref: FloatArray) -> DeviceRecording:
    time, values = recording.on_regular_grid()
    if time.shape != t_ref.shape or not np.array_equal(time, t_ref):
        values = np.vstack([np.interp(t_ref, time, row) for row in values])
    grid = values.astype(recording.info.value_dtype)
    return DeviceRecording(recording.info, t_ref, np.arange(t_ref.size), grid)


def cop_from_trial(
    trial: Trial, plates: tuple[str, ...] | None = None, *, min_force: float = MIN_FORCE
) -> TrialCOP:
    """COP of one plate, or the net COP of two plates in one frame, from a recorded trial.

    Each plate is put on its regular sample grid (gaps bridged, see ``DeviceRecording.on_regular_grid``); a
    second plate is interpolated onto the first's session-clock times. With two plates the one whose name
    contains "left" is the left foot; plate origins come from the geometry ``origin`` (m) or default to
    ∓ :data:`PLATE_HALF_SPACING` on x. Axes as in DESIGN.md (x medio-lateral right +, y forward +).
    """
    names = plates if plates is not None else tuple(d.info.name for d in trial.devices_of_kind("plate"))
    if len(names) not in (1, 2):
        raise input_error("plates", f"{len(names)} force plates in the trial", "name one or two plates")
    if len(names) == 2:
        left = next((n for n in names if "left" in n), names[0])
        names = (left, next(n for n in names if n != left))
    first = trial.device(names[0])
    t_ref, _ = first.on_regular_grid()
    cops = [cop_from_recording(_on_grid(trial.device(n), t_ref), min_force=min_force) for n in names]
    if len(names) == 1:
        return TrialCOP(t_ref, np.asarray(cops[0].cop, dtype=np.float64), first.info.rate, names, None)
    both = combine_plates(
        cops[0],
        cops[1],
        left_origin=_plate_origin(first, -PLATE_HALF_SPACING),
        right_origin=_plate_origin(trial.device(names[1]), PLATE_HALF_SPACING),
        min_force=min_force,
    )
    return TrialCOP(t_ref, np.asarray(both.cop, dtype=np.float64), first.info.rate, names, both.share_left)

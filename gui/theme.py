"""Light and dark themes sized for a tablet held or propped at arm's length.

Sizes come from the screen's physical density so that a touch target is at least 9 mm wide on any tablet
(1280×800 up to 2560×1600, with or without high-DPI scaling), with a floor in pixels for screens that report
no physical size (virtual and offscreen screens). Text is sized in millimetres for reading at ~60 cm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette, QScreen
from PySide6.QtWidgets import QApplication

ThemeName = Literal["light", "dark"]

#: Smallest touch target side (mm): above the 7–10 mm fingertip width of touch guidelines.
TOUCH_TARGET_MM = 9.0
#: Floor (logical px) when the screen's density is unknown: Android's 48 dp target at 160 dpi ≈ 7.6 mm.
TOUCH_TARGET_FLOOR_PX = 48
#: Body text cap-height target at arm's length (~60 cm): 2.8 mm em ≈ 16 px on a 10" 1280×800 tablet.
BODY_TEXT_MM = 2.8
BODY_TEXT_FLOOR_PX = 16
#: Fallback density (logical px per inch) when Qt knows nothing about the screen.
FALLBACK_DPI = 96.0


@dataclass(frozen=True)
class Palette:
    """Colours of one theme, as ``#rrggbb`` (``band``/``zone`` fills as ``#aarrggbb``)."""

    name: ThemeName
    window: str
    surface: str
    rail: str
    text: str
    muted: str
    accent: str
    on_accent: str
    border: str
    banner: str
    on_banner: str
    curves: tuple[str, ...]
    band: str
    band_edge: str
    in_target: str
    off_target: str
    left: str
    right: str

    def curve(self, index: int) -> str:
        """Colour of the ``index``-th curve (cycles)."""
        return self.curves[index % len(self.curves)]


LIGHT = Palette(
    name="light",
    window="#f4f6f8",
    surface="#ffffff",
    rail="#e3e8ee",
    text="#1b2430",
    muted="#5a6675",
    accent="#0b63c5",
    on_accent="#ffffff",
    border="#c9d1db",
    banner="#fff1c2",
    on_banner="#4a3800",
    curves=("#0b63c5", "#c2410c", "#15803d", "#7c3aed"),
    band="#5522a35a",
    band_edge="#15803d",
    in_target="#15803d",
    off_target="#1b2430",
    left="#0b63c5",
    right="#c2410c",
)

DARK = Palette(
    name="dark",
    window="#12161c",
    surface="#1b2129",
    rail="#0c0f13",
    text="#e8edf3",
    muted="#9aa7b6",
    accent="#4ea1ff",
    on_accent="#06121f",
    border="#2e3744",
    banner="#4a3b00",
    on_banner="#ffe9a3",
    curves=("#4ea1ff", "#ff9a5a", "#4ade80", "#c4a1ff"),
    band="#5522c55e",
    band_edge="#4ade80",
    in_target="#4ade80",
    off_target="#e8edf3",
    left="#4ea1ff",
    right="#ff9a5a",
)

PALETTES: dict[str, Palette] = {"light": LIGHT, "dark": DARK}


@dataclass(frozen=True)
class Metrics:
    """Sizes in logical pixels for the current screen."""

    px_per_mm: float
    touch: int
    body_px: int
    title_px: int
    big_px: int


def px_per_mm_of(screen: QScreen | None) -> float:
    """Logical pixels per millimetre of ``screen``: its logical width over its physical width when the screen
    reports a physical size, else its logical DPI (``logicalDotsPerInch``) / 25.4."""
    if screen is None:
        return FALLBACK_DPI / 25.4
    width_mm = screen.physicalSize().width()
    width_px = screen.geometry().width()
    if width_mm > 1.0 and width_px > 0:
        density = width_px / width_mm
        if 1.0 < density < 40.0:  # virtual screens report nonsense (e.g. 0 mm, or 1 px per 100 mm)
            return density
    dpi = screen.logicalDotsPerInch()
    return (dpi if dpi > 0 else FALLBACK_DPI) / 25.4


def metrics_for(px_per_mm: float) -> Metrics:
    """Touch target, body, title and big-number sizes (logical px) at ``px_per_mm`` logical px per mm."""
    if not (math.isfinite(px_per_mm) and px_per_mm > 0):
        raise ValueError(f"px_per_mm must be a positive density, got {px_per_mm}")
    touch = max(TOUCH_TARGET_FLOOR_PX, math.ceil(TOUCH_TARGET_MM * px_per_mm))
    body = max(BODY_TEXT_FLOOR_PX, round(BODY_TEXT_MM * px_per_mm))
    return Metrics(px_per_mm=px_per_mm, touch=touch, body_px=body, title_px=round(body * 1.35),
                   big_px=round(body * 3.2))


_current: dict[str, object] = {"palette": LIGHT, "metrics": metrics_for(FALLBACK_DPI / 25.4)}


def current_palette() -> Palette:
    """The palette last applied with :func:`apply_theme` (light before any)."""
    palette = _current["palette"]
    assert isinstance(palette, Palette)
    return palette


def current_metrics() -> Metrics:
    """The sizes last computed by :func:`apply_theme`."""
    metrics = _current["metrics"]
    assert isinstance(metrics, Metrics)
    return metrics


def stylesheet(p: Palette, m: Metrics) -> str:
    """The application stylesheet for palette ``p`` at sizes ``m``."""
    pad = max(6, m.touch // 5)
    return f"""
QWidget {{ color: {p.text}; font-size: {m.body_px}px; }}
QMainWindow, QStackedWidget, #page {{ background: {p.window}; }}
#rail {{ background: {p.rail}; border-right: 1px solid {p.border}; }}
#rail QPushButton {{
    min-height: {m.touch}px; min-width: {m.touch}px; padding: 0 {pad}px; text-align: left;
    border: none; border-radius: {pad}px; background: transparent; color: {p.text}; font-weight: 600;
}}
#rail QPushButton:checked {{ background: {p.accent}; color: {p.on_accent}; }}
#rail QPushButton:pressed {{ background: {p.border}; }}
#rail QPushButton#themeButton {{ border: 1px solid {p.border}; background: {p.surface}; text-align: center; }}
#appTitle {{ font-size: {m.title_px}px; font-weight: 700; color: {p.text}; padding: {pad}px; }}
#banner {{ background: {p.banner}; color: {p.on_banner}; padding: {pad}px {pad * 2}px; font-weight: 600; }}
#card {{ background: {p.surface}; border: 1px solid {p.border}; border-radius: {pad}px; }}
#cardTitle {{ font-size: {m.title_px}px; font-weight: 700; }}
#muted, #emptyState {{ color: {p.muted}; }}
#emptyState {{ font-size: {m.title_px}px; }}
QPushButton {{
    min-height: {m.touch}px; min-width: {m.touch}px; padding: 0 {pad * 2}px;
    border: 1px solid {p.border}; border-radius: {pad}px; background: {p.surface}; color: {p.text};
}}
QPushButton:pressed {{ background: {p.border}; }}
QPushButton#primary {{ background: {p.accent}; color: {p.on_accent}; border: none; font-weight: 600; }}
QPushButton:disabled, QPushButton#primary:disabled {{ background: {p.border}; color: {p.muted}; }}
"""


def qt_palette(p: Palette) -> QPalette:
    """A QPalette matching ``p`` (for widgets the stylesheet does not reach)."""
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: p.window,
        QPalette.ColorRole.WindowText: p.text,
        QPalette.ColorRole.Base: p.surface,
        QPalette.ColorRole.AlternateBase: p.window,
        QPalette.ColorRole.Text: p.text,
        QPalette.ColorRole.Button: p.surface,
        QPalette.ColorRole.ButtonText: p.text,
        QPalette.ColorRole.Highlight: p.accent,
        QPalette.ColorRole.HighlightedText: p.on_accent,
        QPalette.ColorRole.PlaceholderText: p.muted,
        QPalette.ColorRole.ToolTipBase: p.surface,
        QPalette.ColorRole.ToolTipText: p.text,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    return pal


def apply_theme(app: QApplication, name: ThemeName = "light") -> Palette:
    """Apply the ``"light"`` or ``"dark"`` theme to ``app``: palette, stylesheet and base font sized for the
    primary screen. Returns the palette (widgets built afterwards read it via :func:`current_palette`)."""
    if name not in PALETTES:
        raise ValueError(f"theme {name!r} is unknown; use 'light' or 'dark'")
    palette = PALETTES[name]
    metrics = metrics_for(px_per_mm_of(QGuiApplication.primaryScreen()))
    _current["palette"], _current["metrics"] = palette, metrics
    app.setStyle("Fusion")
    app.setPalette(qt_palette(palette))
    font = QFont(app.font())
    font.setPixelSize(metrics.body_px)
    app.setFont(font)
    app.setStyleSheet(stylesheet(palette, metrics))
    return palette

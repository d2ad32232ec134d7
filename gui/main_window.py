"""The tablet shell: a navigation rail with large touch targets on the left, the pages on the right.

Pages are registered by name; the rail lists only the pages that exist, in the order Patients, Sensors,
Protocols, Run, Results (names outside that list follow, in registration order). A banner across the top
states plainly when the app runs on simulated sensors.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.theme import ThemeName, apply_theme, current_metrics

#: The rail's order of the app's main pages.
NAV_ORDER = ("patients", "sensors", "protocols", "run", "results")


class MainWindow(QMainWindow):
    """The app window.

    Parameters
    ----------
    theme : "light" or "dark"
    banner : str, optional
        A plain sentence shown across the top (e.g. that sensors are simulated); None for no banner.
    data_dir : Path, optional
        Where the clinic store keeps its data (for the pages that need it).
    transport : str
        The BLE transport spec the sensor pages open (``"os"``, ``"virtual"`` or a Bumble HCI spec).

    Signals
    -------
    closed : emitted when the window is closed (the app then shuts down)
    page_changed(str) : the name of the page now shown
    theme_changed(str) : "light" or "dark"
    """

    closed = Signal()
    page_changed = Signal(str)
    theme_changed = Signal(str)

    def __init__(self, *, theme: ThemeName = "light", banner: str | None = None, data_dir: Path | None = None,
                 transport: str = "auto") -> None:
        super().__init__()
        self.setWindowTitle("Kinetics")
        self.data_dir = data_dir
        self.transport = transport
        self.theme: ThemeName = theme
        self._pages: dict[str, QWidget] = {}
        self._buttons: dict[str, QPushButton] = {}
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)

        self.rail = QWidget()
        self.rail.setObjectName("rail")
        self._rail_layout = QVBoxLayout(self.rail)
        self._rail_layout.setContentsMargins(8, 8, 8, 8)
        self._rail_layout.setSpacing(6)
        title = QLabel("Kinetics")
        title.setObjectName("appTitle")
        self._rail_layout.addWidget(title)
        self._nav_end = 1  # index after the last nav button
        self._rail_layout.addStretch(1)
        self.theme_button = QPushButton()
        self.theme_button.setObjectName("themeButton")
        self.theme_button.clicked.connect(self.toggle_theme)
        self._rail_layout.addWidget(self.theme_button)

        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.stack = QStackedWidget()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(0)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.stack, 1)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.rail)
        layout.addWidget(right, 1)
        self.setCentralWidget(central)
        self.set_banner(banner)
        self._size_rail()
        self._label_theme_button()

    # -- pages --------------------------------------------------------------------------------------------------
    def register_page(self, name: str, label: str, widget: QWidget) -> QPushButton:
        """Add ``widget`` as page ``name`` with a rail button ``label``; the first page registered is shown."""
        if name in self._pages:
            raise ValueError(f"page {name!r} is registered already")
        self._pages[name] = widget
        self.stack.addWidget(widget)
        button = QPushButton(label)
        button.setObjectName(f"nav_{name}")
        button.setCheckable(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(lambda _checked=False, n=name: self.show_page(n))
        self._group.addButton(button)
        self._buttons[name] = button
        order = self.page_names()
        self._rail_layout.insertWidget(1 + order.index(name), button)
        self._nav_end += 1
        if len(self._pages) == 1:
            self.show_page(name)
        return button

    def page_names(self) -> list[str]:
        """Registered pages in rail order."""
        known = [n for n in NAV_ORDER if n in self._pages]
        return known + [n for n in self._pages if n not in NAV_ORDER]

    def page(self, name: str) -> QWidget:
        if name not in self._pages:
            raise KeyError(f"no page {name!r}; pages: {', '.join(self.page_names()) or 'none'}")
        return self._pages[name]

    def nav_button(self, name: str) -> QPushButton:
        self.page(name)
        return self._buttons[name]

    def show_page(self, name: str) -> None:
        """Show page ``name`` and check its rail button."""
        widget = self.page(name)
        self.stack.setCurrentWidget(widget)
        self._buttons[name].setChecked(True)
        self.page_changed.emit(name)

    def current_page(self) -> str:
        """Name of the page shown ("" before any page is registered)."""
        current = self.stack.currentWidget()
        return next((n for n, w in self._pages.items() if w is current), "")

    # -- banner, theme, size ------------------------------------------------------------------------------------
    def set_banner(self, text: str | None) -> None:
        """Show ``text`` across the top, or hide the banner with None."""
        self.banner.setText(text or "")
        self.banner.setVisible(bool(text))

    def set_theme(self, name: ThemeName) -> None:
        """Switch to the light or dark theme and restyle every page that knows how (``apply_palette``)."""
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            raise RuntimeError("set_theme needs a running QApplication")
        palette = apply_theme(app, name)
        self.theme = name
        for widget in self._pages.values():
            apply = getattr(widget, "apply_palette", None)
            if apply is not None:
                apply(palette)
        self._size_rail()
        self._label_theme_button()
        self.theme_changed.emit(name)

    def toggle_theme(self) -> None:
        self.set_theme("dark" if self.theme == "light" else "light")

    def _label_theme_button(self) -> None:
        self.theme_button.setText("Dark theme" if self.theme == "light" else "Light theme")

    def _size_rail(self) -> None:
        touch = current_metrics().touch
        self.rail.setFixedWidth(max(4 * touch, 200))

    def closeEvent(self, event: QCloseEvent) -> None:
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()

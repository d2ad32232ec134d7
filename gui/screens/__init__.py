"""The app's main screens (pages of :class:`gui.main_window.MainWindow`), one module per screen.

Import a screen from its module (``from gui.screens.protocols import ProtocolsScreen``); this package imports
nothing itself, so loading one screen never builds the others.
"""

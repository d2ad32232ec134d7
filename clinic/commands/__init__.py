"""Command groups of the ``kinetics`` command line; each module exposes ``register(app)``."""

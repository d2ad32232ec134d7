"""Errors of :mod:`clinic`: each message says what is wrong and what to do (the command line prints it as is)."""

from __future__ import annotations


class ClinicError(Exception):
    """Base class: a clinic operation that cannot be done as asked."""


class StoreKeyError(ClinicError):
    """The database cannot be opened with the key given (wrong key, no key, or not a Kinetics database)."""


class NotFoundError(ClinicError, LookupError):
    """No patient or session has the id asked for."""


class BundleError(ClinicError):
    """A bundle that cannot be imported: not ours, corrupted, foreign or already imported. Nothing was imported."""


class StoreIntegrityError(ClinicError):
    """A stored trial file is missing or differs from the SHA-256 recorded when it was saved."""

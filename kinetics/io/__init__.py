"""HDF5 trial files and session bundles (schema: ``docs/trial-format.md``).

- :class:`TrialWriter` streams a live trial to disk crash-safely (SWMR, fsync'd checkpoints).
- :func:`write_trial` / :func:`read_trial` write and read a whole trial file.
- :class:`Session`, :func:`write_session` / :func:`read_session`: several trials, the session's metadata, its
  results table and attached documents in one bundle.
- :func:`summarize_file`: the plain-JSON summary that ``kinetics inspect`` shows.
- Every unreadable file raises :class:`TrialFileError` saying what is wrong and what to do.
"""

from kinetics.io._files import fsync_dir
from kinetics.io._schema import FORMAT_VERSION, SESSION_FORMAT, TRIAL_FORMAT
from kinetics.io.errors import TrialFileError
from kinetics.io.reader import read_trial
from kinetics.io.session import ResultRow, Session, SessionMeta, read_session, write_session
from kinetics.io.summary import summarize_file, summarize_trial
from kinetics.io.writer import TrialWriter, write_trial

__all__ = [
    "FORMAT_VERSION",
    "SESSION_FORMAT",
    "TRIAL_FORMAT",
    "ResultRow",
    "Session",
    "SessionMeta",
    "TrialFileError",
    "TrialWriter",
    "fsync_dir",
    "read_session",
    "read_trial",
    "summarize_file",
    "summarize_trial",
    "write_session",
    "write_trial",
]

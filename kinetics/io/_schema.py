"""Names, versions and on-disk types of the Kinetics HDF5 files (documented in ``docs/trial-format.md``).

Everything the writer and the reader must agree on lives here, so that the two cannot drift apart.
"""

from __future__ import annotations

import h5py
import numpy as np

#: ``format`` attribute of the root group of a single-trial file.
TRIAL_FORMAT = "kinetics-trial"
#: ``format`` attribute of the root group of a session bundle.
SESSION_FORMAT = "kinetics-session"
#: Version written by this library; files with a larger ``format_version`` are refused (see the doc).
FORMAT_VERSION = 1
#: HDF5 file-format bounds: files readable by HDF5 1.10 tools and SWMR-capable.
LIBVER = ("v110", "v110")

#: Dataset compression: gzip level 4 with the byte-shuffle filter (the zlib stream's Adler-32 check also
#: detects most corruption of stored samples).
COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}

#: Fixed-length UTF-8 string sizes (bytes) of records appended under SWMR.
EVENT_KIND_BYTES = 16
EVENT_LABEL_BYTES = 200
EVENT_DEVICE_BYTES = 64

EVENT_DTYPE = np.dtype(
    [
        ("time", "<f8"),
        ("kind", h5py.string_dtype("utf-8", EVENT_KIND_BYTES)),
        ("label", h5py.string_dtype("utf-8", EVENT_LABEL_BYTES)),
        ("device", h5py.string_dtype("utf-8", EVENT_DEVICE_BYTES)),
    ]
)
GAP_DTYPE = np.dtype([("first_missing", "<i8"), ("last_missing", "<i8"), ("start", "<f8"), ("end", "<f8")])

#: Results table of a session bundle (written once, so variable-length strings are fine).
_VSTR = h5py.string_dtype("utf-8")
RESULT_DTYPE = np.dtype(
    [
        ("trial_id", _VSTR),
        ("key", _VSTR),
        ("value", "<f8"),
        ("unit", _VSTR),
        ("side", _VSTR),
        ("protocol", _VSTR),
        ("method", _VSTR),
    ]
)

# Group and dataset names inside a trial group.
DEVICES = "devices"
EVENTS = "events"
CHECKPOINTS = "checkpoints"
EXTRA = "extra"
CALIBRATION = "calibration"
GEOMETRY = "geometry"
TIME = "time"
COUNTER = "counter"
VALUES = "values"
GAPS = "gaps"

# Session bundle names.
TRIALS = "trials"
RESULTS = "results"
DOCUMENTS = "documents"


def trial_group_name(index: int) -> str:
    """Name of the ``index``-th trial group under ``/trials`` of a session bundle."""
    return f"trial_{index:04d}"


#: Chunk span of a streamed trial: each checkpoint rewrites the last, partly filled chunk, and under SWMR the
#: space of the old copy is never reused, so short chunks keep streamed files small (measured in
#: bench/trial_io.py, 60 s session: 0.5 s chunks gave 5.35 bytes per value, 1 s 5.6, 2 s 7.3).
STREAM_CHUNK_SECONDS = 0.5
#: Chunk span of a trial written in one call (better compression, nothing is rewritten).
BULK_CHUNK_SECONDS = 4.0


def sample_chunk(rate: float, seconds: float) -> int:
    """Chunk length in samples for a device's time/counter/values: the smallest power of two covering
    ``seconds`` at ``rate`` Hz, within 128 … 16384."""
    n = 128
    while n < rate * seconds and n < 16384:
        n *= 2
    return n

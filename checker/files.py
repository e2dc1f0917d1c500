"""Writing the files the command line is asked to write (`--output`, `--save-bundle`).

Why not `open(path, "w")`: a half-written report or bundle (disk full, Ctrl-C) is worse
than none, and a predictable temporary name (`report.json.tmp`) beside the target is an
invitation: a symlink planted there makes us overwrite whatever it points to. So a regular
file is written to a temporary file created exclusively in the target's own directory
(`tempfile.mkstemp`: O_CREAT|O_EXCL|O_NOFOLLOW, a random name, mode 0600), flushed to disk,
given its final mode, and renamed over the target in one step (`os.replace`, which replaces
a symlink at the target rather than writing through it). A FIFO or a character device
(`-o /dev/stderr`, a named pipe another process reads) is written directly: it cannot be
renamed over, and the reader is waiting on that very node.

A large report comes in pieces (`write_pieces`), each written as it comes, so its text is
never held whole: into the temporary file, renamed only once the last piece is written
(whatever fails between two pieces leaves the previous file as it was), or into the FIFO,
whose reader gets them as they come.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

#: Reports are ordinary files (mode 0666 less the umask); bundles hold task definitions,
#: events and log lines, so only their owner reads them.
PRIVATE = 0o600


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _kept_mode(path: Path) -> int:
    """A regular file keeps its permissions when it is replaced (a report someone made
    private stays private); a new file, or one replacing a symlink, gets 0666 less the
    umask, as `open()` would give it."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return 0o666 & ~_umask()
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else 0o666 & ~_umask()


def is_stream(path: Path) -> bool:
    """A FIFO or character device at `path` (following links): written in place."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write `text` (UTF-8) to `path` atomically, or straight into a FIFO or device.

    `mode`: the file's permissions (default: those of the file it replaces, else 0666 less
    the umask). Raises OSError (the caller turns it into one line); nothing is left
    behind when it does.
    """
    write_pieces(path, (text,), mode=mode)


def write_pieces(path: Path, pieces: Iterable[str | bytes], *,
                 mode: int | None = None) -> None:
    """`write_text` of the pieces joined, each written as it comes (a str as UTF-8, bytes as
    they are), so a large report is never held whole. Whatever the iteration raises, like
    an OSError, leaves nothing behind: the temporary file is only renamed at the end. A
    FIFO or device gets the pieces as they come (its reader is waiting on them, and what
    it was given cannot be taken back)."""
    if is_stream(path):
        with open(path, "wb") as stream:
            _write_all(stream, pieces)
        return
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            _write_all(out, pieces)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode if mode is not None else _kept_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # no half-written file beside the target (disk full, ^C)
        raise


#: Characters encoded at a time: a 300 MB report is not held a second time as bytes.
_ENCODE_SLICE = 1 << 22


def _write_all(out: BinaryIO, pieces: Iterable[str | bytes]) -> None:
    """Each piece as it comes: bytes as they are (the JSON report's, already ASCII), a str
    as UTF-8, slice by slice (slices are whole code points, so the bytes are those of
    encoding it at once); a lone surrogate is shown, never fatal."""
    for piece in pieces:
        if isinstance(piece, bytes):
            out.write(piece)
            continue
        for start in range(0, len(piece), _ENCODE_SLICE):
            out.write(piece[start:start + _ENCODE_SLICE].encode("utf-8", "backslashreplace"))

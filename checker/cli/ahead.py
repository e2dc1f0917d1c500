"""A large JSON report's findings, written by a second process while this one diagnoses.

The findings are two thirds of a large account's JSON report (x10 of bench/scale_bundle.py:
84 of 123 MB) and their bytes depend on nothing the playbook walk, the ranking or the
timeline compute. So as soon as the checks are done, the command line forks a child that
renders the report's `findings` entry exactly as `json_pieces` would (`entry_pieces`),
passes it through the sanitizer (`safe_pieces`) and spills it into an unlinked temporary
file (it reads the findings marshalled, `parallel.Packed`, so that it does not copy the
pages that hold them); meanwhile this process walks the playbooks, ranks, and renders the
entries before it. When the renderer reaches `findings`, it waits for the child and copies
the spill in, marked `Sanitized` so that it is not sanitized twice. The report is the same
bytes either way (tests/test_ahead.py): a child that could not be had or failed, or a value
that is not the one it rendered, and the entry is rendered here as before.

Run only where it pays (`MIN_FINDINGS`) and where the checks may run in a second process
too (checker/parallel.py: `ECSDOCTOR_JOBS`, two CPUs, no other thread).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO, Any

from checker import gcpause, parallel
from checker.model import Finding, ItemDicts
from checker.render.json_report import entry_pieces
from checker.sanitize import Sanitized, safe_pieces

#: Findings from which a child renders them (x1 of the bench, 13,000 findings, gains
#: nothing measurable; x3, 39,000, about a tenth of the command).
MIN_FINDINGS = 20_000
#: The key of the entry, and whether it is the report's last (`errors` comes after it).
KEY, LAST = "findings", False
_CHUNK = 1 << 20


class Ahead:
    """The `findings` entry of a report whose findings are `findings`, being written by
    `child`; a `json_report.Ready` for `json_pieces`."""

    def __init__(self, findings: Sequence[Finding], child: parallel.Child) -> None:
        self.findings, self.child = findings, child

    def __call__(self, value: Any, last: bool) -> Iterator[bytes] | None:
        """The child's bytes for the entry whose value is `value`, or None when `value` is
        not the findings it rendered or it failed."""
        if type(value) is not ItemDicts or value.items is not self.findings or last != LAST:
            return None
        spill = self.child.result()
        if spill is None or not _ends_a_line(spill):
            return None
        return _chunks(spill)

    def close(self) -> None:
        self.child.close()


def start(findings: Sequence[Finding], *, color: bool) -> Ahead | None:
    """A child rendering the `findings` entry of the report that will hold `findings`
    (sanitized as `safe_pieces(color=color)`), or None where it does not pay or cannot run."""
    if len(findings) < MIN_FINDINGS or parallel.jobs() < 2 or not parallel.forkable():
        return None
    # marshalled, the child's copy of the findings is its own, made a batch at a time
    source: Sequence[Finding] = parallel.Packed.of(findings) or findings

    def work(spill: IO[bytes]) -> None:
        with gcpause.paused():
            pieces = entry_pieces(KEY, ItemDicts(source, Finding.to_dict), 0, LAST)
            for piece in safe_pieces(pieces, color=color):
                spill.write(piece if isinstance(piece, bytes) else piece.encode("utf-8"))

    child = parallel.Child.start(work)
    return None if child is None else Ahead(findings, child)


def _ends_a_line(spill: IO[bytes]) -> bool:
    """The spill is whole: an entry's pieces end with a newline (a child cut short would
    leave the next piece to start mid-line, unseen by the sanitizer's line guard)."""
    spill.seek(0, 2)
    if spill.tell() == 0:
        return False
    spill.seek(-1, 2)
    ends = spill.read(1) == b"\n"
    spill.seek(0)
    return ends


def _chunks(spill: IO[bytes]) -> Iterator[bytes]:
    while chunk := spill.read(_CHUNK):
        yield Sanitized(chunk)

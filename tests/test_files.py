"""Files the command line writes (`--output`, `--save-bundle`): atomic, never through a
planted symlink, straight into a FIFO or a device, `-o -` to stdout, bundles 0600, and a
failure is one line with nothing left behind."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from checker import bundle as bundle_mod
from checker.cli import main
from checker.files import write_pieces, write_text

HANDWRITTEN = Path(__file__).parent / "bundles" / "handwritten-oom.json"


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "report.json").symlink_to(victim)
    write_text(tmp_path / "report.json", "new\n")
    assert victim.read_text() == "keep"
    assert not (tmp_path / "report.json").is_symlink()
    assert (tmp_path / "report.json").read_text() == "new\n"


def test_a_planted_tmp_name_is_never_used(tmp_path: Path) -> None:
    """The old writer wrote `<name>.tmp` and followed a symlink planted there."""
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "report.json.tmp").symlink_to(victim)
    assert main(["analyze", str(HANDWRITTEN), "-f", "json", "-o",
                 str(tmp_path / "report.json")]) == 0
    assert victim.read_text() == "keep"
    assert json.loads((tmp_path / "report.json").read_text())["format"] == "ecsdoctor-report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.json.tmp",
                                                          "victim"]


def _through_fifo(tmp_path: Path, write: Callable[[Path], None]) -> list[bytes]:
    """What a reader of a FIFO at tmp_path/pipe got while `write` wrote into it."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write(fifo)
    reader.join(timeout=10)
    return got


def test_a_fifo_is_written_directly(tmp_path: Path) -> None:
    got = _through_fifo(tmp_path, lambda fifo: write_text(fifo, "through the pipe\n"))
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)  # still a FIFO, not a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_character_device_is_written_directly() -> None:
    write_text(Path("/dev/null"), "discarded\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dash_writes_the_report_to_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(HANDWRITTEN), "-f", "json", "-o", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "ecsdoctor-report"
    assert list(tmp_path.iterdir()) == []


def test_a_report_gets_the_usual_mode_and_a_bundle_only_its_owner(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "report.md", "# r\n")
        bundle_mod.save(bundle_mod.load(HANDWRITTEN), tmp_path / "bundle.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "report.md").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "bundle.json").st_mode) == 0o600
    assert bundle_mod.load(tmp_path / "bundle.json")["format"] == "ecsdoctor-bundle"


def test_a_replaced_report_keeps_its_permissions_and_a_bundle_is_always_private(
        tmp_path: Path) -> None:
    report, bundle = tmp_path / "report.md", tmp_path / "bundle.json"
    report.write_text("old")
    report.chmod(0o640)
    bundle.write_text("{}")
    bundle.chmod(0o644)
    write_text(report, "new")
    bundle_mod.save(bundle_mod.load(HANDWRITTEN), bundle)
    assert stat.S_IMODE(os.stat(report).st_mode) == 0o640 and report.read_text() == "new"
    assert stat.S_IMODE(os.stat(bundle).st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_directory_we_cannot_write_is_one_line_and_leaves_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["analyze", str(HANDWRITTEN), "-o", str(locked / "r.txt")]) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--output" in err[0] and "cannot write" in err[0]
    assert list(locked.iterdir()) == []


def test_a_missing_directory_is_one_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no" / "such" / "dir" / "r.txt"
    assert main(["analyze", str(HANDWRITTEN), "--output", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write" in err[0] and "Traceback" not in err[0]


def test_a_failed_write_removes_its_temporary_file(tmp_path: Path) -> None:
    """A directory at the target: the rename fails, and nothing half-written stays."""
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError):
        write_text(tmp_path / "out", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_pieces_are_written_as_they_come_and_joined_are_the_text(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    big = b"  " + b"x" * 100_000 + b"\n"  # beyond the writer's buffer: on disk at once
    seen: list[int] = []

    def pieces() -> Iterator[str | bytes]:
        for piece in (big, "  \"b\": \"caf\u00e9 \ud800\"\n", big):
            # what is on disk so far: the temporary file grows, the target does not exist
            seen.append(sum(p.stat().st_size for p in tmp_path.iterdir()))
            yield piece

    write_pieces(target, pieces())
    assert target.read_bytes() == big + b'  "b": "caf\xc3\xa9 \\ud800"\n' + big
    assert seen[0] == 0 and seen[1] >= len(big) and seen[2] >= len(big)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_failure_between_pieces_leaves_the_old_file_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old report\n")

    def pieces() -> Iterator[bytes]:
        yield b"half of a new "
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_pieces(target, pieces())
    assert target.read_text() == "old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_a_fifo_gets_the_pieces(tmp_path: Path) -> None:
    got = _through_fifo(tmp_path, lambda fifo: write_pieces(
        fifo, [b"one\n", "two \u00e9\n", b"three\n"]))
    assert got == ["one\ntwo \u00e9\nthree\n".encode()]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]

"""The terminal and Markdown views of the past: a resolved diagnosis says so, a trigger is
named with the command that undoes it (copyable: never wrapped), and each diagnosis shows
only the few moments around its own onset, AWS text printed literally."""

from __future__ import annotations

from checker.model import (
    RESOLVED,
    Diagnosis,
    Report,
    Severity,
    TimelineEntry,
    Trigger,
)
from checker.render import RenderOptions, render

WEB = "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
RTB = "rtb-0b2a4d6f8b0c2e3a4"
REVERT = (f"aws ec2 create-route --route-table-id {RTB} --destination-cidr-block 0.0.0.0/0 "
          "--nat-gateway-id nat-0b8f2d4c6e8a01b22")


def _entry(minute: int, kind: str, resource: str, summary: str) -> TimelineEntry:
    return TimelineEntry(f"2026-11-20T09:{minute:02d}:00+00:00", kind, resource, summary)


def _report() -> Report:
    trig = Trigger("2026-11-20T09:10:00+00:00", "user/ops-admin", "DeleteRoute", RTB,
                   "cloudtrail", REVERT)
    active = Diagnosis("egress-route-missing", "No default route", "vpc-outage",
                       Severity.CRITICAL, 0.9, 60.0, (WEB, RTB), "The route is gone.", (), (),
                       (), why=("began 09:13, 3 min after DeleteRoute on rtb-… by user/ops-admin",),
                       rank=1, onset="2026-11-20T09:13:00+00:00", trigger=trig)
    done = Diagnosis("memory-undersized", "Memory too small", "memory-oom", Severity.LOW, 0.75,
                     15.0, (WEB,), "OOM kills.", (), (), (), rank=2, status=RESOLVED,
                     onset="2026-11-20T03:20:00+00:00",
                     why=("resolved: deployment of web:9 at 05:00 by user/ops-admin",))
    timeline = (
        TimelineEntry("2026-11-20T08:30:00+00:00", "service-event", WEB,
                      "long before: not shown"),
        _entry(10, "change", RTB, f"DeleteRoute 0.0.0.0/0 on {RTB} by user/ops-admin"),
        _entry(12, "service-event", "arn:aws:ecs:us-east-1:123456789012:service/prod/api",
               "(service api) another service: not shown"),
        _entry(13, "stopped-task", "arn:aws:ecs:us-east-1:123456789012:task/prod/3cb7",
               "prod/web task 3cb7 stopped: [bold]CannotPull | x[/bold] <none>"),
    )
    return Report("2026-11-20T10:00:00+00:00", "123456789012", "us-east-1",
                  {"clusters": ["prod"]}, (active, done), (), timeline=timeline)


def test_table_shows_trigger_undo_and_the_moments_around_the_onset() -> None:
    default = render(_report(), "table", RenderOptions(color=False, width=100))
    out = render(_report(), "table", RenderOptions(color=False, width=100, verbose=True))
    for text in (default, out):
        assert f"trigger: DeleteRoute on {RTB} by user/ops-admin at 09:10 UTC" in text
        assert REVERT in text.splitlines()[text.splitlines().index("    undo the trigger") + 1]
        assert "#2  LOW  RESOLVED" in text
    assert "timeline (UTC" not in default  # the moments around the onset: --verbose
    assert "timeline (UTC, around the onset at 09:13)" in out
    assert "[bold]CannotPull | x[/bold] <none>" in out  # literal, never markup
    assert "not shown" not in out
    assert "#2  LOW  RESOLVED" in out


def test_markdown_escapes_aws_text_and_fences_the_undo_command() -> None:
    out = render(_report(), "markdown", RenderOptions())
    assert f"```sh\n{REVERT}\n```" in out
    assert r"\[bold\]CannotPull \| x\[/bold\] \<none\>" in out
    assert "**LOW** · **resolved**" in out and "| **low** (resolved) |" in out
    assert "**Timeline** (UTC, around the onset at 09:13)" in out
    assert "not shown" not in out


def test_json_carries_the_new_fields() -> None:
    import json

    data = json.loads(render(_report(), "json"))
    first, second = data["diagnoses"]
    assert first["trigger"]["revert"] == REVERT and first["status"] == "active"
    assert second["status"] == "resolved" and second["trigger"] is None
    assert [t["time"] for t in data["timeline"]] == sorted(t["time"] for t in data["timeline"])

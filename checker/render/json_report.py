"""JSON renderer: report v1 (CONTRACTS.md §2), exactly `Report.to_dict()`.

Named `json_report` so that `checker.render.json` never shadows the standard library module
for readers or tools. The shape is owned by the model, not here: this module only fixes
the serialisation (indent 2, key order as built, ASCII-only escapes, trailing newline) so
that the same report is the same bytes and diffs between two scans stay small.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from checker.model import Report

if TYPE_CHECKING:
    from checker.render import RenderOptions


def render_json(report: Report, options: RenderOptions) -> str:
    """Options are ignored: colour, width and verbosity mean nothing to a machine reader."""
    del options
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"

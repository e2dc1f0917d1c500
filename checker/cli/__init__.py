"""The command line (`ecsdoctor`): a product on top of the engine, like the gate, the audit
and the demo. `app` parses, the commands run the one pipeline and a renderer, `main`
turns errors into exit codes (CONTRACTS.md §4). `explain`, `progress` and `scan` are the
terminal's own helpers."""

from checker.cli.app import app, main, run

__all__ = ["app", "main", "run"]

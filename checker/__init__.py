"""ecsdoctor's engine: collect → bundle → checks → playbooks → rank → render."""

__version__ = "0.1.0"

"""Exceptions, drawn as a tree so callers know what to catch::

    EcsdoctorError            anything ecsdoctor raises on purpose
    ├── InputError            bad user input: CLI prints one line, exit 2
    │   └── BundleError       a bundle file that cannot be read or is not bundle v1
    ├── RegistryError         a check module declares something impossible (cycle, unknown id)
    └── PlaybookError         a playbook file is invalid (names the file, key and problem)

    MissingFacts              a check asked for a collection that is absent or failed;
                              the runner turns it into an `unknown` finding

The distinction matters: InputError is the user's to fix, Registry/PlaybookError are ours
(they fire at load, in tests, before any user sees them), MissingFacts is normal life in an
account with partial permissions.
"""

from __future__ import annotations


class EcsdoctorError(Exception):
    """Base of every deliberate ecsdoctor error."""


class InputError(EcsdoctorError):
    """The user gave something we cannot use; the message says what and what to do."""


class BundleError(InputError):
    """A bundle file is unreadable, not JSON, or not ecsdoctor-bundle v1."""


class RegistryError(EcsdoctorError):
    """The check registry is inconsistent (duplicate id, unknown dependency, cycle)."""


class PlaybookError(EcsdoctorError):
    """A playbook is invalid; the message is `file: key: problem`."""


class MissingFacts(Exception):
    """A collection the check needs is absent from the bundle or failed to collect."""

    def __init__(self, collection: str, reason: str) -> None:
        super().__init__(f"{collection}: {reason}")
        self.collection = collection
        self.reason = reason

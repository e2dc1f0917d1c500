"""The embedded demo account behind `ecsdoctor demo`: moto's server on 127.0.0.1, seeded with
the documented incidents beside healthy services (`scenario`, `build`, `network`, `capacity`,
`metrics`), and the moto patches that make it fast and faithful (`moto_patches`, `moto_seed`).

A product on top of the engine and the collectors; the engine never imports it. moto is an
optional extra (`pip install '.[demo]'`), imported only inside functions.
"""

from checker.errors import InputError

#: What to run when the demo extra is missing (the one line `ecsdoctor demo` prints).
INSTALL_HINT = ("ecsdoctor demo needs the demo extra (moto): pip install 'ecsdoctor[demo]' "
                "(from a clone: pip install '.[demo]')")


def require_moto() -> None:
    """Fail with one line, not a traceback, when moto's server is not installed: the base
    install leaves it out (it pulls in ~300 MB that only the demo and the tests use)."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise InputError(INSTALL_HINT) from None

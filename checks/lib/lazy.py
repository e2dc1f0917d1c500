"""`cached`: functools.cached_property without its lock.

Python 3.11's cached_property takes a per-class lock on every first access (removed in
3.12 as a bug: https://github.com/python/cpython/issues/87634). Objects made by the tens of
thousands per analysis (one per service and subnet on a large account) pay for that lock on
each of their properties; this descriptor computes the value and stores it in the
instance's __dict__, where attribute lookup finds it from then on. Same contract: the
instance needs a __dict__, the value is computed at most once per instance (twice at
worst under a race, which a pure function makes harmless).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class cached(Generic[T]):
    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | cached[T]:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value

"""The registration helpers of :mod:`model.mutations`."""

from __future__ import annotations

from ..registry import Mutation, register_mutation


def _mutation(name, base, expected, origin, summary, config="default", memory_model="sc"):
    """Class decorator: register the class as mutation ``name`` of version ``base`` (a bug on
    kernel configuration ``config``, :mod:`checker.config`, and memory model
    ``memory_model``, :mod:`checker.memory_model`)."""
    def wrap(cls):
        register_mutation(Mutation(name=name, base=base, cls=cls, expected_property=expected,
                                   origin=origin, summary=summary, config=config,
                                   memory_model=memory_model))
        return cls
    return wrap


def _inexpressible(name, base, expected, origin, summary, reason):
    register_mutation(Mutation(name=name, base=base, cls=None, expected_property=expected,
                               origin=origin, summary=summary, expressible=False, reason=reason))

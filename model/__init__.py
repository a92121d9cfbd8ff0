"""The zsmalloc model: pool data, the three protocol versions, roles and scenarios.

A reviewer's patch is a subclass of a version overriding kernel functions::

    from model import Upstream

    class MyZsmalloc(Upstream):
        def zs_free(self, handle):
            ...                       # a generator, like every kernel function

and is checked with ``zsmc check --variant mypatch.py:MyZsmalloc``.  The
registry the CLI uses is :mod:`model.registry`.
"""

from .versions import V5, VERSIONS, Legacy, Upstream, Zsmalloc

__all__ = ["V5", "VERSIONS", "Legacy", "Upstream", "Zsmalloc"]

"""Shell completion of zsmc's names: variants, mutations, scenarios, properties, schedulers.

click completes commands and options by itself (docs/cli.md, "Shell
completion"); these callbacks add the values, read from the registries when
the shell asks (so ``zsmc`` itself starts no slower).
"""

from __future__ import annotations

from click.shell_completion import CompletionItem


def _items(names, incomplete: str) -> list:
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def variants(ctx, param, incomplete):
    from model.registry import VERSIONS
    return _items(VERSIONS, incomplete)


def mutations(ctx, param, incomplete):
    from model.registry import MUTATIONS
    return _items([n for n, m in MUTATIONS.items() if m.cls is not None], incomplete)


def scenarios(ctx, param, incomplete):
    from model.registry import SCENARIOS
    return _items(SCENARIOS, incomplete)


def properties(ctx, param, incomplete):
    from checker.monitor import ENGINE_PROPERTIES, REGISTRY
    return _items([*ENGINE_PROPERTIES, *REGISTRY], incomplete)


def schedulers(ctx, param, incomplete):
    from checker.schedulers import SCHEDULERS
    return _items(SCHEDULERS, incomplete)

"""The model's registry: versions, scenarios, mutations, variants and builds.

The interface the CLI and the trace loader code against:

* ``VERSIONS``: built-in version name -> class; ``SCENARIOS``: name -> Scenario;
  ``MUTATIONS``: name -> :class:`Mutation`, filled by ``model.mutations``
  (a module or package imported at the end of this one, if it exists, which
  calls :func:`register_mutation`).
* :func:`find_scenario`: a SCENARIOS name or a member of the large-pool family
  (:mod:`model.large`, e.g. ``large:classes=3,zspages=4,objects=6,tasks=4``).
* :func:`load_variant` (a built-in name, ``path/file.py:Class`` or
  ``package.module:Class``), :func:`variant_for` (a version plus an optional
  mutation), :func:`make_build` and :func:`build_from_params` (the trace
  loader ``model.registry:build_from_params``).

Every bad input raises :class:`checker.UsageError` with a one-line message.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import inspect
from dataclasses import dataclass

from checker import UsageError
from checker.budget import MAX_CPUS, MAX_DEPTH
from checker.config import resolve as resolve_config
from checker.memory_model import resolve as resolve_memory_model
from checker.trace import register_loader

from . import failure, hidden_state, variant_files
from .coverage import names_used
from .large import LARGE, draws_pool, is_large, large_scenario
from .scenarios import SCENARIOS, Scenario, build_program
from .versions import VERSIONS

SCENARIOS[LARGE.name] = LARGE     # not a default scenario; parameterised names go through find_scenario

PARAMS_FORMAT = 1
# The loader a trace of this model names: registered here, so that importing the
# model is what lets a trace file name it (checker.trace knows no model).
LOADER = f"{__name__}:build_from_params"
register_loader(LOADER)


@dataclass(slots=True, frozen=True)
class Mutation:
    """A seeded bug: ``cls`` (a subclass of the ``base`` version overriding the affected
    methods, None when not expressible), the property it must violate, its ``origin``
    (commit or review) and a one-line ``summary``; ``reason`` says why it is not
    expressible when ``expressible`` is False.  ``config`` is the kernel configuration
    the bug shows on (:mod:`checker.config`: ``"default"`` is !PREEMPT_RT, ``"rt"``),
    ``memory_model`` the memory model it needs (:mod:`checker.memory_model`: ``"sc"``,
    ``"ra"``)."""

    name: str
    base: str
    cls: type | None
    expected_property: str
    origin: str
    summary: str
    expressible: bool = True
    reason: str = ""
    config: str = "default"
    memory_model: str = "sc"


MUTATIONS: dict = {}
_LOADED: dict = {}        # class -> the spec it was loaded from (file paths absolute)
_BY_SPEC: dict = {}       # spec -> class, for every variant the user named in this process


def register_mutation(m: Mutation) -> Mutation:
    """Add ``m`` to MUTATIONS, checking it at registration time."""
    if not isinstance(m, Mutation):
        raise UsageError(f"register_mutation needs a Mutation, got {m!r}")
    if m.base not in VERSIONS:
        raise UsageError(f"mutation {m.name!r}: unknown base version {m.base!r}")
    if m.cls is not None and not issubclass(m.cls, VERSIONS[m.base]):
        raise UsageError(f"mutation {m.name!r}: {m.cls.__name__} is not a subclass of {m.base}")
    MUTATIONS[m.name] = m
    return m


def _known_versions() -> str:
    return ", ".join(VERSIONS)


def load_variant(spec: str) -> type:
    """The version class named by ``spec``: a built-in name, ``path/to/file.py:Class``
    or ``package.module:Class``; it must subclass a built-in version."""
    if not isinstance(spec, str) or not spec.strip():
        raise UsageError(f"a variant is a version name ({_known_versions()}) or FILE.py:CLASS, got {spec!r}")
    if spec in VERSIONS:
        return VERSIONS[spec]
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise UsageError(f"unknown variant {spec!r}; built-in versions: {_known_versions()}; "
                         "or give path/to/file.py:Class or package.module:Class")
    path = variant_files.is_path(where)
    module = variant_files.load_file(where) if path else variant_files.load_module(where)
    cls = getattr(module, name, None)
    if cls is None:
        raise UsageError(f"variant {spec!r}: {where} has no class {name!r}")
    _check_variant(cls, spec)
    full = variant_files.canonical(spec, cls)
    _LOADED[cls] = full
    _BY_SPEC[spec] = _BY_SPEC[full] = cls
    return cls


def known_variant(spec) -> bool:
    """Whether a trace's variant ``spec`` runs without the user's say: built in, or
    named by the user in this process (anything else is code a file asks for)."""
    return isinstance(spec, str) and (spec in VERSIONS or spec in _BY_SPEC)


def variant_source(cls) -> dict | None:
    """What a trace records of a variant loaded from a file or module (path, class,
    SHA-256 of it and of the siblings it imported); None for a built-in one."""
    spec = _LOADED.get(cls)
    return None if spec is None else variant_files.record(cls, spec)


def _check_variant(cls, spec: str) -> None:
    """A variant must subclass a version; its kernel-function overrides must be
    generators, and a method whose name is close to but not one of its base's is
    a misspelt override (it would never be called)."""
    if not isinstance(cls, type) or not any(issubclass(cls, v) for v in VERSIONS.values()):
        raise UsageError(f"variant {spec!r}: {getattr(cls, '__name__', cls)!r} is not a subclass of a "
                         f"zsmalloc version ({_known_versions()}); write class X(model.Upstream): ...")
    base = base_version(cls)
    for attr in _kernel_functions(base):
        fn = inspect.getattr_static(cls, attr)
        if not inspect.isgeneratorfunction(fn):
            raise UsageError(f"variant {spec!r}: {attr} must be a generator like the kernel function "
                             f"it replaces (yield the actions, yield from self.<fn>(...))")
        takes = _takes_the_calls_of(fn, inspect.getattr_static(base, attr))
        if takes:
            raise UsageError(f"variant {spec!r}: {attr}{takes[0]} does not take the arguments of the "
                             f"kernel function it replaces, {attr}{takes[1]}; give it those parameters")
    known = {a for klass in base.__mro__ for a in vars(klass)}
    called = _names_used(cls, base)
    for klass in cls.__mro__:
        if klass is base or issubclass(base, klass):
            break
        for attr, fn in vars(klass).items():
            if attr in known or attr.startswith("__") or not callable(fn) or attr in called:
                continue
            close = difflib.get_close_matches(attr, sorted(a for a in known if not a.startswith("__")),
                                              n=3, cutoff=0.8)
            if close:
                raise UsageError(f"variant {spec!r}: {klass.__name__}.{attr} is not a function of "
                                 f"{base.NAME} and would never be called; did you mean "
                                 f"{' or '.join(close)}?")
    hidden_state.check_code(cls, spec)


def _names_used(cls: type, base: type) -> set:
    """The attribute names the variant's own functions use (``self.x``, ``X.x``), through
    their nested code (closures, comprehensions): a new method one of them calls is a
    helper of the patch, not a misspelt override, whatever its name resembles (red team
    round 5: ``lock_zspage_held``, called by the patch's ``async_free_zspage``, was refused
    as a misspelling of ``lock_zspage``, and ``_free_zspage_pages`` as one of ``_free_zspage``)."""
    names = set()
    for klass in cls.__mro__:
        if klass is base or issubclass(base, klass):
            break
        for fn in vars(klass).values():
            code = getattr(getattr(fn, "__func__", fn), "__code__", None)
            if code is not None:
                names |= names_used(code)
    return names


def base_version(cls: type) -> type:
    """The built-in version ``cls`` derives from (the most derived one)."""
    return next(v for v in cls.__mro__ if v in VERSIONS.values())


def _takes_the_calls_of(fn, base_fn):
    """None if ``fn`` accepts every call the model makes of ``base_fn`` (its required
    parameters, positional or keyword-only; what has a default may be left out, as
    callers need not pass it); else ``(fn's signature, base_fn's)``.  A variant whose
    ``zs_free(self)`` lost ``handle`` was a TypeError in the first step that called it,
    after the report had begun; parameter names may differ (the model passes
    positional ones by position)."""
    if fn is base_fn:
        return None
    try:
        mine, theirs = inspect.signature(fn), inspect.signature(base_fn)
    except (TypeError, ValueError):
        return None
    P = inspect.Parameter
    params = list(theirs.parameters.values())
    if any(p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD) for p in params):
        return None
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
                  and p.default is P.empty]
    keywords = {p.name: None for p in params if p.kind == P.KEYWORD_ONLY and p.default is P.empty}
    try:
        mine.bind(*[None] * len(positional), **keywords)
    except TypeError:
        return str(mine), str(theirs)
    return None


def _kernel_functions(version: type) -> list:
    """The names of ``version``'s generator methods (its kernel functions)."""
    names = set()
    for klass in version.__mro__:
        for attr, fn in vars(klass).items():
            if inspect.isgeneratorfunction(fn):
                names.add(attr)
    return sorted(names)


def describe_variant(cls: type) -> tuple:
    """``(variant spec, mutation name or None)`` for a class, as stored in params."""
    for name, v in VERSIONS.items():
        if cls is v:
            return name, None
    for m in MUTATIONS.values():
        if m.cls is cls:
            return m.base, m.name
    if cls in _LOADED:
        return _LOADED[cls], None
    return f"{cls.__module__}:{cls.__qualname__}", None


def variant_for(version: str, mutation: str | None) -> type:
    """The class for ``version`` (a built-in name or a variant spec) plus ``mutation``."""
    if mutation is None:
        return load_variant(version)
    m = MUTATIONS.get(mutation)
    if m is None:
        known = ", ".join(sorted(MUTATIONS)) or "none registered"
        raise UsageError(f"unknown mutation {mutation!r}; known mutations: {known}")
    if not m.expressible or m.cls is None:
        raise UsageError(f"mutation {mutation!r} cannot be expressed in the model: "
                         f"{m.reason or 'no reason given'}")
    if version != m.base:
        raise UsageError(f"mutation {mutation!r} is a change to {m.base}, not to {version!r}")
    return m.cls


def find_scenario(name) -> Scenario:
    """The scenario ``name`` names: a key of SCENARIOS or a large-pool family member
    (``large:classes=C,zspages=Z,objects=O,tasks=T``, see :mod:`model.large`)."""
    if is_large(name):
        return large_scenario(name)
    scen = SCENARIOS.get(name)
    if scen is None:
        raise UsageError(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)} "
                         f"(or {LARGE.name}:k=v,... with k in classes, zspages, objects, tasks)")
    return scen


def cpu_counts(name, cpus: int | None = None) -> list:
    """The CPU counts a check runs scenario ``name`` at: ``cpus`` if given, else
    each of the scenario's own (a two-CPU race and its one-CPU counterpart)."""
    if cpus:
        return [cpus]
    return list(getattr(find_scenario(name), "counts", None) or [None])


def failure_note(variant: type, names) -> str | None:
    """The note of a check whose scenarios ``names`` let allocations fail that ``variant``
    has no failure path for (:func:`model.failure.failure_note`)."""
    return failure.failure_note(variant, [SCENARIOS[n] for n in names if n in SCENARIOS])


def make_build(variant: type, scenario: str, depth: int, cpus: int | None = None, config=None,
               memory_model=None):
    """``(build, params)``: ``build()`` returns a fresh Program (context: the pool) for
    ``scenario`` with clients of ``depth`` operations and background tasks of ``depth``
    rounds, on kernel configuration ``config`` (None or "default": !PREEMPT_RT; "rt")
    and memory model ``memory_model`` (None or "sc"; "ra");
    ``params`` is a JSON-able description that :func:`build_from_params` accepts."""
    if not isinstance(variant, type) or not any(issubclass(variant, v) for v in VERSIONS.values()):
        raise UsageError(f"make_build needs a zsmalloc version class, got {variant!r}")
    scen = find_scenario(scenario)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise UsageError(f"depth must be a positive integer, got {depth!r}")
    # the command line's bounds hold for a trace's or checkpoint's params too
    if depth > MAX_DEPTH:
        raise UsageError(f"depth must be at most {MAX_DEPTH} (as --depth), got {depth!r}")
    if cpus is None:
        cpus = scen.default_cpus
    if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < scen.min_cpus:
        raise UsageError(f"scenario {scen.name} needs at least {scen.min_cpus} CPU(s), got {cpus!r}")
    if cpus > MAX_CPUS:
        raise UsageError(f"cpus must be at most {MAX_CPUS} (as --cpus), got {cpus!r}")
    config = resolve_config(config)
    memory_model = resolve_memory_model(memory_model)
    spec, mutation = describe_variant(variant)
    params = {"format": PARAMS_FORMAT, "variant": spec, "mutation": mutation, "scenario": scen.name,
              "depth": depth, "cpus": cpus, "tasks": scen.task_params(variant, cpus),
              "pool": scen.pool_params()}
    source = variant_source(variant)
    if source is not None:
        params["variant_file"] = source
    if config.preempt_rt:
        params["config"] = config.name      # absent on the default: older params stay valid
    if memory_model.weak:
        params["memory_model"] = memory_model.name      # likewise
    if scen.alloc_failure:      # the allocations that may fail, for this variant (model.failure)
        params["may_fail"] = sorted(failure.enabled_sites(variant, scen.alloc_failure))

    def build():
        return build_program(variant, scen, depth, cpus, config, memory_model)

    build.params = params
    build.loader = LOADER          # so a test can rebuild it (pytest plugin)
    return build, params


def build_from_params(params: dict, trusted: bool = False):
    """The build function :func:`make_build` returned for these ``params`` (trace replay).

    A variant that is not built in is code: it is used only if the user named
    it in this process (:func:`load_variant`), or with ``trusted`` (the
    parameters of the user's own check, rebuilt on a Dask worker).
    """
    if not isinstance(params, dict):
        raise UsageError(f"model params must be a JSON object, got {type(params).__name__}")
    if params.get("program") == "stateful":       # the state machine's program (model.stateful)
        from .stateful_program import build_from_params as stateful_build
        _trusted_variant(params, trusted)
        return stateful_build(params)
    missing = [k for k in ("variant", "scenario", "depth") if k not in params]
    if missing:
        raise UsageError(f"model params lack {', '.join(missing)}")
    if params.get("format", PARAMS_FORMAT) != PARAMS_FORMAT:
        raise UsageError(f"model params format {params.get('format')!r} is not {PARAMS_FORMAT}")
    for key, kind in (("variant", str), ("scenario", str), ("depth", int)):
        if not isinstance(params[key], kind) or isinstance(params[key], bool):
            raise UsageError(f"model params: {key} must be a {kind.__name__}, got {params[key]!r}")
    if params.get("mutation") is not None and not isinstance(params["mutation"], str):
        raise UsageError(f"model params: mutation must be a string, got {params['mutation']!r}")
    _trusted_variant(params, trusted)
    cls = variant_for(params["variant"], params.get("mutation"))
    build, fresh = make_build(cls, params["scenario"], params["depth"], params.get("cpus"),
                              params.get("config"), params.get("memory_model"))
    for key in ("tasks", "pool"):
        if key in params and params[key] != fresh[key]:
            raise UsageError(f"scenario {params['scenario']!r} has changed since these params were "
                             f"recorded ({key} differ); replay with the zsmc version that recorded them")
    return build


def build_from_own_params(params: dict):
    """:func:`build_from_params` for the parameters of the user's own check, rebuilt
    by the workers of a split search (``--dask``): its variant file, which the
    user named, is trusted.  Never a trace loader (a trace is data)."""
    return build_from_params(params, trusted=True)


OWN_LOADER = f"{__name__}:build_from_own_params"


def _trusted_variant(params: dict, trusted: bool) -> None:
    spec = params.get("variant")
    if isinstance(spec, str) and not known_variant(spec) and not trusted:
        raise UsageError(f"the program is the variant {spec}, code that zsmc runs only when you name "
                         "it: pass --variant FILE.py:CLASS (or --trust-variant to use the recorded file)")


def stateful_search(variant: type, scenario: str, cpus: int | None = None, **options):
    """``zsmc check --scheduler hypothesis``: the state machine of :mod:`model.stateful`
    (see :func:`model.stateful_search.search`; imported when called: it needs Hypothesis).
    On the scenario ``large`` the machine draws the pool and its CPUs, whatever ``cpus``
    says (:func:`model.large.draws_pool`)."""
    from .stateful_search import search
    return search(variant, scenario, cpus=None if draws_pool(scenario) else cpus, **options)


__all__ = [
    "MUTATIONS",
    "SCENARIOS",
    "VERSIONS",
    "Mutation",
    "LOADER",
    "OWN_LOADER",
    "Scenario",
    "base_version",
    "build_from_own_params",
    "build_from_params",
    "describe_variant",
    "failure_note",
    "find_scenario",
    "known_variant",
    "load_variant",
    "make_build",
    "register_mutation",
    "stateful_search",
    "variant_for",
    "variant_source",
]


def _load_mutations():
    try:
        importlib.import_module("model.mutations")
    except ModuleNotFoundError as exc:
        if exc.name != "model.mutations":
            raise


_load_mutations()

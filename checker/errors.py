"""The three audiences for errors (style.md lesson 9).

* :class:`ModelError`: the user's model misuses the API (yields something that
  is not an action, releases a lock it does not hold, ...).  Raised at once,
  naming the task and the action, with a hint.
* :class:`UsageError`: bad arguments to ``explore`` or the CLI.
* :class:`InternalError`: a bug in zsmc itself, tagged so nobody blames the model.

Violations of properties are not exceptions: they are data
(:class:`checker.result.Violation`).
"""


class ZsmcError(Exception):
    """Base class of every error zsmc raises on purpose."""


class ModelError(ZsmcError):
    """The model (a task, an action, a program) is malformed."""


class UsageError(ZsmcError):
    """An argument to the public API or the command line is invalid."""


class LoadExpired(ZsmcError):
    """The time limit ran out before the check could start (a variant file still
    importing): incomplete, not verified (exit 3), never a usage error's 2."""

    exit_code = 3


class InternalError(ZsmcError):
    """A bug in zsmc; please report it with the command that triggered it."""

    def __init__(self, message: str):
        super().__init__(f"[zsmc internal bug] {message}")


class OsExitCalled(SystemExit):
    """What ``os._exit`` raises while ``zsmc check`` runs a model (:func:`cli.session.model_cannot_exit`):
    a model that ends the process would leave no verdict, and an exit without one
    could be read as a pass."""

    def __str__(self) -> str:
        return f"os._exit({self.code!r}) called"

"""Declarative parameter constraints: one table per public class, one check, one message.

A class lists what each of its parameters may be, and rules between parameters::

    class TabularEncoder(BaseEstimator):
        _parameter_constraints: ClassVar[Constraints] = {
            "mostly_missing": Options("drop", "keep"),
            "missing_threshold": Interval(float, 0, 1, closed="right"),
        }
        _parameter_rules = (Requires("point", unless="mean", needs={"task": "regression"}),)

and calls ``check_params(self)`` where scikit-learn validates, at the start of ``fit``
(``__init__`` only stores its arguments). A violation raises :class:`ParameterError`, which
names the class and the parameter as the library user typed them
(``TransferPipeline(task='regresion'): expected one of 'classification', 'regression'``);
the CLI renders the same error with its flags (``--task 'regresion': expected one of
classification, regression``) through one table of flag names, ``medtransfer.cli.options``.

Why not scikit-learn's own ``_parameter_constraints``: the table has the same shape (a dict
of parameter name to constraint, a class attribute, checked at ``fit``), but the machinery
behind it, ``sklearn.utils._param_validation``, is private. Its maintainers say it is not
meant for third-party estimators (scikit-learn PRs #23772, #25088), it has changed between
releases, and it has no rules between parameters (discussion #28740). skada paid a
compatibility release for leaning on private sklearn APIs, so this is a small own
implementation. One consequence: a class that subclasses a *concrete* scikit-learn estimator
(whose ``fit`` runs sklearn's validation on the same attribute) must not declare this table;
every class here derives only from ``BaseEstimator`` and mixins, which never read it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from medtransfer.errors import ConfigError


class Style:
    """How an error names parameters and shows values; this one is the library's."""

    def head(self, owner: str, param: str, value: Any) -> str:
        """The start of a message: the offending setting as the user wrote it."""
        return f"{owner}({param}={value!r})"

    def name(self, param: str) -> str:
        """A parameter named inside a message (an interval's bound, a rule's condition)."""
        return param

    def setting(self, param: str, value: Any) -> str:
        """A required setting of another parameter."""
        return f"{param}={value!r}"

    def value(self, value: Any) -> str:
        """An allowed value in a list of options."""
        return repr(value)


LIBRARY = Style()


@dataclass(frozen=True)
class Param:
    """A reference to another parameter's value, usable as an :class:`Interval` bound."""

    name: str


class Constraint:
    """What one parameter may be; subclasses define ``accepts`` and ``describe``."""

    hint: str = ""

    def accepts(self, value: Any, params: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def describe(self, style: Style) -> str:
        raise NotImplementedError

    def expected(self, style: Style) -> str:
        """``describe`` plus the hint, as it follows "expected" in a message."""
        return f"{self.describe(style)}; {self.hint}" if self.hint else self.describe(style)

    def requirement(self, param: str, style: Style) -> str:
        """How a rule states that ``param`` must satisfy this constraint."""
        return f"{style.name(param)} {self.describe(style)}"

    def suggestion(self, value: Any, style: Style) -> str:
        """A "did you mean" for a near miss, or nothing."""
        return ""


def _same(value: Any, option: Any) -> bool:
    # True == 1 and 0.0 == False in Python, but a flag and a number are different options
    if isinstance(value, bool) != isinstance(option, bool):
        return False
    try:
        return bool(value == option)
    except (TypeError, ValueError):  # an array compared with a string, say
        return False


class Options(Constraint):
    """One of a fixed set of values (strings, numbers, True/False, None).

    Parameters
    ----------
    *values : object
        The allowed values, in the order messages list them.
    hint : str, optional
        What each value means or how to choose, appended to the message.
    """

    def __init__(self, *values: Any, hint: str = "") -> None:
        self.values = values
        self.hint = hint

    def accepts(self, value: Any, params: Mapping[str, Any]) -> bool:
        return any(_same(value, option) for option in self.values)

    def describe(self, style: Style) -> str:
        shown = ", ".join(style.value(v) for v in self.values)
        return shown if len(self.values) == 1 else f"one of {shown}"

    def requirement(self, param: str, style: Style) -> str:
        if len(self.values) == 1:
            return style.setting(param, self.values[0])
        return f"{style.name(param)} {self.describe(style)}"


class Given(Constraint):
    """Anything but None."""

    def accepts(self, value: Any, params: Mapping[str, Any]) -> bool:
        return value is not None

    def describe(self, style: Style) -> str:
        return "a value"

    def requirement(self, param: str, style: Style) -> str:
        return f"{style.name(param)} set"


_CLOSED = {"both": (True, True), "left": (True, False), "right": (False, True),
           "neither": (False, False)}


class Interval(Constraint):
    """An integer or real number between two bounds.

    Parameters
    ----------
    kind : {int, float}
        ``int`` takes integers only (numpy's too); ``float`` takes any real number. Neither
        takes True/False or NaN.
    low, high : number, Param or None
        The bounds; None leaves that side open-ended, :class:`Param` bounds by another
        parameter's value.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values.
    hint : str, optional
        An example or advice, appended to the message.
    """

    def __init__(self, kind: type, low: float | Param | None, high: float | Param | None, *,
                 closed: str = "both", hint: str = "") -> None:
        if kind not in (int, float) or closed not in _CLOSED:
            raise TypeError(f"Interval({kind!r}, closed={closed!r}): kind is int or float, "
                            f"closed one of {', '.join(_CLOSED)}")
        self.kind, self.low, self.high, self.closed, self.hint = kind, low, high, closed, hint

    def accepts(self, value: Any, params: Mapping[str, Any]) -> bool:
        number = Integral if self.kind is int else Real
        if isinstance(value, bool) or not isinstance(value, number):
            return False
        left, right = _CLOSED[self.closed]
        low, high = (_resolved(b, params) for b in (self.low, self.high))
        try:
            above = low is None or (value >= low if left else value > low)
            below = high is None or (value <= high if right else value < high)
        except TypeError:  # a Param bound that is itself not a number is reported on its own
            return False
        return bool(above and below)

    def describe(self, style: Style) -> str:
        what = "an integer" if self.kind is int else "a number"
        left, right = _CLOSED[self.closed]
        low, high = (style.name(b.name) if isinstance(b, Param) else b
                     for b in (self.low, self.high))
        if low is None and high is None:
            return what
        if high is None:
            return f"{what} {'>=' if left else '>'} {low}"
        if low is None:
            return f"{what} {'<=' if right else '<'} {high}"
        if left and right:
            return f"{what} from {low} to {high}"
        return f"{what} in {'[' if left else '('}{low}, {high}{']' if right else ')'}"


def _resolved(bound: float | Param | None, params: Mapping[str, Any]) -> Any:
    return params[bound.name] if isinstance(bound, Param) else bound


class InstanceOf(Constraint):
    """An instance of one of ``types``, described in words (``what``) in messages."""

    def __init__(self, *types: type, what: str, hint: str = "") -> None:
        self.types, self.what, self.hint = types, what, hint

    def accepts(self, value: Any, params: Mapping[str, Any]) -> bool:
        return isinstance(value, self.types)

    def describe(self, style: Style) -> str:
        return self.what


class Names(Constraint):
    """A name registered in a :class:`~medtransfer.registry.Registry`, or one of ``extra``.

    The registry is read when the check runs, so the names are those registered by then.
    """

    def __init__(self, registry: Any, *extra: str) -> None:
        self.registry, self.extra = registry, extra

    def accepts(self, value: Any, params: Mapping[str, Any]) -> bool:
        return isinstance(value, str) and (value in self.extra or value in self.registry)

    def describe(self, style: Style) -> str:
        names = [*self.extra, *self.registry]
        return (f"one of {', '.join(style.value(n) for n in names)} "
                f"(`{self.registry.list_command}` lists them)")

    def suggestion(self, value: Any, style: Style) -> str:
        if not isinstance(value, str):
            return ""
        close = difflib.get_close_matches(value, [*self.extra, *self.registry], n=3, cutoff=0.5)
        return f"; did you mean {', '.join(style.value(c) for c in close)}?" if close else ""


class AnyOf(Constraint):
    """Any one of several constraints; ``None`` among them stands for the value None."""

    def __init__(self, *constraints: Constraint | None, hint: str = "") -> None:
        self.constraints = [Options(None) if c is None else c for c in constraints]
        self.hint = hint

    def accepts(self, value: Any, params: Mapping[str, Any]) -> bool:
        return any(c.accepts(value, params) for c in self.constraints)

    def describe(self, style: Style) -> str:
        return " or ".join(c.describe(style) for c in self.constraints)


Constraints = dict[str, Constraint]  # a class's table: ``ClassVar[Constraints]``


def _constraint(spec: Any) -> Constraint:
    """A constraint as given, or a plain value as the one allowed option."""
    return spec if isinstance(spec, Constraint) else Options(spec)


class Requires:
    """A rule between parameters: when ``param`` is set, others must be set a certain way.

    Parameters
    ----------
    param : str
        The parameter the rule is about; messages name it and its value.
    unless : object or tuple of objects
        Values of ``param`` for which the rule does not apply (its "off" values).
    needs : dict of str to constraint or value
        What each other parameter must then be; a plain value means exactly that value.
    why : str, optional
        The reason, appended to the message in parentheses.
    """

    def __init__(self, param: str, *, unless: Any, needs: Mapping[str, Any], why: str = "") -> None:
        self.param = param
        self.unless = Options(*(unless if isinstance(unless, tuple) else (unless,)))
        self.needs = {name: _constraint(spec) for name, spec in needs.items()}
        self.why = why

    def broken(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` set ``param`` without what it needs."""
        if self.unless.accepts(params[self.param], params):
            return False
        return not all(c.accepts(params[name], params) for name, c in self.needs.items())

    def explain(self, style: Style) -> str:
        needs = " and ".join(c.requirement(name, style) for name, c in self.needs.items())
        return f"applies only with {needs}" + (f" ({self.why})" if self.why else "")


class ParameterError(ConfigError):
    """A parameter's value breaks its class's (or function's) constraints.

    Attributes
    ----------
    owner : str
        The class or function the parameter belongs to (``"TransferPipeline"``).
    param : str
        The parameter's name, as in the owner's signature.
    value : object
        The refused value.
    expected : str
        What would have been accepted, in the library's words.
    """

    def __init__(self, owner: str, param: str, value: Any,
                 explain: Callable[[Style], str]) -> None:
        self.owner, self.param, self.value = owner, param, value
        self.expected = explain(LIBRARY)
        self._explain = explain
        super().__init__(self.render(LIBRARY))

    def render(self, style: Style) -> str:
        """The message in ``style``'s words (the CLI passes one naming its flags)."""
        return f"{style.head(self.owner, self.param, self.value)}: {self._explain(style)}"


def check_value(owner: str, param: str, value: Any, constraint: Any,
                params: Mapping[str, Any] | None = None) -> None:
    """Refuse ``value`` for ``param`` of ``owner`` unless it satisfies ``constraint``.

    For functions and for one parameter at a time; classes use :func:`check_params`.

    Raises
    ------
    ParameterError
        If the value is refused.
    """
    constraint = _constraint(constraint)
    if not constraint.accepts(value, {} if params is None else params):
        raise ParameterError(owner, param, value, lambda style: (
            f"expected {constraint.expected(style)}{constraint.suggestion(value, style)}"))


def check_params(obj: Any, **resolved: Any) -> None:
    """Check ``obj``'s parameters against its ``_parameter_constraints`` and ``_parameter_rules``.

    Parameters
    ----------
    obj : object
        An instance whose class declares ``_parameter_constraints`` (dict of parameter name
        to constraint) and optionally ``_parameter_rules`` (tuple of :class:`Requires`).
    **resolved
        Values to check instead of the stored ones, for a parameter resolved at fit time
        (``task="auto"`` once the labels have been seen).

    Raises
    ------
    ParameterError
        For the first parameter, in table order, that breaks a constraint, then the first
        broken rule.
    """
    owner = type(obj).__name__
    params = _Values(obj, resolved)
    for param, constraint in type(obj)._parameter_constraints.items():
        check_value(owner, param, params[param], constraint, params)
    for rule in getattr(type(obj), "_parameter_rules", ()):
        if rule.broken(params):
            raise ParameterError(owner, rule.param, params[rule.param], rule.explain)


class _Values(dict):
    """The parameters of ``obj``, read when asked for, with ``resolved`` ones in their place."""

    def __init__(self, obj: Any, resolved: Mapping[str, Any]) -> None:
        super().__init__(resolved)
        self._obj = obj

    def __missing__(self, name: str) -> Any:
        return getattr(self._obj, name)

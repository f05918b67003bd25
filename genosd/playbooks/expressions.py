"""The one expression language of playbooks: Jinja2 expressions in a sandbox.

Conditions (`when`, `until`, `assert.that`) are bare expressions (`host.platform == 'ios'`, never
`{{ }}`); text arguments (`notify.message`, `show.commands`) are templates whose `{{ }}` hold the
same expressions. Both are compiled when the playbook is loaded, so a syntax error or a name that
nothing defines is a load error with file and line, not a failure at 3 a.m.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ENVIRONMENT = ImmutableSandboxedEnvironment(autoescape=False)
# always defined: the device a step runs on, and the run (check mode, who started it)
BUILTIN_NAMES = frozenset({"host", "run"})
_JINJA_GLOBALS = frozenset(ENVIRONMENT.globals)


class ExpressionError(ValueError):
    """An expression or template that does not compile, or names what nothing defines."""


@functools.lru_cache(maxsize=1024)
def expression(text: str) -> Any:
    """A condition compiled once (a step evaluates it for every host)."""
    return ENVIRONMENT.compile_expression(text)


@functools.lru_cache(maxsize=1024)
def template(text: str) -> Template:
    """A text argument compiled once."""
    return ENVIRONMENT.from_string(text)


def _undeclared(ast: nodes.Template, known: Iterable[str]) -> list[str]:
    names = meta.find_undeclared_variables(ast) - _JINJA_GLOBALS - BUILTIN_NAMES
    return sorted(names - set(known))


def check_expression(text: str, known: Iterable[str]) -> None:
    """Compile a bare expression; ExpressionError naming the problem."""
    if "{{" in text or "{%" in text:
        raise ExpressionError(f"{text!r}: a condition is a bare expression, without {{{{ }}}}")
    try:
        ENVIRONMENT.compile_expression(text)  # the parser runtime conditions go through
        ast = ENVIRONMENT.parse("{{ " + text + " }}")
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"{text!r}: {exc.message}") from None
    unknown = _undeclared(ast, known)
    if unknown:
        raise ExpressionError(f"{text!r}: unknown name(s) {', '.join(unknown)}")


def check_template(text: str, known: Iterable[str]) -> None:
    """Compile a text template; ExpressionError naming the problem."""
    try:
        ast = ENVIRONMENT.parse(text)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"{text!r}: {exc.message}") from None
    unknown = _undeclared(ast, known)
    if unknown:
        raise ExpressionError(f"{text!r}: unknown name(s) {', '.join(unknown)}")

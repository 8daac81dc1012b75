"""The one CEL environment plumbline uses: policies (guards/policy.py) and health checks (health/_cel.py).

Expressions are compiled once each (cached); evaluation turns plain JSON-like data into CEL values and
answers True, False, or why the expression could not be evaluated (a string, never an exception).
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def environment() -> Any:
    """One CEL environment: building its parser costs a quarter of a second."""
    import celpy

    return celpy.Environment()


@cache
def compile_expression(expression: str) -> Any:
    """The program for ``expression``; raises celpy's CELParseError if it is not valid CEL."""
    env = environment()
    return env.program(env.compile(expression))


def syntax_error(expression: str) -> str | None:
    """None if ``expression`` compiles, else where it stops parsing (celpy marks the column with '^')."""
    import celpy

    try:
        compile_expression(expression)
    except celpy.CELParseError as error:  # type: ignore[attr-defined]
        lines = str(error).splitlines()
        caret = next((line.index("^") for line in lines[1:] if line.strip() == "^"), None)
        where = f" at column {caret + 1}" if caret is not None else ""
        return f"syntax error{where} in {lines[0] if lines else expression!r}"
    return None


def evaluate(program: Any, inputs: dict[str, Any]) -> bool | str:
    """True or False, or why the expression could not be evaluated (a string)."""
    import celpy

    to_cel: Any = celpy.json_to_cel  # type: ignore[attr-defined]
    try:
        result = program.evaluate({name: to_cel(value) for name, value in inputs.items()})
    except Exception as error:  # celpy raises several kinds for missing fields and bad types
        return f"could not be evaluated ({type(error).__name__})"
    if isinstance(result, celpy.CELEvalError):  # type: ignore[attr-defined]
        return f"could not be evaluated ({result.args[0]})"
    return bool(result)

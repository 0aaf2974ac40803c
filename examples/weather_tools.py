"""Two tools for the examples' chat: the weather (from a table, so it runs offline) and a
calculator that refuses what is not arithmetic. Both fail for some inputs, on purpose: the
model gets the error as the tool's result and answers anyway.

An endpoint runs them with ``tools=[get_weather, calculate]``: rais builds each one's JSON
schema from its type hints and docstring, runs the model's calls (in parallel; a sync
function in a worker thread) and streams calls and results to useChat and AG-UI clients.
"""

from __future__ import annotations

import ast
import operator

_WEATHER = {
    "paris": {"temperature": 18, "sky": "cloudy"},
    "oslo": {"temperature": 4, "sky": "snow"},
    "lima": {"temperature": 24, "sky": "sunny"},
}


def get_weather(city: str) -> dict[str, object]:
    """The current weather in a city.

    Args:
        city: The city's name, in English.
    """
    found = _WEATHER.get(city.strip().lower())
    if found is None:
        raise LookupError(f"no weather station in {city}")
    return {"city": city, "unit": "celsius", **found}


_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
}


def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression (+ - * / ** and parentheses).

    Args:
        expression: For example "(2 + 3) * 4".
    """
    if len(expression) > 200:
        raise ValueError("the expression is too long")
    return float(_evaluate(ast.parse(expression, mode="eval").body))


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("the exponent is too large")
        return _OPERATORS[type(node.op)](left, right)  # type: ignore[no-any-return]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))  # type: ignore[no-any-return]
    raise ValueError("only numbers and + - * / ** are allowed")

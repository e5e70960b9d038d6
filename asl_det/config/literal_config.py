"""A config's Python text read as data, without running it.

mmengine writes a run's config into each checkpoint (``meta['cfg']``, ``Config.pretty_text``)
and reads such text back with ``Config.fromstring``, which executes it: text from a checkpoint
that is not trusted must not go there. :func:`literal_config` reads what ``pretty_text`` writes
(assignments of numbers, strings, booleans, None, lists, tuples, sets, ``{...}`` and
``dict(...)``) and refuses anything else.
"""
import ast
from typing import Any, Dict


def literal_config(text: str) -> Dict[str, Any]:
    """{variable: value} of config text made of ``NAME = <literal>`` lines; ValueError naming the
    line of anything else (a call other than ``dict(k=v, ...)``, a name, an import, code);
    TypeError if ``text`` is no string."""
    if not isinstance(text, str):
        raise TypeError(f'config text must be a string, got {type(text).__name__}')
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise ValueError(f'not Python: {error}') from None
    variables = {}
    for statement in tree.body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            raise ValueError(f'line {statement.lineno}: not an assignment of one variable')
        variables[statement.targets[0].id] = _value(statement.value)
    return variables


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
            and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float, complex)) \
            and not isinstance(node.operand.value, bool):
        value = node.operand.value
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_value(item) for item in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_value(key): _value(value) for key, value in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict' \
            and not node.args and all(keyword.arg is not None for keyword in node.keywords):
        return {keyword.arg: _value(keyword.value) for keyword in node.keywords}
    raise ValueError(f'line {node.lineno}: {ast.unparse(node)[:60]!r} is not a literal')

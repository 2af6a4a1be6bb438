"""How vLLM parses each variable of its envs.py table, read from the syntax tree: what value the variable takes.

vllm/envs.py maps each name to a reader. `int(os.getenv(...))` (also inside bool(), a conditional or a walrus)
crashes on a value that is not a Python integer; float() likewise; env_with_choices() raises on a word outside
its list; a comparison such as `os.getenv(...) == "1"` or `.lower() in ("true", "1")` silently reads any other
value as off; a dict literal's `.get(read)` reads any word but its keys as unset. A reader that is a function
of the module (named in the table, or called by a lambda without arguments) is judged by what it returns; one that
returns None on every path never uses the value and is recorded as ignored (a renamed variable kept only to warn).
Readers of free text (paths, names, lists) are not recorded: any text is a value to them.
An integer read as a switch (`bool(int(...))`, maybe_convert_bool) is recorded as int-switch, and one whose default
is not negative (a timeout, size, count or interval) as count: a negative value would be read, and misused, as given.
"""

from __future__ import annotations

import ast

from slm_deploy.pins.interfaces.pysource import string_literal

TABLE = "environment_variables"
CHOICE_HELPER = "env_with_choices"
LIST_CHOICE_HELPERS = ("env_list_with_choices", "env_set_with_choices")
"""Comma-separated words, each checked against the list (a word outside it raises at start)."""
JSON_READER = "maybe_convert_json_str_or_file"
"""Opens the value as a file when one exists at that path, else parses it as JSON (either raises on bad text)."""
NUMBER_PARSERS = {"int": "int", "float": "float", "maybe_convert_int": "int", "maybe_convert_bool": "int-switch"}
"""Calls that parse the variable's text as a number; maybe_convert_bool is bool(int(value)) in envs.py."""
IGNORED = "ignored"
"""The kind of a variable whose reader returns None whatever its value: setting it does nothing."""


def env_values(module: ast.Module) -> dict[str, str]:
    """Name -> "int", "float", "choice[-list][-nocase]:a,b", "json-or-file", "switch[-nocase]:on,values" or
    "ignored"."""
    functions = {node.name: node for node in module.body if isinstance(node, ast.FunctionDef)}
    found: dict[str, str] = {}
    for node in ast.walk(module):
        table = _table(node)
        if table is None:
            continue
        for key, reader in zip(table.keys, table.values):
            name, kind = string_literal(key), _kind(reader, functions)
            if name and kind:
                found[name] = kind
    return found


def _table(node: ast.AST) -> ast.Dict | None:
    value: ast.expr | None
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AnnAssign):
        targets, value = [node.target], node.value
    else:
        return None
    named = any(isinstance(t, ast.Name) and t.id == TABLE for t in targets)
    return value if named and isinstance(value, ast.Dict) else None


def _reads_environment(node: ast.AST) -> bool:
    """Whether the expression reads os.getenv(...) or os.environ."""
    return any((isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "getenv")
               or (isinstance(n, ast.Attribute) and n.attr == "environ") for n in ast.walk(node))


def _kind(reader: ast.AST, functions: dict[str, ast.FunctionDef]) -> str | None:
    helper = getattr(reader.func, "id", "") if isinstance(reader, ast.Call) else ""
    if isinstance(reader, ast.Call) and helper in (CHOICE_HELPER, *LIST_CHOICE_HELPERS):
        return _choices(reader, "choice-list" if helper in LIST_CHOICE_HELPERS else "choice")
    function = _module_function(reader, functions)
    if function is not None:
        return _function_kind(function)
    return _expression_kind(reader.body) if isinstance(reader, ast.Lambda) else None


def _module_function(reader: ast.AST, functions: dict[str, ast.FunctionDef]) -> ast.FunctionDef | None:
    """The module's function a table entry reads through: `use_aot_compile` or `lambda: _deprecated_x()`."""
    if isinstance(reader, ast.Lambda) and isinstance(reader.body, ast.Call) and not reader.body.args:
        reader = reader.body.func
    return functions.get(reader.id) if isinstance(reader, ast.Name) else None


def _function_kind(function: ast.FunctionDef) -> str | None:
    """Ignored when every return gives None; else the kind of the one return that reads the environment."""
    returned = [node.value for node in ast.walk(function) if isinstance(node, ast.Return)]
    if all(value is None or (isinstance(value, ast.Constant) and value.value is None) for value in returned):
        return IGNORED
    kinds = {_expression_kind(value) for value in returned if value is not None and _reads_environment(value)}
    return kinds.pop() if len(kinds) == 1 else None


def _expression_kind(body: ast.expr) -> str | None:
    """The kind of a reader expression (a lambda's body or a function's return value)."""
    if isinstance(body, ast.Call) and getattr(body.func, "id", "") == JSON_READER:
        return "json-or-file"
    if isinstance(body, ast.Compare):
        return _switch(body)
    looked_up = _looked_up_dict(body)
    if looked_up is not None:
        keys = _literals(ast.List(elts=[key for key in looked_up.keys if key is not None]))
        return "choice:" + ",".join(keys) if keys else None
    switch = isinstance(body, ast.Call) and getattr(body.func, "id", "") == "bool"
    for node in ast.walk(body):  # outermost first: bool(int(...)) is int, `x if (x := float(...)) > 0` is float
        parser = getattr(node.func, "id", "") if isinstance(node, ast.Call) else ""
        if parser == "bool" and isinstance(node, ast.Call) and node.args and _reads_int(node.args[0]):
            return "int-switch"  # bool(int(...)) inside a conditional reads any other number as on
        if isinstance(node, ast.Call) and parser in NUMBER_PARSERS and node.args and _reads_environment(node.args[0]):
            kind = NUMBER_PARSERS[parser]
            if kind == "int" and switch:
                return "int-switch"
            return "count" if kind == "int" and _default_not_negative(node.args[0]) else kind
    return None


def _looked_up_dict(node: ast.AST) -> ast.Dict | None:
    """The dict of `{"1": True, "0": False}.get(os.getenv(...).strip())`: any word but its keys reads as unset."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Dict) and node.args and _reads_environment(node.args[0])):
        return node.func.value
    return None


def _reads_int(node: ast.AST) -> bool:
    """Whether the expression is int(...) of the variable's text."""
    return (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "int" and bool(node.args)
            and _reads_environment(node.args[0]))


def _default_not_negative(read: ast.AST) -> bool:
    """Whether os.getenv(name, default) / os.environ.get(name, default) has a default of 0 or more."""
    return isinstance(read, ast.Call) and len(read.args) == 2 and _not_negative(read.args[1])


def _not_negative(node: ast.AST) -> bool:
    """Whether a default expression is 0 or more whatever it depends on: digits, str() of one, a sum or product
    of such, both branches of a conditional, or max() with such an argument."""
    if isinstance(node, ast.Constant):
        text = str(node.value) if isinstance(node.value, (int, str)) and not isinstance(node.value, bool) else ""
        return text.isascii() and text.isdigit()
    if isinstance(node, ast.Call) and node.args and getattr(node.func, "id", "") in ("str", "max"):
        check = all if getattr(node.func, "id", "") == "str" else any
        return check(_not_negative(argument) for argument in node.args)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        return _not_negative(node.left) and _not_negative(node.right)
    if isinstance(node, ast.IfExp):
        return _not_negative(node.body) and _not_negative(node.orelse)
    return False


def _choices(call: ast.Call, kind: str) -> str | None:
    """env_[list_]with_choices(name, default, [words], case_sensitive=...): a literal list only (a callable is lazy)."""
    words = call.args[2] if len(call.args) > 2 else next((k.value for k in call.keywords if k.arg == "choices"), None)
    literals = _literals(words)
    if literals is None:
        return None
    sensitive = next((k.value for k in call.keywords if k.arg == "case_sensitive"), None)
    nocase = isinstance(sensitive, ast.Constant) and sensitive.value is False
    return (f"{kind}-nocase:" if nocase else f"{kind}:") + ",".join(literals)


def _switch(compare: ast.Compare) -> str | None:
    """`read == "1"` or `read.lower() in ("true", "1")`: the values that turn the variable on."""
    if len(compare.ops) != 1 or not _reads_environment(compare.left):
        return None
    operator, right = compare.ops[0], compare.comparators[0]
    single = string_literal(right)
    if isinstance(operator, ast.Eq) and single is not None:
        on = [single]
    elif isinstance(operator, ast.In) and (literals := _literals(right)) is not None:
        on = literals
    else:
        return None
    lowered = any(isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "lower" for n in ast.walk(compare.left))
    return ("switch-nocase:" if lowered else "switch:") + ",".join(on)


def _literals(node: ast.AST | None) -> list[str] | None:
    """The strings of a literal list, tuple or set of strings, or None."""
    if not isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return None
    words = [string_literal(e) for e in node.elts]
    return [w for w in words if w is not None] if None not in words else None

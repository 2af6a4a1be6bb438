"""The mlx-lm deriver reads argparse flags, server paths and loadable model types from sources it never imports."""

from __future__ import annotations

import ast

import pytest

from slm_deploy.pins.interfaces import RecordError
from slm_deploy.pins.interfaces.mlx_lm import model_types, parser_flags, server_paths

SERVER = '''
def helper(parser):
    parser.add_argument("--not-in-main")

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=str)
    parser.add_argument("-q", "--quantize", action="store_true")
    parser.add_argument(help="positional", dest="x")

class Handler:
    def do_GET(self):
        if self.path == "/health":
            pass
'''
UTILS = 'MODEL_REMAPPING = {"mistral": "llama", "gone": "removed_module"}\n'
MODEL = "class ModelArgs:\n    pass\n\nclass Model:\n    pass\n"


def _parse(**files: str) -> dict[str, ast.Module]:
    return {name: ast.parse(text) for name, text in files.items()}


def test_flags_are_the_option_strings_of_the_named_function_only() -> None:
    assert parser_flags(ast.parse(SERVER), "main") == {"--model", "-q", "--quantize"}


def test_server_paths_are_those_the_source_names() -> None:
    assert server_paths(ast.parse(SERVER)) == {"/health"}


def test_model_types_are_modules_with_model_classes_and_names_remapped_onto_them() -> None:
    parsed = _parse(**{"mlx_lm/utils.py": UTILS, "mlx_lm/models/llama.py": MODEL,
                       "mlx_lm/models/rope_utils.py": "def rope():\n    pass\n",
                       "mlx_lm/models/sub/inner.py": MODEL})
    assert model_types(parsed) == {"llama", "mistral"}


def test_a_wheel_without_the_remapping_table_is_refused() -> None:
    with pytest.raises(RecordError, match="MODEL_REMAPPING"):
        model_types(_parse(**{"mlx_lm/utils.py": "X = 1\n", "mlx_lm/models/llama.py": MODEL}))

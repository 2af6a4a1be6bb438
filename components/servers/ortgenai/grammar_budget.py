"""Compile a `response_format` schema's grammar in a child process under a time and memory budget.

Static limits (`schema_limits`) cannot see every cost: `$ref` reuse multiplies a definition's size, and each
property name is matched against every `patternProperties` pattern. The same compiler ONNX Runtime GenAI uses
(llguidance) builds the grammar here first, with the model's tokenizer, in a child process the server kills when
it runs out of time or memory; only a schema that compiles within the budget reaches the engine. Schemas that
passed are remembered, so a client reusing its schema pays for the check once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import resource
import sys
from collections import OrderedDict
from pathlib import Path

from .schema_limits import SchemaLimitError

COMPILE_SECONDS = 2.0
"""Wall-clock time one compilation may take; real schemas compile in milliseconds."""
COMPILE_MEMORY_BYTES = 1024**3
"""Address space of the compiling child (the Python interpreter, the tokenizer and the grammar)."""
PARALLEL_COMPILES = 2
REMEMBERED_SCHEMAS = 256
EXIT_GRAMMAR_ERROR = 3


class GrammarBudget:
    """Checks that schemas compile within the budget, at most PARALLEL_COMPILES children at a time."""

    def __init__(self, tokenizer_file: Path) -> None:
        self._tokenizer_file = tokenizer_file
        self._parallel = asyncio.Semaphore(PARALLEL_COMPILES)
        self._passed: OrderedDict[str, None] = OrderedDict()

    async def check(self, schema: dict) -> None:
        """Return when `schema` compiles within the budget; raise SchemaLimitError otherwise."""
        text = json.dumps(schema, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest in self._passed:
            self._passed.move_to_end(digest)
            return
        async with self._parallel:
            await self._compile(text)
        self._passed[digest] = None
        if len(self._passed) > REMEMBERED_SCHEMAS:
            self._passed.popitem(last=False)

    async def _compile(self, text: str) -> None:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, str(self._tokenizer_file),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        over_budget = SchemaLimitError(f"the schema needs more than the grammar compile budget ({COMPILE_SECONDS:g} s, "
                                       f"{COMPILE_MEMORY_BYTES // 1024**2} MiB) to compile; make it smaller or simpler")
        try:
            async with asyncio.timeout(COMPILE_SECONDS):
                await child.communicate(text.encode())
        except TimeoutError:
            raise over_budget from None
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        if child.returncode == EXIT_GRAMMAR_ERROR:
            raise SchemaLimitError("the schema is not a JSON schema that can be compiled into a grammar for constrained decoding")
        if child.returncode != 0:
            raise over_budget


def _compile_in_child(tokenizer_file: str) -> int:
    """Build the grammar from the schema on stdin; exit 0 when it compiles, EXIT_GRAMMAR_ERROR when it is invalid."""
    resource.setrlimit(resource.RLIMIT_AS, (COMPILE_MEMORY_BYTES, COMPILE_MEMORY_BYTES))
    from llguidance import LLMatcher, LLTokenizer

    try:
        grammar = LLMatcher.grammar_from_json_schema(sys.stdin.read())
    except ValueError:
        return EXIT_GRAMMAR_ERROR
    matcher = LLMatcher(LLTokenizer(tokenizer_file), grammar, log_level=0)
    return EXIT_GRAMMAR_ERROR if matcher.is_error() else 0


if __name__ == "__main__":
    sys.exit(_compile_in_child(sys.argv[1]))

"""The Jinja environment for free text: strict about undefined names, explicit about quoting."""

from __future__ import annotations

import json
import shlex
from functools import lru_cache

from importlib import resources

import jinja2


class _TemplateCodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's compiled templates kept between runs (compiling them costs more than rendering a bundle); Jinja
    keys each entry by the template's source checksum, so an edited template is compiled afresh."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:  # a full or read-only cache directory costs the next run its speed-up, never a render
            return


def _code_cache() -> jinja2.BytecodeCache | None:
    """Jinja's per-user cache directory (private, 0700, checked to be the user's own); none where it is unsafe."""
    try:
        return _TemplateCodeCache()
    except (OSError, RuntimeError):  # RuntimeError: Jinja found the directory owned by someone else
        return None


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One shared environment over the package's templates/ folder."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("slm_deploy.templates"))),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_code_cache(),
    )
    env.filters["json"] = lambda value: json.dumps(list(value) if isinstance(value, tuple) else value)
    env.filters["shquote"] = lambda value: shlex.quote(str(value))
    env.filters["psquote"] = lambda value: "'" + str(value).replace("'", "''") + "'"
    return env


def render_template(name: str, **context: object) -> str:
    """Render one template; a missing variable is an error, never an empty string."""
    return environment().get_template(name).render(**context)

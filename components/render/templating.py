"""The Jinja environment for free text: strict about undefined names, explicit about quoting."""

from __future__ import annotations

import json
import shlex
from functools import lru_cache

from importlib import resources

import jinja2


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
    )
    env.filters["json"] = lambda value: json.dumps(list(value) if isinstance(value, tuple) else value)
    env.filters["shquote"] = lambda value: shlex.quote(str(value))
    env.filters["psquote"] = lambda value: "'" + str(value).replace("'", "''") + "'"
    return env


def render_template(name: str, **context: object) -> str:
    """Render one template; a missing variable is an error, never an empty string."""
    return environment().get_template(name).render(**context)

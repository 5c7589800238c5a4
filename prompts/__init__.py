"""Prompt templates as package files, rendered strictly.

Each template is a ``.md`` file whose first line is a comment naming its variables;
`render` substitutes ``$name`` placeholders and fails on a missing one.
"""

from __future__ import annotations

import functools
import hashlib
import string
from importlib import resources

__all__ = ["names", "render", "variables", "version"]


@functools.cache
def _template(name: str) -> str:
    text = resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("<!--"):
        lines = lines[1:]
    return "".join(lines).strip() + "\n"


def names() -> list[str]:
    """Names of all templates."""
    return sorted(
        p.name[:-3] for p in resources.files(__package__).iterdir() if p.name.endswith(".md")
    )


def render(name: str, /, **values: object) -> str:
    """Render a template; raises KeyError if a variable is missing, ValueError if unused."""
    wanted = variables(name)
    extra = set(values) - wanted
    if extra:
        raise ValueError(f"prompt {name!r} takes no variable(s) {sorted(extra)}")
    return string.Template(_template(name)).substitute(values).strip()


def variables(name: str) -> set[str]:
    """The placeholders a template uses."""
    return set(string.Template(_template(name)).get_identifiers())


def version(name: str) -> str:
    """Short digest of a template's text, recorded with what it produced."""
    return hashlib.blake2b(_template(name).encode(), digest_size=4).hexdigest()

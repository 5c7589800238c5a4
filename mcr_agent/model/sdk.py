"""The `openai` SDK, imported once for the package, with its type packages read on demand.

``import openai`` runs ``openai/types/__init__.py``, and through ``openai.lib`` the one of
``openai.types.responses``: together they import every request and response type of the
whole API, about 400 modules of pydantic models (Responses, Evals, Realtime, ...), for a
client that sends chat completions. On 2 cores that is about 0.3 s of every fresh
process's wait before its first request (upstream: openai/openai-python#2819).

Here each ``openai.types`` package whose ``__init__`` only re-exports names of its own
submodules (``from .chat_model import ChatModel as ChatModel``, the shape of every one of
them) gets PEP 562's module ``__getattr__`` instead of running that ``__init__``: reading
``ChatModel`` imports ``.chat_model`` and binds it. The names, their objects and the
submodules are the ones an eager import gives; only the moment each submodule runs
changes. A package whose ``__init__`` does anything else, or that is not plain source files
(a zip, bytecode only), is imported as usual, and so is every package imported after
``openai`` itself.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder, SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["deferred_reexports", "openai"]

Export = tuple[str, str]  # (the module, relative to the package or "__future__"; its name)


def reexports(init: Path) -> dict[str, Export] | None:
    """The names a package ``__init__`` binds, each with where it comes from, if the file is
    nothing but a docstring and ``from .sub import name [as alias]`` lines (and ``from
    __future__ import ...``); None for any other ``__init__``."""
    return _reexports(ast.parse(init.read_bytes()))


def _reexports(tree: ast.Module) -> dict[str, Export] | None:
    names: dict[str, Export] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if not isinstance(node, ast.ImportFrom) or not node.module:
            return None
        if node.level != 1 and node.module != "__future__":
            return None
        for alias in node.names:
            if alias.name == "*":
                return None
            names[alias.asname or alias.name] = (node.module, alias.name)
    return names


class _Deferring(MetaPathFinder):
    """Finds the packages under `root` as the path finder does, with a loader that defers
    their re-exports."""

    def __init__(self, root: str) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """A deferring spec for a package of source files under `root`; None (the finders
        after this one decide, as without it) for anything else: a plain module, a zip,
        bytecode without sources, an ``__init__`` that does more than re-export."""
        if fullname != self.root and not fullname.startswith(f"{self.root}."):
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.submodule_search_locations is None:
            return None
        if type(spec.loader) is not SourceFileLoader or not str(spec.origin).endswith(".py"):
            return None
        try:
            tree = ast.parse(Path(str(spec.origin)).read_bytes())
        except (OSError, SyntaxError, ValueError):
            return None
        names = _reexports(tree)
        if names is None:
            return None
        spec.loader = _DeferredInit(fullname, str(spec.origin), names, ast.get_docstring(tree))
        return spec


class _DeferredInit(SourceFileLoader):
    """The package's own loader (its code, resources, ``__file__``), except that running the
    module binds a ``__getattr__`` that imports each re-exported name on first read."""

    def __init__(self, fullname: str, path: str, names: dict[str, Export], doc: str | None) -> None:
        super().__init__(fullname, path)
        self.names = names
        self.doc = doc

    def exec_module(self, module: ModuleType) -> None:
        names, package = self.names, module.__name__
        # An eager __init__ leaves each submodule it imports bound on the package, too.
        submodules = {m.split(".")[0] for m, _ in names.values() if m != "__future__"}
        module.__doc__ = self.doc

        def __getattr__(name: str) -> Any:
            if name == "__all__":  # ``from package import *``: what an eager import binds
                for each in names:
                    getattr(module, each)
                return sorted(n for n in vars(module) if not n.startswith("_"))
            if name in names:
                source, attr = names[name]
                where = source if source == "__future__" else f"{package}.{source}"
                value = getattr(importlib.import_module(where), attr)
            elif name in submodules:
                value = importlib.import_module(f"{package}.{name}")
            else:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            setattr(module, name, value)
            return value

        def __dir__() -> list[str]:
            return sorted({*vars(module), *names, *submodules})

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__dir__ = __dir__  # type: ignore[method-assign]


@contextmanager
def deferred_reexports(root: str) -> Iterator[None]:
    """Within the block, packages under `root` (itself included) that are imported for the
    first time defer their re-exports (see the module docstring); modules already imported,
    and those imported after the block, are not touched.

    The finder goes just before the path finder, so import hooks installed before it
    (instrumentation such as typeguard's) still see every module first.
    """
    finder = _Deferring(root)
    at = next((i for i, f in enumerate(sys.meta_path) if f is PathFinder), len(sys.meta_path))
    sys.meta_path.insert(at, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


with deferred_reexports("openai.types"):  # a no-op if the program imported openai first
    import openai

"""The `openai` import with its type packages read on demand (`mcr_agent.model.sdk`): the
same names and objects as an eager import, with only the submodules used run."""

from __future__ import annotations

import compileall
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from importlib.abc import MetaPathFinder
from pathlib import Path

import pytest

from mcr_agent.model.sdk import deferred_reexports, reexports

ROOT = Path(__file__).resolve().parents[1]

_PACKAGE = {  # a package of the shape openai.types has; each submodule records that it ran
    "__init__.py": '"""Shop types."""\n\nfrom __future__ import annotations\n\n'
    "from .cart import Cart as Cart\nfrom .price import price_of\n"
    "from .deep.item import Item as Item, Item as Thing\n",
    "cart.py": "import shop_ran\nshop_ran.append(__name__)\nclass Cart: ...\n",
    "price.py": "import shop_ran\nshop_ran.append(__name__)\ndef price_of(x): return 1\n",
    "unused.py": "import shop_ran\nshop_ran.append(__name__)\n",
    "deep/__init__.py": "from .item import Item as Item\n",
    "deep/item.py": "import shop_ran\nshop_ran.append(__name__)\nclass Item: ...\n",
}


@pytest.fixture
def ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A package `shop` on sys.path; yields the names of its submodules as they run."""
    for name, text in _PACKAGE.items():
        (tmp_path / "shop" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "shop" / name).write_text(text)
    names: list[str] = []
    monkeypatch.setitem(sys.modules, "shop_ran", names)  # type: ignore[arg-type]
    monkeypatch.syspath_prepend(str(tmp_path))
    yield names
    forget_shop()


def forget_shop() -> None:
    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
        del sys.modules[name]


def test_reexports_reads_only_the_re_exporting_shape(tmp_path: Path) -> None:
    init = tmp_path / "__init__.py"
    init.write_text(_PACKAGE["__init__.py"])
    assert reexports(init) == {
        "annotations": ("__future__", "annotations"),
        "Cart": ("cart", "Cart"),
        "price_of": ("price", "price_of"),
        "Item": ("deep.item", "Item"),
        "Thing": ("deep.item", "Item"),
    }
    for other in [
        "from . import cart\n",  # binds a submodule, not a name from one
        "from .cart import *\n",
        "from typing import Any\n",  # an absolute import may have effects of its own
        "from .cart import Cart\nCART = Cart()\n",
        "import shop.cart\n",
        "try:\n    from .cart import Cart\nexcept ImportError:\n    pass\n",
    ]:
        init.write_text(other)
        assert reexports(init) is None, other


def test_a_package_runs_each_submodule_when_its_names_are_first_read(ran: list[str]) -> None:
    with deferred_reexports("shop"):
        import shop  # type: ignore[import-not-found]
    assert ran == [] and shop.__doc__ == "Shop types."
    assert shop.price_of(3) == 1 and ran == ["shop.price"]
    from shop import Cart  # type: ignore[import-not-found]

    assert Cart is sys.modules["shop.cart"].Cart and ran == ["shop.price", "shop.cart"]
    assert shop.deep is sys.modules["shop.deep"]  # bound on the package, as an eager import does
    assert shop.Thing is shop.Item is sys.modules["shop.deep.item"].Item
    from shop import unused  # type: ignore[import-not-found]  # a submodule no name comes from

    assert unused is sys.modules["shop.unused"]
    assert {"Cart", "Item", "Thing", "price_of", "deep"} <= set(dir(shop))
    star: dict[str, object] = {}
    exec("from shop import *", star)  # every name, as an eager import has bound them all
    assert {"Cart", "Item", "Thing", "price_of", "deep", "annotations"} <= set(star)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        _ = shop.nothing


def test_other_packages_and_later_imports_are_as_usual(ran: list[str]) -> None:
    eagerly = ["shop.cart", "shop.price", "shop.deep.item"]
    init = Path(sys.path[0]) / "shop" / "__init__.py"
    init.write_text(_PACKAGE["__init__.py"] + "DEFAULT = Cart()\n")
    with deferred_reexports("shop"):
        import shop  # type: ignore[import-not-found]
    assert ran == eagerly and isinstance(shop.DEFAULT, shop.Cart)
    forget_shop()
    ran.clear()
    init.write_text(_PACKAGE["__init__.py"])
    import shop  # after the block

    assert ran == eagerly


def test_import_hooks_installed_before_see_every_module(
    ran: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    class Watching(MetaPathFinder):  # as an instrumentation hook (typeguard, ...) does
        def find_spec(self, fullname: str, *args: object) -> None:
            seen.append(fullname)

    monkeypatch.setattr(sys, "meta_path", [Watching(), *sys.meta_path])
    with deferred_reexports("shop"):
        import shop  # type: ignore[import-not-found]

        assert shop.Item and shop.Cart
    assert seen == ["shop", "shop.deep", "shop.deep.item", "shop.cart"] and ran


@pytest.mark.parametrize("form", ["zip", "bytecode"])
def test_a_package_not_of_source_files_is_imported_as_usual(
    form: str, ran: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "shop"
    if form == "zip":
        with zipfile.ZipFile(tmp_path / "shop.zip", "w") as archive:
            for path in source.rglob("*.py"):
                archive.write(path, path.relative_to(tmp_path))
        monkeypatch.syspath_prepend(str(tmp_path / "shop.zip"))
        shutil.rmtree(source)
    else:
        compileall.compile_dir(source, legacy=True, quiet=1)
        for path in source.rglob("*.py"):
            path.unlink()
    with deferred_reexports("shop"):
        import shop  # type: ignore[import-not-found]
    assert ran == ["shop.cart", "shop.price", "shop.deep.item"] and shop.Item


# Describes every name each openai.types package exports, after reading them all, and
# which openai modules that loaded; "deferred" imports openai as mcr_agent.model.sdk does
# and defers the packages the import did not load, too.
_WALK = """
import contextlib, importlib, json, pathlib, sys
deferred = sys.argv[1] == "deferred"
if not deferred:
    import openai  # before mcr_agent.model.sdk, whose import is then the usual one
from mcr_agent.model.sdk import deferred_reexports, openai, reexports
loaded_by_import = sorted(m for m in sys.modules if m.startswith("openai."))
with deferred_reexports("openai.types") if deferred else contextlib.nullcontext():
    root = pathlib.Path(openai.__file__).parent / "types"
    names = {}
    for init in sorted(root.rglob("__init__.py")):
        package = ".".join(init.parent.relative_to(root.parent.parent).parts)
        module = importlib.import_module(package)
        for name in sorted(reexports(init)):
            value = getattr(module, name)
            names[f"{package}.{name}"] = f"{getattr(value, '__module__', '')}:" + getattr(
                value, "__qualname__", repr(value))
        names[package + "/doc"] = module.__doc__
        star = {}
        exec(f"from {package} import *", star)
        names[package + "/*"] = sorted(k for k in star if k != "__builtins__")
json.dump({"names": names, "loaded_by_import": loaded_by_import,
           "loaded": sorted(m for m in sys.modules if m.startswith("openai."))}, sys.stdout)
"""


def walk_openai_types(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _WALK, mode], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def test_openai_types_give_the_same_objects_as_an_eager_import() -> None:
    eager, deferred = walk_openai_types("eager"), walk_openai_types("deferred")
    assert len(eager["names"]) > 1000  # type: ignore[arg-type]
    assert deferred["names"] == eager["names"]
    assert deferred["loaded"] == eager["loaded"]  # once all is read, the same modules
    assert "openai.types.responses.response" in eager["loaded_by_import"]  # type: ignore[operator]
    first = set(deferred["loaded_by_import"])  # type: ignore[call-overload]
    assert "openai.types.responses.response" not in first
    assert len(first) < len(eager["loaded_by_import"]) / 3  # type: ignore[arg-type]

import pytest

from medtransfer.errors import ConfigError
from medtransfer.registry import Registry, describe


def test_unknown_name_suggests_close_match_and_listing_command():
    registry: Registry[int] = Registry("widget", "medtransfer widgets")
    registry.add("coral", 1)
    registry.add("kmm", 2)
    with pytest.raises(
        ConfigError, match=r"unknown widget 'corall'.*Did you mean 'coral'.*medtransfer widgets"
    ):
        registry.get("corall")


def test_registering_a_name_twice_is_an_error():
    registry: Registry[int] = Registry("widget", "medtransfer widgets")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("a", 2)


def test_entries_are_sorted_and_described():
    registry: Registry = Registry("widget", "x")

    @registry.register("b")
    def b():
        """Second entry.

        More text."""

    registry.add("a", lambda: None)
    assert list(registry) == ["a", "b"]
    assert describe(registry.get("b")) == "Second entry."
    assert "a" in registry and len(registry) == 2


LAZY: Registry[int] = Registry("thing", "medtransfer things",
                               providers=("registry_provider_module",))


def test_a_registry_imports_its_providers_before_the_first_lookup(tmp_path):
    provider = tmp_path / "registry_provider_module.py"
    provider.write_text(
        "from tests.test_registry import LAZY\nLAZY.add('late', 42)\n", encoding="utf-8")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        assert "late" in LAZY and LAZY.get("late") == 42 and list(LAZY) == ["late"]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("registry_provider_module", None)


def test_methods_hold_auto_whatever_was_imported_first():
    # a fresh interpreter that imports only the registry's own module
    import subprocess
    import sys

    code = ("from medtransfer.adapt.base import METHODS, get_method; "
            "print(get_method('auto').name, 'coral' in METHODS, len(METHODS) > 20)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["auto", "True", "True"]

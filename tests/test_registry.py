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

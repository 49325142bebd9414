"""Fixtures shared by every test package."""

pytest_plugins = ["tests.fixtures.tiny_models"]

"""The REST API tests (a package, so its conftest does not collide with tests/store/conftest.py)."""

"""A small shop backend whose functions carry their expected kind in a trailing comment."""

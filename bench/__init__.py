"""Tequio's benchmark suite (issue #6): ``uv run python -m bench``.

See docs/performance.md for what each figure means and the figures of a real run.
"""

"""Fuzz harnesses for everything that parses outside input (``make fuzz``).

Each harness is a ``check(data: bytes)`` function: it feeds the bytes to one
parser and fails (raises something other than the parser's own clear error)
only on a real bug. ``python -m fuzz NAME [libFuzzer flags]`` runs one under
atheris; ``tests/test_fuzz_corpus.py`` replays the seed corpora and every saved
crash in the normal test suite, so a crash once found stays fixed.
"""

"""The ``fieldgate`` command."""

"""scalable-tui: watch and diagnose Dask / Scalable workflow runs from the terminal.

This package must stay cheap to import: ``scalable-tui --help`` imports it, and
neither Textual, distributed nor openai may be pulled in at that point.  Heavy
modules are imported inside the command that needs them.
"""

__version__ = "0.1.0"

"""Griffe extension for the API pages: read ``Example:`` as the Google-style ``Examples:`` section.

softq_ref's docstrings follow the order of ``STYLE.md`` (summary, formula, Args, Returns,
Example, Reference, Notes) and title their doctest section ``Example:``.  Griffe's Google
parser knows only the plural, and would render the singular as a note whose ``>>>`` lines
are read as Markdown; renaming the title before parsing makes them code.
"""

from __future__ import annotations

import re

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)


class ExampleSection(griffe.Extension):
    def on_object(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None and "Example:" in obj.docstring.value:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)

"""Griffe extensions for the API pages.

``ExampleSection`` reads ``Example:`` as the Google-style ``Examples:`` section;
``SphinxRoles`` turns Sphinx roles left in a docstring into mkdocstrings cross-references.

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


# Sphinx's Python roles (``:class:`X```, ``:func:`~pkg.mod.f```) mean nothing to mkdocstrings,
# which would show ``:class:`` as text.  Docstrings should use mkdocstrings' cross-references
# (``[`X`][pkg.mod.X]``); this extension turns any role left in a docstring into one, resolved
# the way Sphinx would (a full path, or a name relative to the object's module or class), and
# into plain code when the target is outside softq_ref (``matplotlib.figure.Figure``).
_ROLE = re.compile(r":(?:py:)?(?:class|func|mod|meth|attr|data|obj|exc|const):`(~?)([A-Za-z_][\w.]*)(?:\(\))?`")


def _lookup(root, path: str):
    parts = path.split(".")
    if parts[0] != root.name:
        return None
    obj = root
    try:
        for part in parts[1:]:
            obj = obj.members[part]
    except (KeyError, AttributeError, griffe.AliasResolutionError):
        # e.g. ``jax.experimental.io_callback`` tried relative to a module that imports jax:
        # walking into the alias ``mod.jax`` asks griffe for a package it did not load.
        return None
    try:
        return obj.final_target if obj.is_alias else obj
    except Exception:  # noqa: BLE001 - an alias to something griffe did not load
        return None


def _resolve(root, obj, name: str):
    """The documented path of ``name`` as written in ``obj``'s docstring, or None."""
    scopes = [name]
    module = obj if obj.is_module else obj.module
    owner = obj if obj.is_class else obj.parent
    if owner is not None:
        scopes.append(f"{owner.path}.{name}")
    scopes.append(f"{module.path}.{name}")
    if module.parent is not None:
        scopes.append(f"{module.parent.path}.{name}")
    for path in scopes:
        found = _lookup(root, path)
        if found is not None:
            return found.path
    return None


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg, **kwargs) -> None:
        def walk(obj):
            yield obj
            for member in obj.members.values():
                if not member.is_alias and (member.is_module or member.is_class or member.is_function or member.is_attribute):
                    yield from walk(member)

        for obj in walk(pkg):
            if obj.docstring is None or ":`" not in obj.docstring.value:
                continue

            def replace(match: re.Match, obj=obj) -> str:
                tilde, name = match.groups()
                path = _resolve(pkg, obj, name)
                shown = name.rsplit(".", 1)[-1] if tilde else name
                return f"[`{shown}`][{path}]" if path else f"`{shown}`"

            obj.docstring.value = _ROLE.sub(replace, obj.docstring.value)

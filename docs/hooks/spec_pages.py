"""MkDocs hook: generate the paper's pages from the spec registry (``spec/``).

Every equation, definition, theorem and property of ``spec/equations/*.toml`` and every
deviation of ``spec/deviations/*.toml`` reaches the site through this file, so an entry
cannot be added to spec without appearing in the docs.  The hook rewrites markers in the
Markdown of a page before MkDocs converts it:

``<!-- spec:section NAME -->``
    every entry whose ``section`` is NAME, in spec order: a heading whose anchor is the
    entry's id, the formula, the explanation, the conventions, links to the deviations,
    the implementing functions rendered by mkdocstrings (with their source), and the
    source of each test that verifies the entry, in a collapsible block.
``<!-- spec:entry ID -->``
    one entry, the same way but without the functions (the theorems page uses it).
``<!-- spec:remaining kind=theorem -->``
    the entries of a kind that no ``spec:entry`` marker on the page has rendered yet.
``<!-- spec:deviations -->``
    every deviation: what the paper, the original code, other ports and softq_ref do.
``[spec:ID]``
    an inline link to an entry or deviation (``[spec:eq-11]`` becomes "Eq. (11)" linked
    to its page).
``<!-- api:index MODULE -->``
    a table of ``MODULE.__all__``, each name linked to its entry in the API reference with
    its summary line; the links are cross-references, so a public name without an API
    entry fails the strict build.

Each function is rendered by mkdocstrings without a heading of its own (its anchor belongs
to the API reference, so that cross-references have one target), under a line that links
to that API entry.

Problems are MkDocs warnings, so ``mkdocs build --strict`` fails on them: an entry names a
test or a function that does not exist, cites an unknown deviation, or (checked after all
pages are read) is not rendered on its section's page.  ``expand``, ``missing_from_docs``
and ``SECTION_PAGES`` are plain functions and data, so ``tests/test_docs.py`` runs the same
expansion without MkDocs.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import logging
import posixpath
import re
import sys
from functools import lru_cache
from pathlib import Path

from softq_ref.spec import SECTIONS, Deviation, Entry, load_deviations, load_entries, resolve

log = logging.getLogger("mkdocs.hooks.spec_pages")

ROOT = Path(__file__).resolve().parents[2]

#: The page (relative to ``docs/``) that renders each section of the paper.
SECTION_PAGES = {section: f"paper/{section}.md" for section in SECTIONS}

#: The page that renders every deviation.
DEVIATIONS_PAGE = "conventions.md"

_MARKER = re.compile(r"<!--\s*spec:(section|entry|remaining|deviations)\b\s*([^>]*?)\s*-->")
_REF = re.compile(r"\[spec:([A-Za-z0-9_.-]+)\]")
_API_MARKER = re.compile(r"<!--\s*api:index\s+([A-Za-z0-9_.]+)\s*-->")

_KIND_LABELS = {"theorem": "Theorem", "definition": "Definition", "property": "Property", "equation": "Equation"}

# mkdocstrings options for a function shown under an entry.  No root heading and no TOC
# entry: the function's anchor belongs to the API reference, so that cross-references to
# it have exactly one target.
_FUNCTION_OPTIONS = """\
    options:
      show_root_heading: false
      show_root_toc_entry: false
      show_source: true
      heading_level: 4"""


# --------------------------------------------------------------------------- labels and links


def label(entry_id: str, kind: str = "") -> str:
    """A reader's name for an id: ``eq-10`` -> "Eq. (10)", ``thm-3`` -> "Theorem 3"."""
    prefix, _, rest = entry_id.partition("-")
    if prefix == "eq" and rest:
        return f"Eq. ({rest})"
    if prefix == "thm" and rest:
        return f"Theorem {rest}"
    return _KIND_LABELS.get(kind, "Entry")


def link_text(entry: Entry) -> str:
    """The text of a link to an entry: "Eq. (10)", "Theorem 3", or "Definition: The multi-goal task"."""
    lab = label(entry.id, entry.kind)
    return f"{lab}: {entry.title}" if lab in _KIND_LABELS.values() else lab


def heading_text(entry: Entry) -> str:
    lab = label(entry.id, entry.kind)
    if lab in _KIND_LABELS.values():
        return f"{lab}: {entry.title}"
    return f"{lab} {entry.title}" if entry.title.startswith("(") else f"{lab}: {entry.title}"


def relative_link(from_page: str, to_page: str, anchor: str = "") -> str:
    """The relative link from one docs page to another (paths relative to ``docs/``)."""
    if from_page == to_page:
        target = ""
    else:
        target = posixpath.relpath(to_page, posixpath.dirname(from_page) or ".")
    return f"{target}#{anchor}" if anchor else target


def entry_home(entry: Entry) -> str:
    return SECTION_PAGES[entry.section]


# --------------------------------------------------------------------------- tests


def _find_node(tree: ast.Module, parts: list[str]):
    body = tree.body
    node = None
    for part in parts:
        node = next(
            (n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part),
            None,
        )
        if node is None:
            return None
        body = node.body
    return node


@lru_cache(maxsize=None)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _segment(text: str, node) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = text.splitlines()[first - 1 : node.end_lineno]
    indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
    return "\n".join(l[indent:] for l in lines)


def _helpers(tree: ast.Module, node, depth: int) -> list:
    """Public top-level functions of the file that ``node`` uses, transitively (``depth`` levels)."""
    defs = {
        n.name: n
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        and not n.name.startswith(("_", "test_"))
        and not any("fixture" in ast.unparse(d) for d in n.decorator_list)
    }
    found: dict[str, ast.AST] = {}
    frontier = [node]
    for _ in range(depth):
        names = {n.id for f in frontier for n in ast.walk(f) if isinstance(n, ast.Name)}
        frontier = [defs[name] for name in sorted(names) if name in defs and name not in found and defs[name] is not node]
        found.update((f.name, f) for f in frontier)
    return sorted(found.values(), key=lambda n: n.lineno)


def test_source(test_ref: str, root: Path = ROOT, helper_depth: int = 3) -> str | None:
    """The source of ``tests/file.py::function`` and of the file's functions it uses, or None.

    The test comes first (decorators included), then the public top-level functions of
    the same file that it calls, transitively up to ``helper_depth`` levels (a theorem's
    test calls its property, which calls its check).  ``file.py::Class::method`` and a
    parametrize suffix (``test_x[case]``) are accepted.
    """
    path_part, _, name_part = test_ref.partition("::")
    path = root / path_part
    if not name_part or not path.is_file():
        return None
    text = _read(path)
    tree = ast.parse(text)
    parts = [p.split("[", 1)[0] for p in name_part.split("::")]
    node = _find_node(tree, parts)
    if node is None:
        return None
    pieces = [_segment(text, node)]
    helpers = _helpers(tree, node, helper_depth) if len(parts) == 1 else []
    if helpers:
        pieces.append(f"# --- used above, from {path_part} ---")
        pieces += [_segment(text, h) for h in helpers]
    return "\n\n\n".join(pieces)


def _fence(code: str, lang: str = "python") -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{code}\n{fence}"


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line if line.strip() else "" for line in text.splitlines())


def render_test(test_ref: str, problems: list[str], root: Path = ROOT) -> str:
    source = test_source(test_ref, root)
    if source is None:
        problems.append(f"test {test_ref!r} not found")
        return f'!!! failure "Test not found: `{test_ref}`"\n\n    The spec names this test, but it does not exist.\n'
    return f'??? example "Verified by `{test_ref}`"\n\n{_indent(_fence(source))}\n'


# --------------------------------------------------------------------------- entries


def _assigned_at_top_level(module, name: str) -> bool:
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return False
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def _canonical(dotted: str) -> str:
    """The path under which the API reference documents ``dotted`` (where it is defined).

    Functions and classes are found by ``__module__`` and ``__qualname__``; modules by
    ``__name__``; other objects (constants) by the module of the same package that assigns
    the name at its top level.
    """
    try:
        obj = resolve(dotted)
    except Exception:  # noqa: BLE001 - reported by the caller as a missing function
        return dotted
    if inspect.ismodule(obj):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        return f"{module}.{qualname}"
    package, _, name = dotted.rpartition(".")
    for mod_name in sorted(sys.modules):
        mod = sys.modules[mod_name]
        if (mod_name == package or mod_name.startswith(package + ".")) and vars(mod).get(name) is obj:
            if _assigned_at_top_level(mod, name):
                return f"{mod_name}.{name}"
    return dotted


def render_api_index(module_name: str) -> str:
    """A table of ``module.__all__``: each name linked to its API entry, with its summary line.

    The links are cross-references, so a public name without an API entry fails the
    strict build.
    """
    module = importlib.import_module(module_name)
    rows = ["| Name | Summary |", "|---|---|"]
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        target = _canonical(f"{module_name}.{name}")
        doc = inspect.getdoc(obj) if (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismodule(obj)) else None
        summary = (doc or "").strip().split("\n\n", 1)[0].replace("\n", " ").replace("|", "\\|")
        rows.append(f"| [`{name}`][{target}] | {summary} |")
    return "\n".join(rows) + "\n"


def _plain_signature(obj, name: str) -> str:
    """``name(a, b, *, c=1)``: the call signature without annotations (those are in the API entry)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return f"{name}{sig.replace(parameters=params, return_annotation=inspect.Signature.empty)}"


def render_function(dotted: str, problems: list[str]) -> str:
    try:
        resolve(dotted)
    except Exception as err:  # noqa: BLE001
        problems.append(f"function {dotted!r} cannot be imported: {err}")
        return f'!!! failure "Function not found: `{dotted}`"\n\n    The spec names it, but it cannot be imported.\n'
    canonical = _canonical(dotted)
    short = canonical.rsplit(".", 1)[-1]
    signature = _plain_signature(resolve(dotted), short)
    return (
        f"**Implemented by** [`{short}`][{canonical}] in `{canonical.rsplit('.', 1)[0]}` "
        f"(its entry in the API reference):\n\n"
        f"{_fence(signature)}\n\n"
        f"::: {dotted}\n{_FUNCTION_OPTIONS}\n"
    )


def render_entry(
    entry: Entry,
    page: str,
    deviations: dict[str, Deviation],
    problems: list[str],
    *,
    level: int = 2,
    functions: bool = True,
    root: Path = ROOT,
) -> str:
    """The Markdown of one entry, as it appears on ``page``."""
    hashes = "#" * level
    out = [f"{hashes} {heading_text(entry)} {{ #{entry.id} }}", ""]
    where = f"*{entry.paper}*"
    home = entry_home(entry)
    if home != page:
        where += f" · [in the paper walk-through]({relative_link(page, home, entry.id)})"
    out += [f"{where} · spec id `{entry.id}` · {entry.kind}", ""]
    if entry.latex:
        out += ["$$", entry.latex, "$$", ""]
    out += [entry.explanation, ""]
    if entry.conventions:
        out += ["**Conventions**", ""] + [f"- {c}" for c in entry.conventions] + [""]
    if entry.deviations:
        out += ["**Deviations**", ""]
        for dev_id in entry.deviations:
            dev = deviations.get(dev_id)
            if dev is None:
                problems.append(f"{entry.id}: unknown deviation {dev_id!r}")
                out.append(f"- `{dev_id}` (missing from spec/deviations)")
            else:
                out.append(f"- [{dev.title}]({relative_link(page, DEVIATIONS_PAGE, dev.id)}) (`{dev.id}`)")
        out.append("")
    if functions:
        for dotted in entry.functions:
            out += [render_function(dotted, problems), ""]
    if entry.tests:
        for test_ref in entry.tests:
            out += [render_test(test_ref, problems, root), ""]
    else:
        out += ['!!! warning "No test verifies this entry yet."', ""]
    return "\n".join(out)


def render_deviation(dev: Deviation, page: str, entries: list[Entry], level: int = 3) -> str:
    hashes = "#" * level
    out = [f"{hashes} {dev.title} {{ #{dev.id} }}", "", f"spec id `{dev.id}`", ""]
    concerned = [e for e in entries if dev.id in e.deviations]
    if concerned:
        links = ", ".join(f"[{link_text(e)}]({relative_link(page, entry_home(e), e.id)})" for e in concerned)
        out += [f"Concerns: {links}.", ""]
    rows = [("The paper", dev.paper), ("The original code", dev.original_code)]
    if dev.ports:
        rows.append(("Other ports", dev.ports))
    rows += [("softq_ref", dev.softq_ref), ("Why", dev.why)]
    for name, text in rows:
        out += [f"**{name}.** {text}", ""]
    if dev.where:
        out += ["**Where in the code:** " + ", ".join(f"`{w}`" for w in dev.where), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- expansion


def _ref_link(ref_id: str, page: str, entries: dict[str, Entry], deviations: dict[str, Deviation], problems):
    if ref_id in entries:
        e = entries[ref_id]
        return f"[{label(e.id, e.kind)}]({relative_link(page, entry_home(e), e.id)})"
    if ref_id in deviations:
        return f"[{deviations[ref_id].title}]({relative_link(page, DEVIATIONS_PAGE, ref_id)})"
    problems.append(f"[spec:{ref_id}] refers to no spec entry or deviation")
    return f"`{ref_id}` (not in spec yet)"


def expand(markdown: str, page: str, entries=None, deviations=None, root: Path = ROOT):
    """Expand the spec markers of one page.

    Args:
      markdown: the page's source.
      page: its path relative to ``docs/`` (``paper/soft-values.md``), for relative links.
      entries, deviations: the registry (loaded from ``spec/`` when omitted).
      root: the project root (where ``tests/`` lives).

    Returns:
      ``(markdown, rendered_ids, problems)``: the expanded page, the ids rendered with
      their anchor on it, and a list of problems (unknown ids, missing tests or functions).
    """
    entries = load_entries() if entries is None else entries
    deviations = load_deviations() if deviations is None else deviations
    by_id = {e.id: e for e in entries}
    dev_by_id = {d.id: d for d in deviations}
    rendered: list[str] = []
    problems: list[str] = []

    def replace(match: re.Match) -> str:
        kind, arg = match.group(1), match.group(2).strip()
        if kind == "section":
            if arg not in SECTIONS:
                problems.append(f"unknown section {arg!r}")
                return ""
            chosen = [e for e in entries if e.section == arg]
            if not chosen:
                return '!!! note "No spec entry belongs to this section yet."\n'
            rendered.extend(e.id for e in chosen)
            return "\n".join(render_entry(e, page, dev_by_id, problems, root=root) for e in chosen)
        if kind == "entry":
            if arg not in by_id:
                problems.append(f"spec:entry {arg!r}: no such entry")
                return f'!!! failure "Spec entry `{arg}` does not exist."\n'
            rendered.append(arg)
            return render_entry(by_id[arg], page, dev_by_id, problems, functions=False, root=root)
        if kind == "remaining":
            wanted = dict(p.split("=", 1) for p in arg.split() if "=" in p).get("kind", "")
            chosen = [e for e in entries if e.kind == wanted and e.id not in rendered]
            rendered.extend(e.id for e in chosen)
            parts = []
            for e in chosen:
                parts.append(render_entry(e, page, dev_by_id, problems, functions=False, root=root))
                parts.append('!!! warning "The proof sketch of this entry is not written yet."\n')
            return "\n".join(parts)
        # deviations
        if not deviations:
            return '!!! note "No deviation is recorded in spec/deviations yet."\n'
        rendered.extend(d.id for d in deviations)
        return "\n".join(render_deviation(d, page, entries) for d in deviations)

    # Markers quoted in code (a fenced block or an inline code span) are text, not markers:
    # they are set aside before the expansion and put back unchanged after it.
    protected, held = _protect_code(markdown)
    # Entries first (the 'remaining' marker must see what the page rendered before it).
    out = _MARKER.sub(replace, protected)
    out = _API_MARKER.sub(lambda m: render_api_index(m.group(1)), out)
    out = _REF.sub(lambda m: _ref_link(m.group(1), page, by_id, dev_by_id, problems), out)
    return _restore_code(out, held), rendered, problems


_FENCED = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[^\n]*\n.*?^(?P=indent)(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"(?P<ticks>`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)(?P=ticks)(?!`)", re.DOTALL)
_HELD = "\x00softq-code-{}\x00"


def _protect_code(markdown: str) -> tuple[str, list[str]]:
    """Replace fenced blocks and inline code spans by placeholders; return them in order."""
    held: list[str] = []

    def hold(match: re.Match) -> str:
        held.append(match.group(0))
        return _HELD.format(len(held) - 1)

    return _INLINE_CODE.sub(hold, _FENCED.sub(hold, markdown)), held


def _restore_code(text: str, held: list[str]) -> str:
    # Later placeholders may sit inside earlier ones' text only if nested; restore in reverse.
    for index in range(len(held) - 1, -1, -1):
        text = text.replace(_HELD.format(index), held[index])
    return text


def missing_from_docs(rendered_by_page: dict[str, list[str]], entries=None, deviations=None) -> list[str]:
    """Ids of entries and deviations not rendered on their home page."""
    entries = load_entries() if entries is None else entries
    deviations = load_deviations() if deviations is None else deviations
    missing = [e.id for e in entries if e.id not in rendered_by_page.get(entry_home(e), [])]
    missing += [d.id for d in deviations if d.id not in rendered_by_page.get(DEVIATIONS_PAGE, [])]
    return missing


# --------------------------------------------------------------------------- MkDocs events

_STATE: dict = {}


def on_pre_build(config, **kwargs):
    _read.cache_clear()
    _STATE.clear()
    _STATE["entries"] = load_entries()
    _STATE["deviations"] = load_deviations()
    _STATE["rendered"] = {}


def on_page_markdown(markdown, page, config, files, **kwargs):
    if "spec:" not in markdown and "api:" not in markdown:
        return markdown
    src = page.file.src_uri
    out, rendered, problems = expand(markdown, src, _STATE["entries"], _STATE["deviations"])
    _STATE["rendered"][src] = rendered
    for problem in problems:
        log.warning("%s: %s", src, problem)
    return out


def on_env(env, config, files, **kwargs):
    for item_id in missing_from_docs(_STATE["rendered"], _STATE["entries"], _STATE["deviations"]):
        log.warning("spec entry %r appears on no docs page (its section page lacks the marker)", item_id)
    return env

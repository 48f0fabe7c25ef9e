"""The documentation site as a reader sees it: every page rendered in headless Chromium.

The strict MkDocs build (``tests/test_docs.py``) proves that the site builds and links; it
cannot see what KaTeX, Material and the browser make of a page. This test builds the site
into a temporary directory, opens every page at 1280 px in headless Chromium (Debian's
``chromium`` package; ``.ci/run`` installs it) and fails on

- a formula KaTeX could not typeset (an element of class ``katex-error``);
- TeX left in the prose: ``$$``, ``\\(`` or ``\\[`` outside code and outside typeset math
  (a formula that never reached KaTeX, or a heading whose math the table of contents shows raw);
- a Sphinx role shown as text (``:class:``, ``:func:``, ``:mod:`` ...), which mkdocstrings
  does not understand;
- a display formula wider than the content column (it would need horizontal scrolling);
- a code block marked runnable (```` ```python { .runnable-python } ```` or
  ```` ```bash { .runnable-bash } ```` in the Markdown) that fails when run exactly as shown.
  The runnable blocks of a page run in the page's order, from one fresh directory that has the
  repository's ``docs/`` and ``spec/`` in it (as the repository root has), so a later block
  may use what an earlier one wrote (a run directory), never a variable it defined.

All pages are checked in one Chromium process: a harness page loads each page in a
1280-px-wide iframe, waits for KaTeX, opens every collapsed block and measures. Where
Chromium is absent the test is skipped with the reason. The must-fail twins at the end run
the same harness on deliberately broken pages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: The width at which the pages are measured.
WIDTH = 1280

#: Roles of Sphinx's Python domain: mkdocstrings shows them as literal text.
SPHINX_ROLES = (":class:", ":func:", ":mod:", ":meth:", ":attr:", ":data:", ":obj:", ":exc:")


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium); the rendered-docs check is skipped",
)

# The harness: loads each page in an iframe, waits until every formula is typeset (or 4 s),
# opens <details>, and reports what it finds as JSON in <pre id="report">.
HARNESS = r"""<!doctype html>
<html><head><meta charset="utf-8"></head><body>
<pre id="report">PENDING</pre>
<iframe id="frame" style="width: %(width)dpx; height: 900px; border: 0"></iframe>
<script>
const PAGES = %(pages)s;
const ROLES = %(roles)s;
const report = {};
const frame = document.getElementById("frame");
function sleep(ms) { return new Promise(r => setTimeout(r, ms)); }
function textOutsideCodeAndMath(doc) {
  const out = [];
  const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let el = node.parentElement; el; el = el.parentElement) {
        const tag = el.tagName;
        if (tag === "PRE" || tag === "CODE" || tag === "SCRIPT" || tag === "STYLE" || tag === "TEXTAREA") return NodeFilter.FILTER_REJECT;
        if (el.classList && el.classList.contains("katex")) return NodeFilter.FILTER_REJECT;
      }
      return NodeFilter.FILTER_ACCEPT;
    }
  });
  for (let n = walker.nextNode(); n; n = walker.nextNode()) out.push(n.nodeValue);
  return out.join(" ");
}
function context(text, needle) {
  const i = text.indexOf(needle);
  return text.slice(Math.max(0, i - 60), i + 60).replace(/\s+/g, " ");
}
async function check(page) {
  await new Promise(resolve => { frame.onload = resolve; frame.src = page; });
  const doc = frame.contentDocument;
  const win = frame.contentWindow;
  for (let i = 0; i < 40; i++) {
    const all = doc.querySelectorAll(".arithmatex");
    const done = doc.querySelectorAll(".arithmatex[data-katex-done]");
    if (typeof win.katex !== "undefined" && all.length === done.length) break;
    await sleep(100);
  }
  doc.querySelectorAll("details").forEach(d => d.open = true);
  await sleep(50);
  const r = {errors: [], leftovers: [], roles: [], wide: [], runnable: [], untypeset: 0};
  doc.querySelectorAll(".katex-error").forEach(e => r.errors.push((e.getAttribute("title") || "") + " :: " + e.textContent.slice(0, 120)));
  r.untypeset = doc.querySelectorAll(".arithmatex:not([data-katex-done])").length;
  const text = textOutsideCodeAndMath(doc);
  for (const needle of ["$$", "\\(", "\\["]) if (text.includes(needle)) r.leftovers.push(needle + " in: " + context(text, needle));
  for (const role of ROLES) if (text.includes(role)) r.roles.push(context(text, role));
  const column = doc.querySelector(".md-content__inner");
  const columnWidth = column ? column.clientWidth : 0;
  doc.querySelectorAll("div.arithmatex").forEach(el => {
    if (el.offsetParent === null) return;
    const inner = el.querySelector(".katex-display > .katex") || el;
    const need = Math.max(el.scrollWidth, inner.scrollWidth);
    if (need > el.clientWidth + 1) {
      const tex = el.querySelector("annotation") ? el.querySelector("annotation").textContent : el.textContent;
      r.wide.push(need + "px > " + el.clientWidth + "px: " + tex.slice(0, 100).replace(/\s+/g, " "));
    }
  });
  r.column = columnWidth;
  doc.querySelectorAll("div.runnable-python, div.runnable-bash").forEach(el => {
    const code = el.querySelector("code");
    const lang = el.classList.contains("runnable-bash") ? "bash" : "python";
    if (code) r.runnable.push({lang: lang, code: code.textContent});
  });
  return r;
}
(async function () {
  for (const page of PAGES) {
    try { report[page] = await check(page); }
    catch (e) { report[page] = {fatal: String(e)}; }
  }
  document.getElementById("report").textContent = JSON.stringify(report);
})();
</script></body></html>
"""


def render_report(site: Path, pages: list[str]) -> dict:
    """Open ``pages`` (paths relative to ``site``) in headless Chromium; the harness's report."""
    harness = site / "_render_harness.html"
    harness.write_text(HARNESS % {"width": WIDTH, "pages": json.dumps(pages), "roles": json.dumps(SPHINX_ROLES)})
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--allow-file-access-from-files", "--no-first-run", "--mute-audio",
        f"--window-size={WIDTH + 40},1000", f"--virtual-time-budget={60_000 + 6_000 * len(pages)}",
        "--dump-dom", harness.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    start = done.stdout.find('<pre id="report">')
    assert start >= 0, f"Chromium did not load the harness (exit {done.returncode}):\n{done.stderr[-3000:]}"
    body = done.stdout[start + len('<pre id="report">'):]
    body = body[: body.find("</pre>")]
    import html

    body = html.unescape(body)
    assert body != "PENDING", "the harness did not finish in Chromium's virtual time budget"
    return json.loads(body)


def build_site(out: Path) -> Path:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", MPLBACKEND="Agg")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    return out


def problems_of(report: dict) -> list[str]:
    found = []
    for page, r in sorted(report.items()):
        if "fatal" in r:
            found.append(f"{page}: the harness failed: {r['fatal']}")
            continue
        found += [f"{page}: KaTeX error: {e}" for e in r["errors"]]
        found += [f"{page}: TeX left in the text: {e}" for e in r["leftovers"]]
        found += [f"{page}: Sphinx role shown as text: {e}" for e in r["roles"]]
        found += [f"{page}: display formula wider than the column: {e}" for e in r["wide"]]
        if r["untypeset"]:
            found.append(f"{page}: {r['untypeset']} formulas were never typeset")
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = build_site(tmp_path_factory.mktemp("site") / "site")
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if p.name != "404.html" and not p.name.startswith("_"))
    return site, render_report(site, pages)


@needs_chromium
def test_every_page_renders_cleanly(rendered):
    site, report = rendered
    assert len(report) >= 25, f"only {len(report)} pages were checked"
    assert all(r.get("column", 0) > 500 for r in report.values() if "fatal" not in r), "pages were not laid out"
    problems = problems_of(report)
    assert not problems, f"{len(problems)} rendering problems:\n" + "\n".join(problems)


def _snippets(report: dict) -> list[tuple[str, int, str, str]]:
    out = []
    for page, r in sorted(report.items()):
        for i, snippet in enumerate(r.get("runnable", [])):
            out.append((page, i, snippet["lang"], snippet["code"]))
    return out


def run_snippet(lang: str, code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one snippet as a reader would, from a directory holding the repository's docs/ and spec/."""
    for name in ("docs", "spec"):
        if not (cwd / name).exists():
            (cwd / name).symlink_to(ROOT / name)
    # The Python tutorial's training length (shown in its code) is cut to 300 steps here.
    env = dict(os.environ, MPLBACKEND="Agg", SOFTQ_TUTORIAL_STEPS="300")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@needs_chromium
def test_every_runnable_snippet_runs_as_shown(rendered, tmp_path):
    site, report = rendered
    snippets = _snippets(report)
    assert snippets, "no snippet is marked runnable"
    assert all(lang in ("python", "bash") for _, _, lang, _ in snippets), "a runnable snippet has no language"
    failures = []
    for page, i, lang, code in snippets:
        # One directory per page: a page's blocks run in its order, as a reader runs them.
        cwd = tmp_path / page.replace("/", "_")
        cwd.mkdir(exist_ok=True)
        done = run_snippet(lang, code, cwd)
        if done.returncode != 0:
            failures.append(f"{page} snippet {i} ({lang}) exited {done.returncode}:\n{code}\n--- stderr\n{done.stderr[-1500:]}")
    assert not failures, "\n\n".join(failures)


# --------------------------------------------------------------------------- must-fail twins

BROKEN_PAGE = r"""<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="assets/katex/katex.min.css"><link rel="stylesheet" href="assets/stylesheets/extra.css">
</head><body><div class="md-content__inner" style="width: 688px">
<p>Returns the state, see :class:`SQLState` and $$ x $$ here.</p>
<div class="arithmatex">\[ \frac{1}{ \]</div>
<div class="arithmatex">\[ %s \]</div>
<p>inline \( a \) never typeset</p>
</div>
<script src="assets/katex/katex.min.js"></script>
<script src="assets/javascripts/katex-init.js"></script>
</body></html>
"""


@needs_chromium
def test_the_check_catches_a_broken_page(tmp_path):
    """The same harness, run on a page with each defect planted, reports every one of them."""
    assets = tmp_path / "assets"
    shutil.copytree(ROOT / "docs" / "assets", assets)
    wide = " + ".join(rf"\sum_{{j={i}}}^{{K}} \exp(Q(s, a_j) / \alpha)" for i in range(12))
    (tmp_path / "broken.html").write_text(BROKEN_PAGE % wide)
    report = render_report(tmp_path, ["broken.html"])
    r = report["broken.html"]
    assert r["errors"], "a formula KaTeX cannot parse was not reported"
    assert any(x.startswith("$$") for x in r["leftovers"]), "leftover $$ was not reported"
    assert r["roles"], "a Sphinx role shown as text was not reported"
    assert r["wide"], "a display formula wider than the column was not reported"
    # And the clean version of the page passes.
    (tmp_path / "clean.html").write_text(
        BROKEN_PAGE.replace(":class:`SQLState`", "SQLState").replace("$$ x $$", "x")
        .replace(r"\frac{1}{", r"\frac{1}{2}") % r"x = 1"
    )
    clean = render_report(tmp_path, ["clean.html"])["clean.html"]
    assert not clean["errors"] and not clean["roles"] and not clean["wide"]
    assert not [x for x in clean["leftovers"] if x.startswith("$$")]


@needs_chromium
def test_a_failing_snippet_is_reported(tmp_path):
    """A runnable snippet that raises fails the check; the same snippet fixed passes."""
    assert run_snippet("python", "print(undefined_name)", tmp_path).returncode != 0
    assert run_snippet("python", "import softq_ref; print(softq_ref.__name__)", tmp_path).returncode == 0
    assert run_snippet("bash", 'echo "$UNDEFINED_VARIABLE_XYZ"', tmp_path).returncode != 0

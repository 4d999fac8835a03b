"""`{claims-scoreboard}`: the landing page's table of every claim and its one verdict.

    ```{claims-scoreboard}
    :name: tab-scoreboard

    Caption.
    ```

One row per claim of `littlebig_utils.book.claims.CLAIMS`, in registry order: the claim (paper,
source, statement), the paper's number (reported), ours, the verdict, and a link to the chapter
that decides it. The verdicts are read at build time from the executed notebooks
(``generated/*.ipynb``: the `ClaimResult` each deciding chapter glues carries its record), so
the scoreboard and the chapters always come from the same run; a claim whose chapter recorded
nothing shows "not computed in this build" (the strict build does not fail on it). A claim
recorded by a chapter other than its own, or twice with two verdicts, stops the build.

The table is marked ``lb-wide``: on a wide screen book/_static/littlebig.js gives it the
theme's full width (the text column and its right margin). Each verdict cell carries ``lb-verdict verdict-<label> claim-<id>``, like the chapters'
verdict admonitions, so that tests/browser_check.py can check one claim, one verdict.
"""
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

from glue_figure_from import caption_from_content  # book/_ext is on the path (local_extensions)

HEADERS = ("claim", "paper's number (reported)", "ours", "verdict", "decided in")


def _para(text: str, classes=()) -> nodes.paragraph:
    return nodes.paragraph("", text, classes=list(classes))


def _entry(*children, classes=()) -> nodes.entry:
    entry = nodes.entry(classes=list(classes))
    entry.extend(children)
    return entry


class ClaimsScoreboard(SphinxDirective):
    has_content = True
    option_spec = {"name": directives.unchanged, "notebooks": directives.unchanged}

    def run(self):
        from littlebig_utils.book import claims
        from littlebig_utils.book.verdicts import LABELS, claim_class, label_slug

        pattern = self.options.get("notebooks", "generated/*.ipynb")
        paths = sorted(Path(self.env.srcdir).glob(pattern))
        for path in paths:
            self.env.note_dependency(str(path))
        try:
            board = claims.scoreboard(claims.records_from_notebooks(paths))
        except ValueError as e:
            raise self.error(f"claims scoreboard: {e}") from None

        table = nodes.table(classes=["lb-scoreboard", "lb-wide", "colwidths-auto"])
        table += [n for n in caption_from_content(self, nodes.title) if isinstance(n, nodes.title)]
        group = nodes.tgroup(cols=len(HEADERS))
        table += group
        for _ in HEADERS:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        row = nodes.row()
        head += row
        for text in HEADERS:
            row += _entry(_para(text))
        body = nodes.tbody()
        group += body
        for rec in board.itertuples(index=False):
            row = nodes.row(ids=[f"claim-row-{rec.claim}"])
            who = nodes.paragraph()
            who += nodes.strong("", f"{rec.paper}, {rec.source}")
            who += nodes.Text(f": {rec.statement} ")
            who += nodes.literal("", rec.claim)
            row += _entry(who)
            row += _entry(_para(rec.reported))
            row += _entry(_para(rec.ours))
            if rec.verdict in LABELS:
                classes = ["lb-verdict", "verdict-" + label_slug(rec.verdict), claim_class(rec.claim)]
            else:
                classes = ["lb-not-computed"]
            row += _entry(_para(rec.verdict), classes=classes)
            ref = addnodes.pending_xref("", nodes.inline("", ""), refdomain="std", reftype="doc",
                                        reftarget="/" + rec.doc, refexplicit=False,
                                        refwarn=True, refdoc=self.env.docname)
            last = _entry(nodes.paragraph("", "", ref))
            last["lb_doc"] = rec.doc
            row += last
            body += row
        self.add_name(table)
        return [table]


def _short_links(app, doctree, docname):
    """The last column links to each chapter by its number and the part of its title before a
    colon ("3. Figure 3", "4. All pairs"): the full titles would make it the widest column."""
    for table in doctree.findall(nodes.table):
        if "lb-scoreboard" not in table["classes"]:
            continue
        for row in table.findall(nodes.row):
            last = row.children[-1]
            number = app.env.toc_secnumbers.get(last.get("lb_doc", ""), {}).get("")
            for ref in last.findall(nodes.reference):
                text = ref.astext()
                short = text.split(":")[0].strip() if ":" in text else text
                if number:
                    short = ".".join(map(str, number)) + ". " + short
                ref.children = [nodes.inline("", short)]
                ref["reftitle"] = text


def setup(app):
    app.add_directive("claims-scoreboard", ClaimsScoreboard)
    app.connect("doctree-resolved", _short_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""`{glue-figure-from}`: a numbered figure, with alt text, of an image glued in another notebook.

myst-nb's ``{glue:figure}`` only pastes from the same document, and its cross-document
``{glue}`` directive gives the image its file path as alt text. The landing page shows a
figure made by a chapter notebook, so:

    ```{glue-figure-from} fig_reduction_vs_gap
    :doc: generated/all_pairs.ipynb
    :alt: Scatter plot of MACs reduction against the accuracy gap ...
    :name: fig-landing

    Caption.
    ```
"""
from docutils import nodes
from docutils.parsers.rst import Directive, directives


class GlueFigureFrom(Directive):
    required_arguments = 1
    has_content = True
    option_spec = {"doc": directives.unchanged_required, "alt": directives.unchanged_required,
                   "name": directives.unchanged}

    def run(self):
        from myst_nb.ext.glue.utils import create_pending_glue_ref
        document = self.state.document
        ref = create_pending_glue_ref(document, self.state_machine.get_source(self.lineno),
                                      self.lineno, self.options["doc"], self.arguments[0])
        figure = nodes.figure()
        figure["lb_alt"] = self.options["alt"]
        figure += ref
        figure += caption_from_content(self, nodes.caption)
        self.add_name(figure)
        return [figure]


def caption_from_content(directive, node_class) -> list:
    """The directive's content as [caption, *rest]: its first paragraph becomes a `node_class`
    (nodes.caption of a figure, nodes.title of a table), the rest follows as parsed."""
    if not directive.content:
        return []
    holder = nodes.Element()
    directive.state.nested_parse(directive.content, directive.content_offset, holder)
    first = holder.children[0] if holder.children else None
    if not isinstance(first, nodes.paragraph):
        return list(holder.children)
    caption = node_class(first.rawsource, "", *first.children)
    caption.source, caption.line = first.source, first.line
    return [caption, *holder.children[1:]]


def _set_alt(app, doctree, docname):
    for figure in doctree.findall(nodes.figure):
        alt = figure.get("lb_alt")
        if alt:
            for image in figure.findall(nodes.image):
                image["alt"] = alt


def setup(app):
    app.add_directive("glue-figure-from", GlueFigureFrom)
    app.connect("doctree-resolved", _set_alt)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

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
        if self.content:
            caption_text = nodes.Element()
            self.state.nested_parse(self.content, self.content_offset, caption_text)
            first = caption_text.children[0] if caption_text.children else None
            if isinstance(first, nodes.paragraph):
                caption = nodes.caption(first.rawsource, "", *first.children)
                caption.source, caption.line = first.source, first.line
                figure += caption
                figure += caption_text.children[1:]
        self.add_name(figure)
        return [figure]


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

"""Drop duplicate <script> entries from each page.

jupyter-book 1.x registers sphinx-thebe's inline configuration twice, and the second
`const THEBE_JS_URL = ...` is a JavaScript error on every page. Keeping the first copy of each
identical script leaves the page as intended and its console clean.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # inline scripts come as filename None or '' depending on who added them
        key = (getattr(js, "filename", None) or "",
               tuple(sorted((getattr(js, "attributes", {}) or {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept  # in place: handlers that run later still add to the same list


def setup(app):
    # early: html-page-context stops at the first handler that returns a template name
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

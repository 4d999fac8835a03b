"""Figure and table numbers of the unnumbered pages that never read like the papers' own.

Numbered chapters number their figures "Figure 3.1", "Table 3.1" (numfig_secnum_depth 1), so
that they are never mistaken for the paper's "Figure 3" or "Table 2". Pages outside the numbered
parts (the landing page, the notation page) would get a bare, shared counter: the landing
page's first figure would be "Figure 1", which is the paper's Figure 1. Here each such page
gets its own prefix and its own count (config ``littlebig_number_prefix``: docname -> prefix),
e.g. "Figure 0.1" and "Table 0.2" on the landing page, "Table N.1" on the notation page.
"""


def _renumber(app, env):
    prefixes = app.config.littlebig_number_prefix or {}
    for docname, prefix in prefixes.items():
        for numbers in env.toc_fignumbers.get(docname, {}).values():
            ordered = sorted(numbers.items(), key=lambda item: tuple(int(n) for n in item[1]
                                                                     if str(n).isdigit()))
            for i, (figure_id, _) in enumerate(ordered, 1):
                numbers[figure_id] = (prefix, i)
    return []


def setup(app):
    app.add_config_value("littlebig_number_prefix", {}, "env")
    # after sphinx's TocTreeCollector has assigned the numbers (default priority 500)
    app.connect("env-get-updated", _renumber, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

/* littlebig book: tables that fit their column, captions outside scroll boxes, and figures
   that open full size. No external assets; checked by tests/browser_check.py at 1400 and 390 px.

   Tables. Each table caption moves out of the table, above its scroll box (a caption inside a
   table is as wide as the table, so a scrolled table clips it), with the table's id (links to
   the table land on its caption) and as the table's aria-labelledby. Then, while a table is wider
   than its box, it gets the next of these classes (book/_static/littlebig.css):
     lb-fit-1   smaller type, tighter cells, headers and text cells wrap
     lb-fit-2   smaller still, every cell may wrap
     lb-full    (wide screens) the theme's full width: the column plus the right margin
     lb-stack   one card per row, each cell labelled with its column header (the phone layout)
   Tables with merged cells are not stacked: they keep a sticky first column and a scroll cue.
   A table marked lb-wide (the landing page's scoreboard) gets lb-full on wide screens at once.
   Everything is measured again when the window is resized.

   Figures. Every content image is wrapped in a link to the image file; a click opens it at
   full size in a lightbox (Escape, the close button or a click outside closes it); the link
   itself works without JavaScript. */
(function () {
  "use strict";

  const ROOT = ".bd-article";
  const SKIP = ".highlighttable, .lb-explorer, .lb-lightbox";

  function root() {
    return document.querySelector(ROOT) || document.querySelector("article, main") || document.body;
  }

  function boxOf(table) {
    return table.closest(".pst-scrollable-table-container, .table-wrapper") ||
      (table.classList.contains("dataframe") ? table : table.parentElement);
  }

  function tooWide(table) {
    const box = boxOf(table);
    // a full-width box may reach past the text column, into the margin: it is its own limit
    const limit = (box.classList.contains("lb-full") ? box : root()).getBoundingClientRect();
    return box.scrollWidth > box.clientWidth + 1 || table.getBoundingClientRect().right > limit.right + 1;
  }

  // ------------------------------------------------------------------ captions
  let captionCount = 0;

  function liftCaption(table) {
    const cap = table.querySelector(":scope > caption");
    if (!cap) return;
    const box = boxOf(table) === table ? table : boxOf(table);
    const div = document.createElement("div");
    div.className = "lb-table-caption caption " + cap.className;
    // the table's id moves to its caption: a link to "Table 3.1" shows the caption first
    div.id = table.id || "lb-caption-" + (++captionCount);
    if (table.id) table.removeAttribute("id");
    while (cap.firstChild) div.appendChild(cap.firstChild);
    box.parentNode.insertBefore(div, box);
    cap.remove();
    table.setAttribute("aria-labelledby", div.id);
  }

  // ------------------------------------------------------------------ stacked rows
  function simple(table) {
    return !table.querySelector("[colspan]:not([colspan='1']), [rowspan]:not([rowspan='1'])") &&
      (table.tHead ? table.tHead.rows.length === 1 : true);
  }

  function labelCells(table) {
    const head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    const labels = head ? Array.from(head.cells).map(c => c.textContent.replace(/\s+/g, " ").trim()) : [];
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        Array.from(row.cells).forEach((cell, i) => {
          if (labels[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", labels[i]);
        });
      }
    }
  }

  // model names such as mobilenetv3_large_100 may break after an underscore, never mid-word
  function breakableNames(table) {
    const walker = document.createTreeWalker(table, NodeFilter.SHOW_TEXT);
    const nodes = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode())
      if (/[A-Za-z0-9]_[A-Za-z0-9]/.test(n.nodeValue) && !n.parentElement.closest("wbr")) nodes.push(n);
    for (const n of nodes) {
      const parts = n.nodeValue.split(/(?<=_)/);
      if (parts.length < 2) continue;
      const frag = document.createDocumentFragment();
      parts.forEach((p, i) => {
        frag.appendChild(document.createTextNode(p));
        if (i < parts.length - 1) frag.appendChild(document.createElement("wbr"));
      });
      n.parentNode.replaceChild(frag, n);
    }
  }

  const STEPS = ["lb-fit-1", "lb-fit-2", "lb-full", "lb-stack"];

  function fit(table) {
    const box = boxOf(table);
    table.classList.remove(...STEPS, "lb-scroll");
    box.classList.remove("lb-full", "lb-scroll-box");
    const wide = window.innerWidth >= 1200;
    if (wide && table.classList.contains("lb-wide") && box !== table) box.classList.add("lb-full");
    if (!tooWide(table)) return;
    for (const step of STEPS) {
      if (step === "lb-full" && (!wide || box === table)) continue;
      if (step === "lb-stack" && !simple(table)) {
        table.classList.add("lb-scroll");
        box.classList.add("lb-scroll-box");
        return;
      }
      if (step === "lb-full") box.classList.add("lb-full");
      else table.classList.add(step);
      if (!tooWide(table)) return;
    }
  }

  function layoutTables() {
    for (const table of root().querySelectorAll("table")) {
      if (table.closest(SKIP)) continue;
      fit(table);
    }
  }

  // ------------------------------------------------------------------ figures open full size
  let box = null;

  function closeBox() {
    if (!box) return;
    box.remove();
    box = null;
    document.body.classList.remove("lb-lightbox-open");
    if (closeBox.opener) closeBox.opener.focus();
  }

  function openBox(link, img) {
    closeBox();
    closeBox.opener = link;
    box = document.createElement("div");
    box.className = "lb-lightbox";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", "Figure at full size");
    const close = document.createElement("button");
    close.type = "button";
    close.className = "lb-lightbox-close";
    close.setAttribute("aria-label", "Close the full-size figure");
    close.textContent = "×";
    const full = document.createElement("img");
    full.src = link.href;
    full.alt = img.alt;
    const frame = document.createElement("div");
    frame.className = "lb-lightbox-frame";
    frame.appendChild(full);
    box.appendChild(close);
    box.appendChild(frame);
    box.addEventListener("click", e => { if (e.target === box || e.target === frame || e.target === close) closeBox(); });
    document.body.appendChild(box);
    document.body.classList.add("lb-lightbox-open");
    close.focus();
  }

  function zoomable(img) {
    if (img.closest("a[href]") || img.closest(".lb-lightbox")) return;
    const link = document.createElement("a");
    link.href = img.currentSrc || img.src;
    link.className = "lb-zoom";
    link.setAttribute("aria-label", "Open the figure at full size");
    img.parentNode.insertBefore(link, img);
    link.appendChild(img);
    img.setAttribute("data-lb-zoom", "");
    link.addEventListener("click", e => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;  // new tab: the link
      e.preventDefault();
      openBox(link, img);
    });
  }

  // ------------------------------------------------------------------ start
  function start() {
    const r = root();
    for (const table of r.querySelectorAll("table")) {
      if (table.closest(SKIP)) continue;
      liftCaption(table);
      labelCells(table);
      breakableNames(table);
    }
    for (const img of r.querySelectorAll("img")) zoomable(img);
    layoutTables();
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(layoutTables, 150);
    });
    document.addEventListener("keydown", e => { if (e.key === "Escape") closeBox(); });
    // fonts and typeset math change widths after load
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(layoutTables);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise)
      MathJax.startup.promise.then(layoutTables);
    document.documentElement.classList.add("lb-ready");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

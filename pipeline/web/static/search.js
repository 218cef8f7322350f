// Search page: results as the user types (debounced, newest answer wins), filters, order.
// Every transcript string goes into the page as text (textContent), never as markup.
"use strict";
(function () {
  const form = document.getElementById("search-form");
  const q = document.getElementById("q");
  const speaker = document.getElementById("speaker");
  const video = document.getElementById("video");
  const order = document.getElementById("order");
  const status = document.getElementById("status");
  const list = document.getElementById("hits");
  let seq = 0;
  let timer = null;
  let controller = null;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function params() {
    const p = new URLSearchParams();
    p.set("q", q.value.trim());
    if (speaker.value) p.set("speaker", speaker.value);
    if (video.value) p.set("video", video.value);
    if (order.value === "time") p.set("order", "time");
    return p;
  }

  function render(data, query) {
    list.replaceChildren();
    const n = data.count;
    let line = n === 0 ? "no hits for " + query : (data.more ? n + "+ hits" : n + (n === 1 ? " hit" : " hits"));
    if (n && !data.exact_found) line += " (no exact match; these sound or are spelled alike)";
    if (data.suggestions && data.suggestions.length && !data.exact_found) line += " · did you mean: " + data.suggestions.join(", ");
    status.textContent = line;
    status.classList.remove("error");
    for (const h of data.hits) {
      const li = el("li");
      const a = el("a", "hit");
      a.href = h.href;
      a.dataset.start = h.start;
      a.dataset.video = h.video;
      const meta = el("div", "hit-meta");
      meta.append(el("span", "video", h.video), el("span", "time", h.clock), el("span", "speaker", h.speaker || "-"));
      if (h.match !== "exact" && h.match !== "stem") meta.append(el("span", "match", h.match));
      const text = el("div", "hit-sentence");
      for (const [chunk, marked] of h.parts) text.append(marked ? el("mark", null, chunk) : document.createTextNode(chunk));
      a.append(meta, text);
      li.append(a);
      list.append(li);
    }
  }

  async function run() {
    const query = q.value.trim();
    const p = params();
    history.replaceState(null, "", query ? "/?" + p.toString() : "/");
    if (!query) { list.replaceChildren(); status.textContent = ""; return; }
    const mine = ++seq;
    if (controller) controller.abort();
    controller = new AbortController();
    const t0 = performance.now();
    try {
      const r = await fetch("/ui/search?" + p.toString(), { signal: controller.signal, headers: { Accept: "application/json" } });
      const data = await r.json();
      if (mine !== seq) return;
      if (!r.ok) { list.replaceChildren(); status.textContent = data.error; status.classList.add("error"); return; }
      render(data, query);
      status.dataset.ms = Math.round(performance.now() - t0);
    } catch (e) {
      if (e.name !== "AbortError" && mine === seq) { status.textContent = "search failed: " + e; status.classList.add("error"); }
    }
  }

  function soon() { clearTimeout(timer); timer = setTimeout(run, 180); }

  async function fillFilters() {
    const r = await fetch("/api/videos");
    if (!r.ok) return;
    const rows = await r.json();
    const names = new Set();
    const keepSpeaker = speaker.value, keepVideo = video.value;
    for (const row of rows) {
      if (row.state !== "done") continue;
      for (const s of row.speakers) names.add(s);
      if (row.video !== keepVideo) video.append(new Option(row.video, row.video));
    }
    for (const s of [...names].sort()) if (s !== keepSpeaker) speaker.append(new Option(s, s));
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(timer); run(); });
  q.addEventListener("input", soon);
  for (const s of [speaker, video, order]) s.addEventListener("change", run);
  fillFilters();
  if (q.value.trim()) run();
})();

// Video page: start at ?t=, mark the hit, highlight the word being spoken, follow playback,
// click a word to seek, double-click to correct its sentence, rename speakers in place.
// Transcript strings only ever enter the page through textContent.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const player = document.getElementById("player");
  const pane = document.getElementById("transcript");
  const follow = document.getElementById("follow");
  const message = document.getElementById("message");
  const hint = document.getElementById("play-hint");
  let words = [];
  let starts = [];
  let current = null;
  let lastUserScroll = -1e9;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function say(text, isError) { message.textContent = text; message.classList.toggle("error", !!isError); }

  function collect() {
    words = Array.from(pane.querySelectorAll(".w"));
    starts = words.map((w) => parseFloat(w.dataset.s));
  }

  // The last word that has started by time t (binary search), or -1.
  function wordAt(t) {
    let lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= t + 0.02) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function scrollTo(w, force) {
    if (!force && (!follow.checked || performance.now() - lastUserScroll < 4000)) return;
    const top = w.offsetTop, view = pane.scrollTop, h = pane.clientHeight;
    if (force || top < view + h * 0.15 || top > view + h * 0.75) {
      pane.scrollTo({ top: Math.max(0, top - h / 3), behavior: force ? "auto" : "smooth" });
    }
  }

  function update() {
    const i = wordAt(player.currentTime);
    let w = i >= 0 ? words[i] : null;
    if (w && player.currentTime > parseFloat(w.dataset.e) + 0.6) w = null; // a pause: nothing is being said
    if (w !== current) {
      if (current) current.classList.remove("now");
      if (w) { w.classList.add("now"); scrollTo(w, false); }
      current = w;
    }
  }
  function loop() { update(); if (!player.paused && !player.ended) requestAnimationFrame(loop); }

  function play() {
    const p = player.play();
    if (p && p.catch) p.then(() => { hint.hidden = true; }).catch(() => { hint.hidden = false; });
  }

  function seek(t) {
    delete player.dataset.seekedAt;
    player.addEventListener("seeked", () => { player.dataset.seekedAt = String(player.currentTime); }, { once: true });
    player.currentTime = Math.max(0, t);
    player.dataset.lastSeek = String(t);
    update();
    play();
  }

  // ---- the hit: marked in the transcript and shown above it
  function markHit() {
    if (data.hitStart === null || data.hitStart === undefined) return null;
    // words that start inside [hitStart, hitEnd): the next word may start exactly at hitEnd
    const a = data.hitStart - 0.005, b = Math.max(data.hitEnd - 0.01, data.hitStart + 0.005);
    let first = null;
    for (const w of words) {
      const s = parseFloat(w.dataset.s);
      if (s >= a && s < b) { w.classList.add("hit"); first = first || w; }
    }
    if (!first) { const i = wordAt(data.hitStart); if (i >= 0) { first = words[i]; first.classList.add("hit"); } }
    const box = document.getElementById("hit-text");
    if (first && box) {
      const seg = first.closest(".seg");
      const turn = first.closest(".turn");
      const who = turn ? turn.querySelector(".spk-name").textContent : "";
      box.replaceChildren(el("strong", null, who + ": "));
      for (const w of seg.querySelectorAll(".w")) {
        box.append(w.classList.contains("hit") ? el("mark", null, w.textContent) : document.createTextNode(w.textContent));
        box.append(document.createTextNode(" "));
      }
    }
    return first;
  }

  // ---- start at ?t= and play
  function start() {
    const first = markHit();
    if (data.t === null || data.t === undefined) { if (first) scrollTo(first, true); return; }
    const go = () => {
      player.addEventListener("seeked", () => { player.dataset.startedAt = String(player.currentTime); }, { once: true });
      player.currentTime = data.t;
      play();
    };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
    const target = first || words[Math.max(0, wordAt(data.t))];
    if (target) scrollTo(target, true);
  }

  // ---- correcting a segment
  function renderSegment(seg, segWords) {
    seg.replaceChildren();
    for (const w of segWords) {
      const span = el("span", "w", w.word);
      span.dataset.s = w.start;
      span.dataset.e = w.end;
      seg.append(span, document.createTextNode(" "));
    }
  }

  function openEditor(seg) {
    if (seg.nextElementSibling && seg.nextElementSibling.classList.contains("seg-editor")) return;
    const box = el("span", "seg-editor");
    const area = el("textarea");
    area.value = seg.dataset.text;
    area.rows = Math.max(2, Math.ceil(area.value.length / 70));
    const save = el("button", "save", "Save"), cancel = el("button", "cancel", "Cancel");
    save.type = cancel.type = "button";
    box.append(area, save, cancel);
    seg.hidden = true;
    seg.after(box);
    area.focus();
    const close = () => { box.remove(); seg.hidden = false; };
    cancel.addEventListener("click", close);
    area.addEventListener("keydown", (e) => {
      if (e.key === "Escape") close();
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); save.click(); }
    });
    save.addEventListener("click", async () => {
      save.disabled = true;
      try {
        const r = await fetch(`/api/videos/${encodeURIComponent(data.video)}/segments/${seg.dataset.i}`, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ text: area.value, base: seg.dataset.text }),
        });
        const body = await r.json();
        if (!r.ok) { say(body.error, true); save.disabled = false; return; }
        seg.dataset.text = body.text;
        renderSegment(seg, body.words);
        seg.classList.add("edited");
        collect();
        close();
        reloadTrack();
        say("Saved; the index is updated.");
      } catch (e) { say("saving failed: " + e, true); save.disabled = false; }
    });
  }

  // ---- renaming a speaker
  function reloadTrack() {
    const track = player.querySelector("track");
    if (track) track.src = track.src.split("?")[0] + "?v=" + Date.now();
  }

  function openRename(button) {
    const label = button.dataset.label;
    const nameEl = button.parentElement.querySelector(".spk-name");
    const input = el("input", "rename-input");
    input.value = nameEl.textContent;
    input.setAttribute("aria-label", "New name for " + label);
    nameEl.hidden = true;
    button.hidden = true;
    nameEl.after(input);
    input.focus();
    input.select();
    const close = () => { input.remove(); nameEl.hidden = false; button.hidden = false; };
    input.addEventListener("keydown", async (e) => {
      if (e.key === "Escape") close();
      if (e.key !== "Enter") return;
      e.preventDefault();
      const r = await fetch(`/api/videos/${encodeURIComponent(data.video)}/speakers`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ speaker: label, name: input.value }),
      });
      const body = await r.json();
      if (!r.ok) { say(body.error, true); return; }
      const shown = body.speakers.find((s) => s.label === label).name;
      for (const n of document.querySelectorAll(`.spk-name[data-label="${CSS.escape(label)}"]`)) n.textContent = shown;
      close();
      reloadTrack();
      say(`${label} is now “${shown}”.`);
    });
  }

  // ---- events
  pane.addEventListener("click", (e) => {
    const w = e.target.closest(".w");
    if (w && e.detail === 1) seek(parseFloat(w.dataset.s));
  });
  pane.addEventListener("dblclick", (e) => {
    const seg = e.target.closest(".seg");
    if (seg) { e.preventDefault(); openEditor(seg); }
  });
  for (const b of document.querySelectorAll("button.rename")) b.addEventListener("click", () => openRename(b));
  for (const ev of ["wheel", "touchmove"]) pane.addEventListener(ev, () => { lastUserScroll = performance.now(); }, { passive: true });
  player.addEventListener("play", () => requestAnimationFrame(loop));
  player.addEventListener("seeked", update);
  player.addEventListener("timeupdate", update);

  collect();
  start();
})();

/* Modiste UI: a few page behaviours over the /v1 API. No framework, no build step. */
"use strict";

const KEY = "modiste-api-key";
const COOKIE = "modiste_key"; // read-only use on the server: page loads and images

function setKeyCookie(value) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const life = value ? "; max-age=31536000" : "; max-age=0";
  document.cookie = `${COOKIE}=${encodeURIComponent(value)}; path=/; SameSite=Strict${life}${secure}`;
}
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function toast(msg, bad = false) {
  const t = $("#toast");
  t.textContent = msg;
  t.classList.toggle("bad", bad);
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 4000);
}

/** fetch against the API; sends the stored key; throws {status, detail} on problems. */
async function api(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  const key = localStorage.getItem(KEY);
  if (key) headers.set("X-API-Key", key);
  if (opts.json !== undefined) {
    headers.set("Content-Type", "application/json");
    opts.body = JSON.stringify(opts.json);
  }
  const res = await fetch(path, { ...opts, headers });
  if (res.status === 204) return null;
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.detail || res.statusText);
    err.status = res.status;
    err.type = String(body.type || "");
    err.errors = Array.isArray(body.errors) ? body.errors : [];
    throw err;
  }
  return body;
}

const FIELDS = {
  q: "The search text", category: "The category", gender: "The gender", seller: "The seller",
  min_price: "The minimum price", max_price: "The maximum price", file: "The photo",
};

/** A 422 from the API's field checks ("query.q: String should have at most 200 characters") in words. */
function explainInvalid(err) {
  const e = err.errors[0] || {};
  const loc = Array.isArray(e.loc) ? e.loc : [];
  const field = FIELDS[loc[loc.length - 1]] || "One of the search fields";
  const msg = String(e.msg || "");
  const most = /at most (\d+) character/.exec(msg);
  if (most) return `${field} is too long: ${most[1]} characters at most.`;
  const least = /greater than or equal to (\S+)/.exec(msg);
  if (least) return `${field} must be ${least[1]} or more.`;
  return `${field} is not valid: please check it.`;
}

/** A byte count as people read it: 15728640 is "15 MB", 2048 "2 KB". */
function fileSize(bytes) {
  if (bytes < 1048576) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${Math.round((10 * bytes) / 1048576) / 10} MB`;
}

/** Any API problem as a sentence for people: never a field path, a byte count or a stack. */
function explain(err) {
  if (err.status === 422 && err.type.endsWith("/validation")) return explainInvalid(err);
  if (err.status === 415 || (err.status === 422 && err.type.endsWith("/image-decode")))
    return "That file could not be read as a photo: try a JPEG, PNG or WebP image.";
  if (err.status === 413) {
    const cap = /larger than (\d+) bytes/.exec(err.message);
    return cap ? `That photo is too large to search: ${fileSize(Number(cap[1]))} at most.`
               : "That photo is too large to search: try a smaller one.";
  }
  if (err.status === 429) return "Too many searches in a short time: please wait a minute and try again.";
  if (err.status >= 500 && err.status !== 503) return "Something went wrong on the server: please try again.";
  if (err.status === 401) return "This change needs an API key: open “API key” at the top.";
  if (err.status === 403) return "Your API key cannot make this change: it needs a key with the write scope (or admin).";
  if (err.status === 503) return err.message.charAt(0).toUpperCase() + err.message.slice(1) + ".";
  return err.message || "Something went wrong";
}

/** An href/src from data: http(s) or a path on this site, else "" (no javascript:/data:). */
function safeUrl(u) {
  if (typeof u !== "string" || /[\u0000-\u001f\u007f\\]/.test(u)) return "";
  try {
    const url = new URL(u.trim(), location.origin);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : "";
  } catch {
    return "";
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "href" || k === "src") node.setAttribute(k, safeUrl(String(v)));
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

/** "1 product", "2 products". */
function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** A price as shoppers read it ("$79.00", "¥1,299"), as the pages' `money` filter writes it. */
function money(p) {
  if (p.price == null) return "";
  try {
    if (p.currency) return new Intl.NumberFormat("en", { style: "currency", currency: p.currency }).format(p.price);
  } catch { /* not an ISO 4217 code: the amount and the code as given */ }
  return `${p.price.toFixed(2)} ${p.currency || ""}`.trim();
}

/** A detected garment's name for people: the fallback crop is the whole photo. */
function garmentName(label) {
  return label === "whole_image" ? "whole photo" : String(label).replace(/_/g, " ");
}

function card(hit) {
  const p = hit.product || { id: hit.product_id, title: `#${hit.product_id}` };
  const img = p.thumb_url ? el("img", { src: p.thumb_url, alt: "", loading: "lazy" })
                          : el("span", { class: "noimg" }, "no photo");
  return el("li", { class: "card" },
    el("a", { href: `/products/${p.id}` }, img,
      el("span", { class: "title" }, p.title || `#${p.id}`),
      el("span", { class: "sub" }, [p.product_type, p.seller].filter(Boolean).join(" · ")),
      el("span", { class: "price" }, money(p))));
}

function showHits(list, note, hits, empty) {
  list.replaceChildren(...hits.map(card));
  note.textContent = hits.length ? "" : empty;
}

/* ---- API key form -------------------------------------------------------------------- */
function initKey() {
  const state = $("#key-state");
  const paint = () => {
    const key = localStorage.getItem(KEY);
    state.textContent = key ? "API key ✓" : "API key";
    // Links for staff (gallery review) on shopper pages: only in a browser that holds a key.
    $$(".staff-only").forEach((a) => { a.hidden = !key; });
  };
  paint();
  $("#key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("#api-key").value.trim();
    if (v) {
      localStorage.setItem(KEY, v);
      setKeyCookie(v);
      $("#read-only")?.remove();
    }
    $("#api-key").value = "";
    paint();
    $("#keybox").open = false;
    toast(v ? "API key saved in this browser" : "No key entered");
    if (v && document.body.dataset.page === "error") location.reload(); // a private catalog
  });
  $("#key-forget").addEventListener("click", () => {
    localStorage.removeItem(KEY);
    setKeyCookie("");
    paint();
    toast("API key forgotten");
  });
}

/* ---- shopper search ------------------------------------------------------------------ */
function filterParams() {
  const data = new FormData($("#filters"));
  const out = {};
  for (const [k, v] of data.entries()) if (v !== "") out[k] = v;
  return out;
}

/** The smallest of `boxes` (x1, y1, x2, y2) holding the point, or -1: a covered top or bag wins over the coat around it. */
function smallestBoxAt(boxes, x, y) {
  let best = -1, bestArea = Infinity;
  boxes.forEach((b, i) => {
    if (x < b.x1 || x > b.x2 || y < b.y1 || y > b.y2) return;
    const area = (b.x2 - b.x1) * (b.y2 - b.y1);
    if (area < bestArea) { best = i; bestArea = area; }
  });
  return best;
}

/** The chosen order of text results, left out of URLs when it is the default. */
function sortParam() {
  const v = $("#sort").value;
  return v && v !== "relevance" ? { sort: v } : {};
}

/** The search as a URL ("/?q=jacket&gender=men"): shareable, and what Back returns to. */
function searchUrl(q) {
  const params = new URLSearchParams({ q, ...filterParams(), ...sortParam() });
  return `/?${params}`;
}

/** Fill the words and filters from the address bar; false if it names no search. */
function readUrl() {
  const params = new URLSearchParams(location.search);
  for (const field of $("#filters").elements) {
    if (!field.name) continue;
    const v = params.get(field.name) || "";
    // a value the list does not offer (an old link) falls back to "Any"
    if (field.tagName === "SELECT" && !Array.from(field.options).some((o) => o.value === v)) field.value = "";
    else field.value = v;
  }
  const q = (params.get("q") || "").trim();
  $("#q").value = q;
  const sort = params.get("sort") || "relevance";
  $("#sort").value = Array.from($("#sort").options).some((o) => o.value === sort) ? sort : "relevance";
  return q;
}

/** Scroll a search's answer into view, unless a person asked for less motion. */
function reveal(node) {
  const calm = matchMedia("(prefers-reduced-motion: reduce)").matches;
  node.scrollIntoView({ block: "start", behavior: calm ? "auto" : "smooth" });
}

/** Phones get the filters folded (the results belong on the first screen); the summary says
    how many are set, so folded filters are never forgotten. */
function initFilterBox() {
  const box = $("#filter-box"), count = $("#filter-count");
  const paint = () => {
    const n = Object.keys(filterParams()).length;
    count.textContent = n ? `· ${n} set` : "";
  };
  if (matchMedia("(max-width: 600px)").matches) box.open = false;
  $("#filters").addEventListener("change", paint);
  window.addEventListener("popstate", paint);
  return paint;
}

function initSearch() {
  const list = $("#results"), note = $("#results-note"), more = $("#more");
  const paintFilters = initFilterBox();
  let page = 1, lastQuery = "", objects = [], lastFile = null, photoSize = null, picked = "";
  let crop = null, drawing = null; // a box drawn by hand on the photo (its pixels), and one in progress
  let latest = 0; // only the newest search may draw: Back, filters and typing race
  // A photo is no URL: each photo search is a history entry {photo: n} whose file and answer
  // stay here, so Back and Forward show it again (after a reload they are gone: say so).
  const photos = new Map();
  let photoEntry = 0;

  /** A text search forgets the photo: its boxes would sit above unrelated results. */
  function closePhoto() {
    $("#results-tools").hidden = true;
    lastFile = null;
    objects = [];
    crop = null;
    $("#whole-photo").hidden = true;
    const preview = $("#photo-preview");
    if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
    preview.removeAttribute("src");
    $("#boxes").replaceChildren();
    $("#garments").replaceChildren();
    $("#photo-panel").hidden = true;
  }

  /** Search for `q` and record it in the history (a new entry unless it is already the URL). */
  function runText(q, push) {
    closePhoto();
    lastQuery = q;
    const url = searchUrl(q);
    if (push && url !== location.pathname + location.search) history.pushState({ q }, "", url);
    textSearch(true);
  }

  /** Back and Forward, or a shared link: show what the URL (or the photo entry) says. */
  function fromUrl() {
    const q = readUrl();
    if (q) { runText(q, false); return; }
    closePhoto();
    lastQuery = "";
    latest += 1;
    list.replaceChildren();
    more.hidden = true;
    const entry = history.state && history.state.photo;
    if (entry && photos.has(entry)) { showPhoto(entry); return; }
    note.textContent = entry ? "That photo search is no longer kept here: choose the photo again."
                             : "Search by words or with a photo.";
  }

  /** A photo search from the history: its photo, garments and results as they were. */
  function showPhoto(entry) {
    const kept = photos.get(entry);
    photoEntry = entry;
    lastFile = kept.file;
    picked = kept.picked;
    setCrop(kept.crop || null);
    $("#photo-preview").src = URL.createObjectURL(kept.file);
    $("#photo-panel").hidden = false;
    if (!kept.res) { photoSearch(kept.file); return; } // left before its answer came
    objects = kept.res.objects;
    drawGarments(kept.res);
    if (objects.length) pick(Math.max(0, objects.findIndex((o) => o.label === picked)));
    else note.textContent = "No garment found in this photo.";
  }

  async function textSearch(reset) {
    if (reset) page = 1;
    const params = new URLSearchParams({ q: lastQuery, page, per_page: 24, ...filterParams(),
                                         ...sortParam(), facets: String(reset) });
    note.textContent = "Searching…";
    const ticket = ++latest;
    try {
      const res = await api(`/v1/search/text?${params}`);
      if (ticket !== latest) return;
      if (reset) { list.replaceChildren(); drawFacets(res); }
      res.hits.forEach((h) => list.append(card(h)));
      note.textContent = res.total ? `${plural(res.total, "product")} for “${res.query}”` : `Nothing found for “${res.query}”.`;
      more.hidden = page * res.per_page >= res.total;
    } catch (err) {
      if (ticket !== latest) return;
      list.replaceChildren();
      more.hidden = true;
      note.textContent = explain(err);
    }
  }
  $("#text-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("#q").value.trim();
    if (q) runText(q, true);
  });
  more.addEventListener("click", () => { page += 1; textSearch(false); });
  $("#sort").addEventListener("change", () => { if (lastQuery) runText(lastQuery, true); });

  /** Counts per category, gender and seller under the results; a tap sets that filter. */
  function drawFacets(res) {
    const box = $("#facets"), tools = $("#results-tools");
    const names = { category: "Category", gender: "Gender", seller: "Seller" };
    const groups = [];
    for (const [name, counts] of Object.entries(res.facets || {})) {
      const select = $(`#filters select[name=${name}]`);
      const known = (v) => Array.from(select.options).find((o) => o.value.toLowerCase() === v.toLowerCase());
      const chips = counts.filter((c) => known(c.value) && known(c.value).value !== select.value).map((c) => {
        const b = el("button", { type: "button", class: "chip facet" },
          `${known(c.value).textContent.trim()} `, el("span", { class: "count" }, `(${c.count})`));
        b.addEventListener("click", () => {
          select.value = known(c.value).value;
          $("#filters").dispatchEvent(new Event("change"));
        });
        return el("li", {}, b);
      });
      if (chips.length > 1) groups.push(el("div", { class: "facet-group" },
        el("span", { class: "facet-name" }, names[name] || name), el("ul", { class: "chips" }, ...chips)));
    }
    box.replaceChildren(...groups);
    tools.hidden = !res.total;
  }
  // Filters apply to whichever search is on screen: the words, or the photo again.
  $("#filters").addEventListener("change", () => {
    if (lastFile) photoSearch(lastFile);
    else if (lastQuery) runText(lastQuery, true);
  });
  window.addEventListener("popstate", fromUrl);

  function pick(i) {
    $$("#garments button").forEach((b, j) => b.setAttribute("aria-pressed", String(i === j)));
    $$("#boxes .box").forEach((b, j) => b.classList.toggle("picked", i === j));
    const o = objects[i];
    picked = o.label;
    if (photos.has(photoEntry)) photos.get(photoEntry).picked = picked;
    more.hidden = true;
    const name = garmentName(o.label);
    // hits under the relevance floor are not sent: an empty list means nothing looks close
    showHits(list, note, o.hits, `No close match for the ${name} in this catalog.`);
    if (o.hits.length) note.textContent = `Products like the ${name}`;
  }

  // A click or tap on the photo picks the smallest box under it, so boxes lying under others
  // (a top under a coat, a bag over a skirt) stay selectable; the chips do it for keyboards.
  $("#photo-wrap").addEventListener("click", (ev) => {
    if (!photoSize || !objects.length || ev.currentTarget.classList.contains("drawing")) return;
    const r = $("#photo-preview").getBoundingClientRect();
    const x = ((ev.clientX - r.left) / r.width) * photoSize.width;
    const y = ((ev.clientY - r.top) / r.height) * photoSize.height;
    const i = smallestBoxAt(objects.map((o) => o.box), x, y);
    if (i >= 0) pick(i);
  });

  function drawGarments(res) {
    const boxes = $("#boxes"), chips = $("#garments");
    photoSize = { width: res.width, height: res.height };
    boxes.replaceChildren(...objects.map((o) => {
      const b = el("div", { class: "box" }, el("span", {}, garmentName(o.label)));
      // Through the CSSOM: the Content-Security-Policy refuses style="..." attributes.
      Object.assign(b.style, {
        left: `${(100 * o.box.x1) / res.width}%`,
        top: `${(100 * o.box.y1) / res.height}%`,
        width: `${(100 * (o.box.x2 - o.box.x1)) / res.width}%`,
        height: `${(100 * (o.box.y2 - o.box.y1)) / res.height}%`,
      });
      return b;
    }));
    chips.replaceChildren(...objects.map((o, i) => {
      const b = el("button", { type: "button", class: "chip", "aria-pressed": "false" }, garmentName(o.label));
      b.addEventListener("click", () => pick(i));
      return el("li", {}, b);
    }));
  }

  /** Refused in the page, before a byte is sent: not a photo, or over the server's cap. */
  function unfit(file) {
    const cap = Number($("#photo").dataset.maxBytes || 0);
    if (!file.type.startsWith("image/"))
      return `“${file.name}” is not a photo: choose a JPEG, PNG or WebP image.`;
    if (cap && file.size > cap)
      return `That photo is ${fileSize(file.size)}; photos up to ${fileSize(cap)} can be searched.`;
    return "";
  }

  async function photoSearch(file) {
    if (!file) return;
    const refused = unfit(file);
    if (refused) { note.textContent = refused; toast(refused, true); return; }
    const again = file === lastFile;
    lastFile = file;
    lastQuery = "";
    const panel = $("#photo-panel"), preview = $("#photo-preview");
    if (!again) {
      // a photo is no URL: leave the words' address (Back returns to them) for the bare page,
      // as a history entry of its own (the empty start page is replaced, not kept)
      photoEntry = photos.size + 1;
      photos.set(photoEntry, { file, picked: "", res: null });
      const blank = !location.search && !(history.state && history.state.photo);
      history[blank ? "replaceState" : "pushState"]({ photo: photoEntry }, "", "/");
      if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
      preview.src = URL.createObjectURL(file);
      picked = "";
      setCrop(null);
    }
    panel.hidden = false;
    $("#results-tools").hidden = true; // sort and counts are for words, not for a photo
    objects = [];
    $("#boxes").replaceChildren();
    $("#garments").replaceChildren();
    note.textContent = "Looking at your photo…";
    list.replaceChildren();
    const form = new FormData();
    const box = crop;
    if (box) form.append("file", await cropped(file, box), "crop.jpg");
    else form.append("file", file);
    for (const [k, v] of Object.entries(filterParams())) form.append(k, v);
    const ticket = ++latest;
    try {
      let res = await api("/v1/search/image", { method: "POST", body: form });
      if (ticket !== latest) return; // a newer photo, filter or text search came meanwhile
      if (box) res = onPhoto(res, box);
      objects = res.objects;
      if (photos.has(photoEntry)) photos.get(photoEntry).res = res;
      drawGarments(res);
      // a filter change searches again: keep the garment the shopper had picked
      const keep = Math.max(0, objects.findIndex((o) => o.label === picked));
      if (objects.length) pick(keep); else note.textContent = "No garment found in this photo.";
      // the photo and its results, in view after an upload (or the results if both do not fit)
      if (!again) {
        // measure once the photo has its height: before it loads, the panel is short and the
        // results it pushes down would end up below the screen
        await preview.decode().catch(() => {});
        if (ticket !== latest) return;
        const top = panel.getBoundingClientRect().top, res2 = $("#results-title").getBoundingClientRect().top;
        reveal(res2 - top < innerHeight * 0.6 ? panel : $("#results-title"));
      }
    } catch (err) {
      if (ticket !== latest) return;
      note.textContent = explain(err);
      // a photo the server could not read would show as a broken image: say it in words only
      if (err.status === 413 || err.status === 415 || err.status === 422) closePhoto();
    }
  }
  $("#photo").addEventListener("change", (ev) => photoSearch(ev.target.files[0]));

  /* A box drawn by hand: the search sends that part of the photo only (issue #14 item 17). */
  function setCrop(box) {
    crop = box;
    if (photos.has(photoEntry)) photos.get(photoEntry).crop = box;
    $("#whole-photo").hidden = !box;
  }
  /** The part of ``file`` inside ``box`` (pixels of the photo as shown), as a JPEG. */
  async function cropped(file, box) {
    const bitmap = await createImageBitmap(file);
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(box.x2 - box.x1);
    canvas.height = Math.round(box.y2 - box.y1);
    canvas.getContext("2d").drawImage(bitmap, box.x1, box.y1, canvas.width, canvas.height,
                                      0, 0, canvas.width, canvas.height);
    bitmap.close();
    return new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.92));
  }
  /** The answer for a crop, its boxes moved into the whole photo's pixels (drawn there). */
  function onPhoto(res, box) {
    const shift = (b) => ({ x1: b.x1 + box.x1, y1: b.y1 + box.y1, x2: b.x2 + box.x1, y2: b.y2 + box.y1 });
    const preview = $("#photo-preview");
    return { ...res, width: preview.naturalWidth, height: preview.naturalHeight,
             // nothing detected in the box: the box itself was searched, named as such
             objects: res.objects.map((o) => ({ ...o, box: shift(o.box),
                                                label: o.label === "whole_image" ? "drawn_box" : o.label })) };
  }
  /** A pointer position in the photo's own pixels. */
  function photoPoint(ev) {
    const preview = $("#photo-preview"), r = preview.getBoundingClientRect();
    const clamp = (v, hi) => Math.max(0, Math.min(hi, v));
    return { x: clamp(((ev.clientX - r.left) / r.width) * preview.naturalWidth, preview.naturalWidth),
             y: clamp(((ev.clientY - r.top) / r.height) * preview.naturalHeight, preview.naturalHeight) };
  }
  const drawBtn = $("#draw-box"), wrap = $("#photo-wrap");
  drawBtn.addEventListener("click", () => {
    const on = drawBtn.getAttribute("aria-pressed") !== "true";
    drawBtn.setAttribute("aria-pressed", String(on));
    wrap.classList.toggle("drawing", on);
  });
  wrap.addEventListener("pointerdown", (ev) => {
    if (!wrap.classList.contains("drawing") || !lastFile) return;
    ev.preventDefault();
    wrap.setPointerCapture(ev.pointerId);
    const start = photoPoint(ev);
    const div = el("div", { class: "box drawn" }, el("span", {}, "your box"));
    $("#boxes").append(div);
    drawing = { start, div, box: null };
  });
  wrap.addEventListener("pointermove", (ev) => {
    if (!drawing) return;
    const p = photoPoint(ev), s = drawing.start, preview = $("#photo-preview");
    const box = { x1: Math.min(s.x, p.x), y1: Math.min(s.y, p.y), x2: Math.max(s.x, p.x), y2: Math.max(s.y, p.y) };
    drawing.box = box;
    Object.assign(drawing.div.style, {
      left: `${(100 * box.x1) / preview.naturalWidth}%`, top: `${(100 * box.y1) / preview.naturalHeight}%`,
      width: `${(100 * (box.x2 - box.x1)) / preview.naturalWidth}%`,
      height: `${(100 * (box.y2 - box.y1)) / preview.naturalHeight}%`,
    });
  });
  wrap.addEventListener("pointerup", () => {
    if (!drawing) return;
    const { box, div } = drawing;
    drawing = null;
    div.remove();
    drawBtn.setAttribute("aria-pressed", "false");
    wrap.classList.remove("drawing");
    if (!box || box.x2 - box.x1 < 16 || box.y2 - box.y1 < 16) { toast("Draw a larger box around the garment", true); return; }
    picked = "";
    setCrop(box);
    photoSearch(lastFile);
  });
  $("#whole-photo").addEventListener("click", () => { setCrop(null); picked = ""; photoSearch(lastFile); });
  if (location.search || history.state) fromUrl(); // a shared or bookmarked search, a reload
  paintFilters();
  const zone = $("#dropzone");
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (ev) => { ev.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => zone.addEventListener(t, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (ev) => { ev.preventDefault(); photoSearch(ev.dataTransfer.files[0]); });
  document.addEventListener("paste", (ev) => {
    const item = Array.from(ev.clipboardData?.items || []).find((i) => i.type.startsWith("image/"));
    if (item) photoSearch(item.getAsFile());
  });
}

/* ---- product page -------------------------------------------------------------------- */
async function initProduct() {
  $$(".thumb").forEach((b) => b.addEventListener("click", () => {
    $("#hero").src = safeUrl(b.dataset.src);
    $("#hero").alt = b.dataset.alt || ""; // the shown photo's own description, not the first's
    $$(".thumb").forEach((x) => x.removeAttribute("aria-current"));
    b.setAttribute("aria-current", "true");
  }));
  const id = $(".product").dataset.productId;
  const list = $("#similar"), note = $("#similar-note");
  try {
    const res = await api(`/v1/products/${id}/similar?k=8`);
    showHits(list, note, res.hits, "No close match in this catalog.");
  } catch (err) {
    note.textContent = explain(err);
  }
}

/* ---- catalog editor ------------------------------------------------------------------ */
/** Bulk edit: tick products, pick a type and/or gender, apply it to all of them at once. */
function initBulk() {
  const bulk = $("#bulk");
  if (!bulk) return;
  const picks = $$(".pick"), all = $("#pick-all"), apply = $("#bulk-apply");
  const paint = () => {
    const n = picks.filter((p) => p.checked).length;
    $("#bulk-count").textContent = `${n} selected`;
    apply.disabled = n === 0;
    all.checked = n === picks.length;
    all.indeterminate = n > 0 && n < picks.length;
  };
  picks.forEach((p) => p.addEventListener("change", paint));
  all.addEventListener("change", () => { picks.forEach((p) => { p.checked = all.checked; }); paint(); });
  bulk.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ids = picks.filter((p) => p.checked).map((p) => Number(p.value));
    const changes = {};
    for (const sel of $$("select", bulk)) if (sel.value) changes[sel.name] = sel.value;
    if (!Object.keys(changes).length) { toast("Pick a type or a gender to set", true); return; }
    try {
      await api("/v1/products", { method: "PATCH", json: { ids, changes } });
      toast(`${plural(ids.length, "product")} changed`);
      location.reload(); // the list is ordered by confidence: it changed
    } catch (err) {
      toast(explain(err), true);
    }
  });
  paint();
}

function initCatalog() {
  initBulk();
  $$(".edit-form").forEach((form) => form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    // Only the fields a person changed: saving must not mark untouched guesses as checked.
    const inputs = $$("input[name]", form).filter((i) => i.value !== i.defaultValue);
    const saved = $(".saved", form);
    if (!inputs.length) { saved.textContent = "No changes"; return; }
    const body = {};
    for (const i of inputs) {
      const s = i.value.trim();
      body[i.name] = s === "" ? (i.name === "title" ? "" : null) : (i.name === "price" ? Number(s) : s);
    }
    try {
      await api(`/v1/products/${form.dataset.productId}`, { method: "PATCH", json: body });
      inputs.forEach((i) => { i.defaultValue = i.value; });
      saved.textContent = "Saved ✓";
      toast("Product saved");
    } catch (err) {
      saved.textContent = "";
      toast(explain(err), true);
    }
  }));
}

/* ---- gallery review ------------------------------------------------------------------ */
function initReview() {
  const list = $("#review-list");
  const state = $("#order-state");
  const renumber = () => $$(".review-item", list).forEach((li, i) => { $(".rank", li).textContent = i + 1; });
  const changed = () => { renumber(); state.textContent = "Order changed — not saved yet"; };

  list.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button.up, button.down");
    if (!btn) return;
    const li = btn.closest(".review-item");
    if (btn.classList.contains("up") && li.previousElementSibling) li.previousElementSibling.before(li);
    else if (btn.classList.contains("down") && li.nextElementSibling) li.nextElementSibling.after(li);
    else return;
    btn.focus();
    changed();
  });
  let dragged = null;
  list.addEventListener("dragstart", (ev) => { dragged = ev.target.closest(".review-item"); dragged?.classList.add("dragging"); });
  list.addEventListener("dragend", () => { dragged?.classList.remove("dragging"); dragged = null; });
  list.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    const over = ev.target.closest(".review-item");
    if (!dragged || !over || over === dragged) return;
    const rect = over.getBoundingClientRect();
    if (ev.clientY < rect.top + rect.height / 2) over.before(dragged); else over.after(dragged);
  });
  list.addEventListener("drop", (ev) => { ev.preventDefault(); changed(); });

  $("#save-order").addEventListener("click", async () => {
    const ids = $$(".review-item", list).map((li) => Number(li.dataset.imageId));
    try {
      await api(`/v1/products/${list.dataset.productId}/images/order`, { method: "PUT", json: { image_ids: ids } });
      state.textContent = "Order saved ✓";
      toast("Gallery order saved");
    } catch (err) {
      toast(explain(err), true);
    }
  });
  $$(".label-select", list).forEach(initLabel);

  // Hide a photo (kept in the store; out of gallery, search and exports) or show it again.
  list.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button.hide-photo");
    if (!btn) return;
    const hide = btn.getAttribute("aria-pressed") !== "true";
    try {
      await api(`/v1/images/${btn.dataset.imageId}/hidden`, { method: "PUT", json: { hidden: hide } });
      btn.setAttribute("aria-pressed", String(hide));
      btn.textContent = hide ? "Hidden" : "Hide";
      btn.closest(".review-item").classList.toggle("is-hidden", hide);
      toast(hide ? "Photo hidden: out of the gallery, search and exports" : "Photo shown again");
    } catch (err) {
      toast(explain(err), true);
    }
  });
  $("#reset-order").addEventListener("click", async () => {
    try {
      await api(`/v1/products/${list.dataset.productId}/images/order`, { method: "DELETE" });
      toast("Automatic order restored");
      location.reload(); // the regulation's order, as the server computed it
    } catch (err) {
      toast(explain(err), true);
    }
  });
}

/**
 * A shot-type list saves a person's label once it is chosen: a pick with the mouse at once,
 * arrow keys (which step through the values, firing "change" at each) on Enter or on leaving
 * the list, so stepping past three labels records one, not three.
 */
function initLabel(sel) {
  const meta = $(".meta", sel.closest(".review-item"));
  let saved = sel.value, byKeys = false;
  async function commit() {
    byKeys = false;
    const value = sel.value;
    if (!value || value === saved) return;
    saved = value;
    try {
      await api(`/v1/images/${sel.dataset.imageId}/shot`, { method: "PUT", json: { label: value } });
      meta.replaceChildren(el("span", { class: "badge" }, "checked"));
      toast(`Label saved: ${value}`);
    } catch (err) {
      saved = "";
      meta.replaceChildren(el("span", { class: "pending" }, "Not saved"));
      toast(explain(err), true);
    }
  }
  sel.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); commit(); } else if (ev.key !== "Tab") byKeys = true;
  });
  sel.addEventListener("change", () => {
    // the model's confidence and reason were about the old label: they go with it
    meta.replaceChildren(el("span", { class: "pending" },
      sel.value === saved ? "" : "Not saved yet: press Enter or leave the list"));
    if (!byKeys) commit();
  });
  sel.addEventListener("blur", commit);
}

/* ---- duplicates ---------------------------------------------------------------------- */
function initDuplicates() {
  $$(".group").forEach((g) => $$(".verdict", g).forEach((btn) => btn.addEventListener("click", async () => {
    try {
      const res = await api(`/v1/duplicates/${g.dataset.groupId}/${btn.dataset.action}`, { method: "POST" });
      const badge = $(".status", g);
      badge.textContent = res.status;
      badge.className = `status s-${res.status}`;
      toast(`Group ${res.id}: ${res.status}`);
    } catch (err) {
      toast(explain(err), true);
    }
  })));
}

/** Editing pages without a stored key: say up front that changes need a write key. */
function readOnlyNotice() {
  if (localStorage.getItem(KEY)) return;
  $("#main").prepend(el("p", { class: "hint", id: "read-only" },
    "Read-only: you can look, but saving changes needs an API key with the write scope " +
    "(“API key” at the top; make one with modiste keys create NAME --scope write)."));
}

document.addEventListener("DOMContentLoaded", () => {
  initKey();
  if (["catalog", "review", "duplicates"].includes(document.body.dataset.page)) readOnlyNotice();
  const init = { search: initSearch, product: initProduct, catalog: initCatalog,
                 review: initReview, duplicates: initDuplicates }[document.body.dataset.page];
  if (init) init();
});

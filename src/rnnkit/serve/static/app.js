// rnnkit playground: reads the model card, streams samples from POST /api/stream
// (server-sent events read with fetch, so Stop can abort them), draws the training curves.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const FIELDS = ["length", "temperature", "top_k", "top_p", "num_samples"];

let controller = null; // the AbortController of the request in flight
let columns = []; // one {box, text} per sample
let steps = 0;
let lastSeed = null;
let started = 0;
let total = 0; // tokens asked for

// ------------------------------------------------------------------ model card

async function loadCard() {
  let card;
  try {
    const res = await fetch("/api/model");
    card = await res.json();
  } catch (err) {
    $("model-line").textContent = `cannot read the model card: ${err}`;
    return;
  }
  $("model-line").textContent = `${card.summary} · run ${card.run} · ${card.level} level`;
  const best = card.best || {};
  const facts = [
    ["Run", `${card.run} (${card.checkpoint})`],
    ["Corpus", baseName(card.corpus.name || "?"), card.corpus.name],
    ["Corpus sha1", card.corpus.sha1 ? card.corpus.sha1.slice(0, 12) : "?"],
    ["Tokens", `${card.level}, normalize ${card.normalize}`],
    ["Vocabulary", card.vocab_size.toLocaleString("en")],
    ["Architecture", card.summary],
    ["Parameters", card.parameters == null ? "n/a" : card.parameters.toLocaleString("en")],
    ["Best val ppl", best.val_ppl === undefined ? "n/a" : `${fmt(best.val_ppl)} (epoch ${best.epoch})`],
  ];
  const dl = $("facts");
  dl.replaceChildren();
  for (const [name, value, title] of facts) {
    const dd = el("dd", String(value));
    if (title) dd.title = title;
    dl.append(el("dt", name), dd);
  }
  const d = card.defaults;
  if (!$("prefix").value) $("prefix").value = d.prefix;
  $("length").value = d.length;
  $("temperature").value = d.temperature;
  $("top_k").value = d.top_k;
  $("top_p").value = d.top_p;
  $("length").max = card.limits.length;
  $("num_samples").max = card.limits.num_samples;
  $("temperature").max = card.limits.temperature;
  drawCurves(card.curves);
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function baseName(path) {
  return path.split(/[\\/]/).pop() || path; // a local file: its name, the path on hover
}

function tickLabel(x) {
  return String(Number(x.toPrecision(3)));
}

function fmt(x) {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

// ------------------------------------------------------------------ curves (inline SVG)

function drawCurves(rows) {
  const box = $("curves");
  box.replaceChildren();
  const series = [
    ["train", rows.filter((r) => Number.isFinite(r.train_ppl)).map((r) => [xOf(r), r.train_ppl])],
    ["val", rows.filter((r) => Number.isFinite(r.val_ppl)).map((r) => [xOf(r), r.val_ppl])],
  ];
  const points = series.flatMap(([, pts]) => pts);
  if (points.length === 0) {
    box.append(el("p", "No metrics.jsonl beside the checkpoint.", "muted"));
    return;
  }
  const W = 320, H = 200, L = 42, R = 10, T = 22, B = 28;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  const [lo, hi] = [Math.min(...ys), Math.max(...ys)];
  const log = hi / lo > 20 && lo > 0; // ppl often falls by orders of magnitude
  const f = log ? Math.log10 : (v) => v;
  let [y0, y1] = [f(lo), f(hi)];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.08;
  [y0, y1] = [y0 - pad, y1 + pad];
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => T + (1 - (f(y) - y0) / (y1 - y0)) * (H - T - B);

  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "train and validation perplexity per evaluation");
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  add("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" });
  add("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" });
  for (const y of yTicks(y0, y1, log)) {
    add("line", { x1: L - 3, y1: py(y), x2: W - R, y2: py(y), class: "axis", "stroke-dasharray": "2 3" });
    add("text", { x: L - 5, y: py(y) + 3, "text-anchor": "end", class: "tick" }, tickLabel(y));
  }
  for (const x of xTicks(x0, x1)) {
    add("text", { x: px(x), y: H - B + 14, "text-anchor": "middle", class: "tick" }, String(x));
  }
  const xName = rows.some((r) => r.epoch !== rows[0].epoch) ? "epoch" : "step";
  add("text", { x: W - R, y: H - 2, "text-anchor": "end", class: "tick" }, xName);
  series.forEach(([name, pts], i) => {
    if (pts.length > 1) {
      add("polyline", { points: pts.map(([x, y]) => `${px(x)},${py(y)}`).join(" "), class: name });
    }
    for (const [x, y] of pts) {
      const dot = add("circle", { cx: px(x), cy: py(y), r: pts.length > 40 ? 1.5 : 2.5, class: `dot-${name}` });
      const tip = document.createElementNS(SVG, "title");
      tip.textContent = `${name} ppl ${fmt(y)} at ${xName} ${x}`;
      dot.append(tip);
    }
    add("rect", { x: L + 8 + i * 60, y: 6, width: 10, height: 10, class: `dot-${name}` });
    add("text", { x: L + 22 + i * 60, y: 15, class: "legend" }, name);
  });
  if (log) add("text", { x: W - R, y: 15, "text-anchor": "end", class: "tick" }, "log scale");
  box.append(svg);

  function xOf(r) {
    return Number.isFinite(r.epoch) && rows.some((q) => q.epoch !== rows[0].epoch) ? r.epoch : r.step;
  }
}

function yTicks(y0, y1, log) {
  if (log) {
    const steps = y1 - y0 > 3 ? [1] : [1, 2, 5]; // few decades: label 2 and 5 as well
    const ticks = [];
    for (let e = Math.floor(y0); e <= Math.ceil(y1); e++) {
      for (const m of steps) {
        const v = m * 10 ** e;
        if (Math.log10(v) >= y0 && Math.log10(v) <= y1) ticks.push(v);
      }
    }
    return ticks.length ? ticks : [10 ** ((y0 + y1) / 2)];
  }
  return niceTicks(y0, y1, 4);
}

function xTicks(x0, x1) {
  return niceTicks(x0, x1, 5).filter((x) => Number.isInteger(x));
}

function niceTicks(a, b, n) {
  const step0 = (b - a) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(a / step) * step; v <= b + 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

// ------------------------------------------------------------------ generation

function readOptions() {
  const body = { prefix: $("prefix").value };
  for (const name of FIELDS) {
    const input = $(name);
    const value = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(value)) {
      throw new Error(`${name.replace("_", "-")} needs a number`);
    }
    body[name] = value;
  }
  const seed = $("seed").value.trim();
  if (seed !== "") body.seed = Number(seed);
  return body;
}

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function setBusy(busy) {
  $("generate").disabled = busy;
  $("stop").disabled = !busy;
  for (const c of columns) c.box.classList.toggle("live", busy);
}

function makeColumns(n) {
  const area = $("samples");
  area.replaceChildren();
  columns = [];
  for (let i = 0; i < n; i++) {
    const box = el("article", undefined, "sample");
    box.dataset.sample = String(i);
    const pre = el("pre");
    const given = el("span", "", "given");
    const text = document.createTextNode("");
    pre.append(given, text);
    box.append(el("header", `sample ${i + 1}`), pre);
    area.append(box);
    columns.push({ box, pre, given, text });
  }
}

function onEvent(kind, data) {
  if (kind === "start") {
    lastSeed = data.seed;
    total = data.length;
    for (const c of columns) c.given.textContent = data.prefix;
    let note = "generating…";
    if (data.unknown && data.unknown.length) {
      note += ` (not in the vocabulary, read as <unk>: ${data.unknown.slice(0, 10).join(" ")})`;
    }
    setStatus(note);
  } else if (kind === "tokens") {
    steps = data.step + 1;
    data.tokens.forEach((piece, i) => {
      const c = columns[i];
      const stick = c.pre.scrollTop + c.pre.clientHeight >= c.pre.scrollHeight - 4;
      c.text.appendData(piece);
      if (stick) c.pre.scrollTop = c.pre.scrollHeight;
    });
    setStatus(`${steps} / ${total} tokens…`);
  } else if (kind === "done") {
    const rate = Math.round(data.tokens_per_s).toLocaleString("en");
    const seed = lastSeed === null ? "" : ` · seed ${lastSeed}`;
    setStatus(`done: ${data.steps} tokens in ${data.elapsed_s.toFixed(2)} s (${rate} tokens/s)${seed}`);
    document.body.dataset.state = "done";
  } else if (kind === "error") {
    setStatus(data.error, true);
    document.body.dataset.state = "error";
  }
}

function parseEvent(raw) {
  let kind = "message";
  const data = [];
  for (const line of raw.split("\n")) {
    if (line.startsWith(":")) continue; // a keep-alive comment
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return data.length ? [kind, JSON.parse(data.join("\n"))] : null;
}

async function generate(event) {
  if (event) event.preventDefault();
  if (controller) return;
  let body;
  try {
    body = readOptions();
  } catch (err) {
    setStatus(err.message, true);
    return;
  }
  makeColumns(Math.max(1, Math.min(8, Math.floor(body.num_samples) || 1)));
  controller = new AbortController();
  document.body.dataset.state = "streaming";
  steps = 0;
  lastSeed = null;
  started = performance.now();
  setBusy(true);
  setStatus("waiting for a worker…");
  try {
    const res = await fetch("/api/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!res.ok) {
      const err = await res.json().catch(() => ({ error: res.statusText }));
      setStatus(`${res.status}: ${err.error || res.statusText}`, true);
      document.body.dataset.state = "error";
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder("utf-8"); // {stream: true} keeps split CJK bytes whole
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const parsed = parseEvent(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (parsed) onEvent(...parsed);
      }
    }
  } catch (err) {
    if (err.name === "AbortError") {
      const secs = ((performance.now() - started) / 1000).toFixed(2);
      setStatus(`stopped after ${steps} tokens (${secs} s)`);
      document.body.dataset.state = "stopped";
    } else {
      setStatus(`connection lost: ${err.message}`, true);
      document.body.dataset.state = "error";
    }
  } finally {
    controller = null;
    setBusy(false);
    $("reuse-seed").hidden = lastSeed === null;
  }
}

function stop() {
  if (controller) controller.abort(); // closing the stream stops the server's worker too
}

document.addEventListener("DOMContentLoaded", () => {
  $("controls").addEventListener("submit", generate);
  $("stop").addEventListener("click", stop);
  $("reuse-seed").addEventListener("click", () => {
    if (lastSeed !== null) $("seed").value = String(lastSeed);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate(e);
    if (e.key === "Escape") stop();
  });
  loadCard();
});

// playground.js: convolution arithmetic (after Dumoulin & Visin 2016, as `anyconv animate`
// draws it): the padded input, the kernel's taps for each output position in turn, and
// anyconv's output size and (lo, hi) padding.

const PLAY = {
  ndim: 2,
  linked: true,
  axes: [
    { n: 5, k: 3, s: 2, d: 1, rule: "same", p: 1, lo: 1, hi: 0 },
    { n: 5, k: 3, s: 2, d: 1, rule: "same", p: 1, lo: 1, hi: 0 },
  ],
  frame: 0,
  timer: null,
};

const PRESETS = [
  ["valid 3×3", 2, { n: 5, k: 3, s: 1, d: 1, rule: "valid" }],
  ["same, stride 2", 2, { n: 5, k: 3, s: 2, d: 1, rule: "same" }],
  ["full", 2, { n: 4, k: 3, s: 1, d: 1, rule: "full" }],
  ["dilation 2", 2, { n: 7, k: 3, s: 1, d: 2, rule: "valid" }],
  ["padding 1, stride 2", 2, { n: 6, k: 3, s: 2, d: 1, rule: "int", p: 1 }],
  ["causal 1-D", 1, { n: 8, k: 3, s: 1, d: 2, rule: "causal" }],
  ["(lo, hi) = (2, 0)", 1, { n: 6, k: 3, s: 1, d: 1, rule: "pair", lo: 2, hi: 0 }],
];

function playSpec() {
  const axes = PLAY.axes.slice(0, PLAY.ndim);
  const padding = axes.map((a) =>
    a.rule === "int" ? a.p : a.rule === "pair" ? [a.lo, a.hi] : a.rule);
  return {
    input: axes.map((a) => a.n),
    kernel: axes.map((a) => a.k),
    stride: axes.map((a) => a.s),
    dilation: axes.map((a) => a.d),
    padding,
  };
}

function renderPlayground() {
  const root = document.getElementById("playground");
  const presets = el("div", { class: "presets" }, el("span", { class: "small muted", text: "Examples:" }));
  for (const [label, ndim, values] of PRESETS) {
    presets.append(el("button", { text: label, onclick: () => {
      PLAY.ndim = ndim;
      PLAY.axes = PLAY.axes.map(() => Object.assign({ p: 1, lo: 1, hi: 0 }, values));
      PLAY.frame = 0;
      buildControls();
      updatePlayground();
    } }));
  }
  root.append(
    presets,
    el("div", { id: "play-controls", class: "controls" }),
    el("div", { id: "play-formula" }),
    el("div", { class: "controls" },
      el("button", { text: "◀ step", onclick: () => stepFrame(-1) }),
      el("button", { id: "play-toggle", text: "▶ play", onclick: togglePlay }),
      el("button", { text: "step ▶", onclick: () => stepFrame(1) }),
      el("label", {}, "output position",
        el("input", { id: "play-slider", type: "range", min: 0, max: 0, value: 0,
          oninput: (e) => { PLAY.frame = Number(e.target.value); drawPlayground(); } })),
      el("span", { id: "play-frame", class: "small muted" })),
    el("div", { id: "play-canvas", class: "arith" }),
  );
  buildControls();
  updatePlayground();
}

function numberInput(label, value, min, onChange) {
  return el("label", {}, label, el("input", {
    type: "number", value, min, max: 999, step: 1,
    oninput: (e) => {
      const v = Number(e.target.value);
      if (e.target.value !== "" && Number.isInteger(v)) onChange(v);
    },
  }));
}

function buildControls() {
  const box = document.getElementById("play-controls");
  box.replaceChildren();
  const dims = el("select", { onchange: (e) => {
    PLAY.ndim = Number(e.target.value);
    PLAY.frame = 0;
    buildControls();
    updatePlayground();
  } }, el("option", { value: 1, text: "1-D (a sequence)" }), el("option", { value: 2, text: "2-D (an image)" }));
  dims.value = String(PLAY.ndim);
  box.append(el("label", {}, "dimensions", dims));
  if (PLAY.ndim === 2) {
    const link = el("input", { type: "checkbox", onchange: (e) => {
      PLAY.linked = e.target.checked;
      if (PLAY.linked) PLAY.axes[1] = Object.assign({}, PLAY.axes[0]);
      buildControls();
      updatePlayground();
    } });
    link.checked = PLAY.linked;
    box.append(el("label", {}, "same on both axes", link));
  }
  const names = PLAY.ndim === 1 ? ["length"] : PLAY.linked ? ["rows and columns"] : ["rows", "columns"];
  names.forEach((name, a) => {
    const axis = PLAY.axes[a];
    const set = (key) => (v) => {
      axis[key] = v;
      if (PLAY.linked && PLAY.ndim === 2) PLAY.axes[1 - a][key] = v;
      PLAY.frame = 0;
      updatePlayground();
    };
    const rule = el("select", { onchange: (e) => {
      set("rule")(e.target.value);
      buildControls();
    } });
    for (const name of [...Object.keys(DATA.padding), "int", "pair"]) {
      rule.append(el("option", { value: name, text: name === "int" ? "int p" : name === "pair" ? "(lo, hi)" : name }));
    }
    rule.value = axis.rule;
    const group = el("div", { class: "axis-controls" },
      el("span", { class: "axis-name", text: name }),
      numberInput("input n", axis.n, 0, set("n")),
      numberInput("kernel k", axis.k, 1, set("k")),
      numberInput("stride s", axis.s, 1, set("s")),
      numberInput("dilation d", axis.d, 1, set("d")),
      el("label", {}, "padding", rule));
    if (axis.rule === "int") group.append(numberInput("p", axis.p, 0, set("p")));
    if (axis.rule === "pair") {
      group.append(numberInput("lo", axis.lo, 0, set("lo")), numberInput("hi", axis.hi, 0, set("hi")));
    }
    box.append(group);
  });
}

function updatePlayground() {
  const spec = playSpec();
  const result = resolveSpec(spec);
  PLAY.result = result;
  const formula = document.getElementById("play-formula");
  formula.replaceChildren();
  const line = (...parts) => formula.append(el("p", { class: "formula" }, ...parts));
  const code = (text) => el("code", { text });
  if (result.error) {
    line(el("span", { class: "error", text: `anyconv refuses this: ${result.error}.` }));
    document.getElementById("play-canvas").replaceChildren();
    document.getElementById("play-slider").max = 0;
    document.getElementById("play-frame").textContent = "";
    stopPlay();
    return;
  }
  const axes = PLAY.axes.slice(0, PLAY.ndim);
  const names = PLAY.ndim === 1 ? [""] : [" (rows)", " (columns)"];
  axes.forEach((a, i) => {
    const [lo, hi] = result.pads[i];
    const kEff = result.kEff[i];
    let rule;
    if (a.rule === "int") rule = `int ${a.p}: lo = hi = ${a.p}`;
    else if (a.rule === "pair") rule = `(lo, hi) = (${a.lo}, ${a.hi})`;
    else {
      const [flo, fhi] = DATA.padding[a.rule];
      rule = `"${a.rule}": lo = ${flo} = ${lo}, hi = ${fhi} = ${hi}`;
    }
    line(el("b", { text: `axis ${i}${names[i]}: ` }),
      code(`k_eff = d·(k − 1) + 1 = ${a.d}·(${a.k} − 1) + 1 = ${kEff}`), " · padding ", code(rule), " · ",
      code(`output = ⌊(n + lo + hi − k_eff) / s⌋ + 1 = ⌊(${a.n} + ${lo} + ${hi} − ${kEff}) / ${a.s}⌋ + 1 = ${result.out[i]}`));
  });
  line(el("b", { text: `anyconv.output_shape → (${result.out.join(", ")}),  padding (lo, hi) → ` +
    result.pads.map(([lo, hi]) => `(${lo}, ${hi})`).join(", ") }));
  const frames = product(result.out);
  document.getElementById("play-slider").max = Math.max(0, frames - 1);
  PLAY.frame = Math.min(PLAY.frame, Math.max(0, frames - 1));
  drawPlayground();
}

function drawPlayground() {
  const result = PLAY.result;
  const holder = document.getElementById("play-canvas");
  holder.replaceChildren();
  if (!result || result.error) return;
  const axes = PLAY.axes.slice(0, PLAY.ndim);
  const rows2 = (v) => (PLAY.ndim === 1 ? [1, v[0]] : v);
  const padded = rows2(axes.map((a, i) => a.n + result.pads[i][0] + result.pads[i][1]));
  const out = rows2(result.out);
  const frames = product(result.out);
  document.getElementById("play-slider").value = PLAY.frame;
  document.getElementById("play-frame").textContent = frames
    ? `output position ${PLAY.frame + 1} of ${frames}`
    : "no output position";
  const largest = Math.max(...padded, ...out);
  if (largest > 160) {
    holder.append(el("p", { class: "muted", text: `Too large to draw (${padded.join(" × ")} padded cells); the sizes above hold.` }));
    return;
  }
  const cell = Math.max(6, Math.min(28, Math.floor(420 / Math.max(padded[1], 1)), Math.floor(320 / Math.max(padded[0], 1))));
  // the current output position and its taps, as anyconv animate computes them
  const position = [];
  let rest = PLAY.frame;
  for (let i = result.out.length - 1; i >= 0; i--) {
    position.unshift(rest % result.out[i]);
    rest = Math.floor(rest / result.out[i]);
  }
  const taps = axes.map((a, i) => [...Array(a.k).keys()].map((p) => position[i] * a.s + p * a.d));
  const tapSet = new Set();
  const rowsTaps = PLAY.ndim === 1 ? [0] : taps[0];
  const colTaps = taps[PLAY.ndim - 1];
  for (const r of rowsTaps) for (const c of colTaps) tapSet.add(`${r},${c}`);
  const pads = PLAY.ndim === 1 ? [[0, 0], result.pads[0]] : result.pads;
  const size = rows2(axes.map((a) => a.n));
  const left = sizedCanvas(padded[1] * cell + 2, padded[0] * cell + 2, "");
  const ctx = left.getContext("2d");
  for (let r = 0; r < padded[0]; r++) {
    for (let c = 0; c < padded[1]; c++) {
      const inside = r >= pads[0][0] && r < pads[0][0] + size[0] && c >= pads[1][0] && c < pads[1][0] + size[1];
      ctx.fillStyle = inside ? "#ffffff" : "#d9d9d9";
      ctx.fillRect(1 + c * cell, 1 + r * cell, cell, cell);
      if (tapSet.has(`${r},${c}`)) {
        ctx.fillStyle = inside ? "rgba(43,108,176,0.85)" : "rgba(43,108,176,0.5)";
        ctx.fillRect(1 + c * cell, 1 + r * cell, cell, cell);
      }
      ctx.strokeStyle = "#8a94a3";
      ctx.lineWidth = 1;
      ctx.strokeRect(1.5 + c * cell, 1.5 + r * cell, cell - 1, cell - 1);
    }
  }
  ctx.strokeStyle = "#1a202c";
  ctx.lineWidth = 2;
  ctx.strokeRect(1 + pads[1][0] * cell, 1 + pads[0][0] * cell, size[1] * cell, size[0] * cell);
  const right = sizedCanvas(Math.max(1, out[1]) * cell + 2, Math.max(1, out[0]) * cell + 2, "");
  const rtx = right.getContext("2d");
  const current = PLAY.ndim === 1 ? [0, position[0]] : position;
  for (let r = 0; r < out[0]; r++) {
    for (let c = 0; c < out[1]; c++) {
      const flat = r * out[1] + c;
      rtx.fillStyle = r === current[0] && c === current[1] ? "#2f855a" : flat < PLAY.frame ? "#c6f6d5" : "#ffffff";
      rtx.fillRect(1 + c * cell, 1 + r * cell, cell, cell);
      rtx.strokeStyle = "#8a94a3";
      rtx.lineWidth = 1;
      rtx.strokeRect(1.5 + c * cell, 1.5 + r * cell, cell - 1, cell - 1);
    }
  }
  const shape = (v) => (PLAY.ndim === 1 ? String(v[1]) : `${v[0]} × ${v[1]}`);
  holder.append(
    el("div", {}, el("div", { class: "small muted", text: `padded input ${shape(padded)} (white: the input ${shape(size)}, grey: padding, blue: the kernel's taps, pale on padding)` }), left),
    el("div", {}, el("div", { class: "small muted", text: `output ${shape(out)} (dark green: this position, light: done)` }), right),
  );
}

function stepFrame(delta) {
  const result = PLAY.result;
  if (!result || result.error) return;
  const frames = product(result.out);
  if (!frames) return;
  PLAY.frame = (PLAY.frame + delta + frames) % frames;
  drawPlayground();
}

function togglePlay() {
  if (PLAY.timer) {
    stopPlay();
    return;
  }
  PLAY.timer = setInterval(() => stepFrame(1), 700);
  document.getElementById("play-toggle").textContent = "❚❚ pause";
}

function stopPlay() {
  if (PLAY.timer) clearInterval(PLAY.timer);
  PLAY.timer = null;
  const toggle = document.getElementById("play-toggle");
  if (toggle) toggle.textContent = "▶ play";
}

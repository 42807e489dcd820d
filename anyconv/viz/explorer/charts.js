// charts.js: the kernels of every convolution layer, and a run's training curves and
// confusion matrix.

// -- kernels -------------------------------------------------------------------------------

let KERNEL_WIDTH = 1100; // measured in init()

function renderKernels() {
  const holder = document.getElementById("kernel-panels");
  if (!DATA.kernels.length) {
    holder.append(el("p", { class: "muted", text: "This network has no convolution layer." }));
    return;
  }
  DATA.kernels.forEach((entry, n) => holder.append(kernelPanel(entry, n)));
}

function kernelPanel(entry, n) {
  const [O, I, ...kernel] = entry.shown;
  const nd = kernel.length;
  const values = codes(`kernel-${n}`, entry.data);
  const per = product(kernel);
  const kh = nd >= 2 ? kernel[nd - 2] : 1;
  const kw = kernel[nd - 1];
  const kt = nd === 3 ? kernel[0] : 1;
  const s = nd === 1 ? pixelScale(kw, 56, 12) : pixelScale(Math.max(kh, kw), nd === 3 ? 30 : 44, 12);
  const cellH = nd === 1 ? 14 : kh * s;
  const sliceW = kw * s;
  const cellW = kt * sliceW + (kt - 1) * 2;
  const gap = nd === 3 ? 10 : 8;
  // one column per filter, one row per input channel; the filters wrap into bands
  const left = 34;
  const top = 16;
  const perBand = Math.max(1, Math.min(O, Math.floor((KERNEL_WIDTH - left) / (cellW + gap))));
  const bands = Math.ceil(O / perBand);
  const bandH = top + I * (cellH + gap) + 6;
  const width = left + perBand * (cellW + gap);
  const height = bands * bandH;
  const canvas = sizedCanvas(width, height, "base");
  const ctx = canvas.getContext("2d");
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillStyle = "#5a6472";
  ctx.imageSmoothingEnabled = false;
  const cellAt = (o, i) => [left + (o % perBand) * (cellW + gap), Math.floor(o / perBand) * bandH + top + i * (cellH + gap)];
  for (let b = 0; b < bands; b++) {
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (let i = 0; i < I; i++) ctx.fillText(`in ${i}`, left - 4, b * bandH + top + i * (cellH + gap) + cellH / 2);
  }
  ctx.textBaseline = "bottom";
  ctx.textAlign = "center";
  for (let o = 0; o < O; o++) {
    const [x, y] = cellAt(o, 0);
    ctx.fillText(String(o), x + cellW / 2, y - 3);
    for (let i = 0; i < I; i++) {
      const offset = (o * I + i) * per;
      const [cx, cy] = cellAt(o, i);
      for (let t = 0; t < kt; t++) {
        const image = tileImage(values, offset + t * kh * kw, kw, kh, "RdBu_r");
        ctx.drawImage(image, cx + t * (sliceW + 2), cy, sliceW, cellH);
        ctx.strokeStyle = "#c5ccd6";
        ctx.lineWidth = 1;
        ctx.strokeRect(cx + t * (sliceW + 2) - 0.5, cy - 0.5, sliceW + 1, cellH + 1);
      }
    }
  }
  canvas.addEventListener("mousemove", (event) => {
    const [px, py] = pointer(canvas, event);
    const band = Math.floor(py / bandH);
    const column = Math.floor((px - left) / (cellW + gap));
    const o = band * perBand + column;
    const i = Math.floor((py - band * bandH - top) / (cellH + gap));
    const inCell = px - left - column * (cellW + gap);
    const t = Math.min(kt - 1, Math.floor(inCell / (sliceW + 2)));
    const col = Math.floor((inCell - t * (sliceW + 2)) / s);
    const row = nd >= 2 ? Math.floor((py - band * bandH - top - i * (cellH + gap)) / s) : 0;
    if (column < 0 || column >= perBand || i < 0 || i >= I || o >= O || col < 0 || col >= kw || row < 0 || row >= kh) {
      tooltip(null);
      return;
    }
    const tap = nd === 1 ? [col] : nd === 2 ? [row, col] : [t, row, col];
    const code = values[(o * I + i) * per + t * kh * kw + row * kw + col];
    tooltip(`filter ${o}, input channel ${i}, tap (${tap.join(", ")}): ${fmtNum(valueOf(code, entry.lo, entry.hi))}`, event);
  });
  canvas.addEventListener("mouseleave", () => tooltip(null));
  const [allO, allI] = entry.shape;
  const shownText = O < allO || I < allI
    ? `showing ${O} of ${allO} filters × ${I} of ${allI} input channels`
    : `all ${allO} filters × ${allI} input channels`;
  const layerIndex = LAYERS.findIndex((layer) => layer.name === entry.name);
  return el("div", { class: "panel" },
    el("div", { class: "layer-head" },
      el("h3", {}, el("span", { text: entry.name }), el("span", { class: "muted", text: ` · ${entry.type}` })),
      colorBar("RdBu_r", entry.lo, entry.hi, "weight")),
    el("p", { class: "layer-meta" },
      `kernels ${fmtShape(entry.shape)} (filters × input channels × ${nd === 3 ? "time × height × width" : nd === 2 ? "height × width" : "taps"}); ${shownText}` +
      (nd === 3 ? "; each cell shows the kernel's time slices left to right" : "") +
      "; columns: filters, rows: input channels",
      layerIndex >= 0 ? el("span", {}, " · ", el("a", { href: `#layer-${layerIndex}`, text: "its feature maps" })) : null),
    el("div", { class: "stack" }, canvas));
}

// -- training ------------------------------------------------------------------------------

function niceTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) {
    ticks.push(+v.toPrecision(10));
  }
  return ticks;
}

function lineChart(title, series, options) {
  const W = 440;
  const H = 260;
  const m = { l: 52, r: 14, t: 26, b: 40 };
  const points = series.flatMap((s) => s.points);
  const node = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
  node.append(svg("text", { x: W / 2, y: 16, "text-anchor": "middle", "font-weight": 600, text: title }));
  if (!points.length) return el("div", { class: "chart" }, node);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs, options.xMin ?? Infinity);
  const x1 = Math.max(...xs, x0 + 1);
  let y0 = options.yMin ?? Math.min(...ys);
  let y1 = options.yMax ?? Math.max(...ys);
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const X = (v) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (v) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const grid = svg("g", { class: "grid" });
  const axis = svg("g", { class: "axis" });
  for (const t of niceTicks(y0, y1, 5)) {
    grid.append(svg("line", { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t) }));
    axis.append(svg("text", { x: m.l - 6, y: Y(t) + 4, "text-anchor": "end", text: options.yFormat(t) }));
  }
  const xticks = niceTicks(x0, x1, 6).filter((t) => Number.isInteger(t));
  for (const t of xticks) {
    axis.append(svg("line", { x1: X(t), x2: X(t), y1: H - m.b, y2: H - m.b + 4 }));
    axis.append(svg("text", { x: X(t), y: H - m.b + 16, "text-anchor": "middle", text: String(t) }));
  }
  axis.append(svg("line", { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
  axis.append(svg("line", { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
  axis.append(svg("text", { x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle", text: "epoch" }));
  axis.append(svg("text", { x: 12, y: (m.t + H - m.b) / 2, "text-anchor": "middle",
    transform: `rotate(-90 12 ${(m.t + H - m.b) / 2})`, text: options.yLabel }));
  node.append(grid, axis);
  // the legend in the top right corner, or the bottom right one when the curves pass there
  const n = series.filter((s) => s.points.length).length;
  const top = m.t + 6;
  const bottom = H - m.b - 10 - 15 * (n - 1);
  const crowded = (y0) => points.some((p) => X(p[0]) > W - m.r - 140 && Y(p[1]) > y0 - 10 &&
    Y(p[1]) < y0 + 15 * n);
  let ly = crowded(top) && !crowded(bottom) ? bottom : top;
  for (const s of series) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join("");
    if (s.points.length > 1) {
      node.append(svg("path", { d, fill: "none", stroke: s.colour, "stroke-width": 2 }));
    }
    for (const p of s.points) {
      node.append(svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: s.marker || 3, fill: s.colour },
        svg("title", { text: `${s.name}, epoch ${p[0]}: ${options.yFormat(p[1])}` })));
    }
    node.append(svg("line", { x1: W - m.r - 128, x2: W - m.r - 110, y1: ly, y2: ly, stroke: s.colour, "stroke-width": 2 }));
    node.append(svg("text", { x: W - m.r - 106, y: ly + 4, text: s.name }));
    ly += 15;
  }
  return el("div", { class: "chart" }, node);
}

function renderTraining() {
  const panel = document.getElementById("training-panel");
  const section = document.getElementById("training");
  const run = DATA.run;
  if (!run) {
    section.hidden = true;
    return;
  }
  const facts = [`run folder ${run.dir}`, `${run.model} trained on ${run.data}`];
  if (run.epochs !== undefined) facts.push(plural(run.epochs, "epoch"));
  if (run.kept_epoch !== undefined) facts.push(`model of epoch ${run.kept_epoch} kept`);
  if (run.test_accuracy !== undefined) facts.push(`test accuracy ${fmtPercent(run.test_accuracy)}`);
  panel.append(el("p", { class: "lead", text: facts.join(" · ") }));
  const h = run.history;
  const pick = (key) => h.filter((r) => r[key] !== undefined).map((r) => [r.epoch, r[key]]);
  const colours = { train: "#2b6cb0", validation: "#dd6b20", test: "#2f855a" };
  const splits = [["", "train"], ["val_", "validation"], ["test_", "test"]];
  const charts = el("div", { class: "charts" });
  if (h.length) {
    // the kept model, tested once at the end, as a larger point at its epoch
    const kept = run.kept_epoch ?? (h.length ? h[h.length - 1].epoch : undefined);
    const final = (key) => (run[key] !== undefined && kept !== undefined && !pick(key).length
      ? [{ name: "test (kept model)", colour: colours.test, points: [[kept, run[key]]], marker: 5 }]
      : []);
    charts.append(lineChart("Loss per epoch", [...splits.map(([p, name]) => ({
      name, colour: colours[name], points: pick(`${p}loss`) })), ...final("test_loss")], {
      yFormat: (v) => fmtNum(v), yLabel: "cross-entropy loss", yMin: 0, xMin: 1 }));
    charts.append(lineChart("Accuracy per epoch", [...splits.map(([p, name]) => ({
      name, colour: colours[name], points: pick(`${p}accuracy`) })), ...final("test_accuracy")], {
      yFormat: (v) => `${+(100 * v).toFixed(1)}%`, yLabel: "accuracy", yMin: 0, yMax: 1, xMin: 1 }));
  } else {
    charts.append(el("p", { class: "muted", text: "metrics.json holds no per-epoch history." }));
  }
  if (run.confusion) charts.append(confusionChart(run.confusion));
  panel.append(charts);
}

function confusionChart(matrix) {
  const K = matrix.length;
  const cell = Math.max(8, Math.min(36, Math.floor(360 / K)));
  const labels = K <= 40;
  const left = labels ? 80 : 24;
  const top = 46;
  const width = left + K * cell + 10;
  const height = top + K * cell + 30;
  const canvas = sizedCanvas(width, height, "base");
  const ctx = canvas.getContext("2d");
  const rows = matrix.map((r) => r.reduce((a, b) => a + b, 0));
  const total = rows.reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((a, r, i) => a + r[i], 0);
  ctx.font = "600 12px system-ui, sans-serif";
  ctx.fillStyle = "#1a202c";
  ctx.textAlign = "center";
  ctx.fillText(`Confusion matrix, test split (${fmtInt(total)} samples, ${fmtPercent(correct / Math.max(1, total))} right)`,
    width / 2, 14);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText("predicted class →", left + (K * cell) / 2, 32);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      const share = rows[i] ? matrix[i][j] / rows[i] : 0;
      ctx.fillStyle = rgb("Blues", Math.round(share * 255));
      ctx.fillRect(left + j * cell, top + i * cell, cell - 1, cell - 1);
      if (cell >= 22 && matrix[i][j]) {
        ctx.fillStyle = share > 0.55 ? "#fff" : "#1a202c";
        ctx.font = `${cell >= 30 ? 11 : 9}px system-ui, sans-serif`;
        ctx.fillText(String(matrix[i][j]), left + j * cell + cell / 2, top + i * cell + cell / 2 + 4);
      }
    }
  }
  ctx.fillStyle = "#2d3748";
  ctx.font = "10.5px system-ui, sans-serif";
  if (labels) {
    for (let k = 0; k < K; k++) {
      const name = className(k).slice(0, 10);
      ctx.textAlign = "right";
      ctx.fillText(name, left - 4, top + k * cell + cell / 2 + 4);
      ctx.textAlign = "center";
      if (cell >= 18) ctx.fillText(name.slice(0, 4), left + k * cell + cell / 2, top - 3);
    }
  }
  ctx.save();
  ctx.translate(12, top + (K * cell) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText("true class →", 0, 0);
  ctx.restore();
  ctx.textAlign = "left";
  ctx.fillText("rows: true class; colour: share of the row", left, top + K * cell + 18);
  canvas.addEventListener("mousemove", (event) => {
    const [px, py] = pointer(canvas, event);
    const j = Math.floor((px - left) / cell);
    const i = Math.floor((py - top) / cell);
    if (i < 0 || j < 0 || i >= K || j >= K) {
      tooltip(null);
      return;
    }
    const share = rows[i] ? matrix[i][j] / rows[i] : 0;
    tooltip(`true ${className(i)}, predicted ${className(j)}: ${plural(matrix[i][j], "sample")} ` +
      `(${fmtPercent(share)} of class ${className(i)})`, event);
  });
  canvas.addEventListener("mouseleave", () => tooltip(null));
  return el("div", { class: "chart" }, canvas);
}

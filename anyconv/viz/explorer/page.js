// page.js: the sections of the page (diagram, sample picker, input, layers, prediction,
// kernels) and the pointer interactions that tie map positions to input regions.

const DIM_NAMES = { 1: ["position"], 2: ["row", "column"], 3: ["frame", "row", "column"] };
const state = { sample: 0, camClass: null, showAll: new Set() };
const views = []; // per layer: {view, panel, bar, readout} (view null for no tensor)
let inputView = null;
let inputReadout = null;
const HINT = () =>
  el("span", { class: "muted", text: "Point at a feature map below, or at the input above." });

function family(type) {
  if (/Pool/.test(type)) return "pool";
  if (/Conv|Connected|Tiled|Gabor|Separable|Depthwise|Pointwise|Inception/.test(type)) return "conv";
  if (/Norm/.test(type)) return "norm";
  if (/Linear|Bilinear/.test(type)) return "dense";
  if (/ReLU|ReLU6|Tanh|Sigmoid|GELU|SiLU|ELU|Softplus|Mish|Hardswish|Hardtanh|PReLU|Softmax|Maxout/.test(type)) {
    return "act";
  }
  return "other";
}

function axesText(values) {
  return values.map((v) => fmtNum(v)).join(" × ");
}

function fieldText(layer) {
  if (!layer.rf) {
    return layer.view && layer.view.kind === "vector"
      ? "not a spatial feature map: no receptive field per position"
      : "no receptive field (its output could not be followed to the input)";
  }
  const { size, jump, start } = layer.rf;
  return `receptive field ${axesText(size)}, jump ${axesText(jump)}, first centre (${start
    .map(fmtNum)
    .join(", ")})`;
}

// -- header --------------------------------------------------------------------------------

function renderFacts() {
  const facts = [];
  const shape = DATA.input.shape;
  facts.push(`${DATA.modelType} on ${DATA.input.kind}s of shape ${fmtShape(shape)}`);
  facts.push(`${fmtInt(DATA.totals.params)} parameters`);
  facts.push(`${fmtCompact(DATA.totals.macs)} MACs per sample`);
  if (DATA.run && DATA.run.test_accuracy !== undefined) {
    facts.push(`test accuracy ${fmtPercent(DATA.run.test_accuracy)}`);
  }
  facts.push(`${plural(DATA.samples.length, "sample")} embedded`);
  document.getElementById("facts").textContent = facts.join(" · ");
  if (!DATA.run) document.querySelector('nav a[href="#training"]').remove();
  if (!DATA.kernels.length) document.querySelector('nav a[href="#kernels"]').remove();
}

// -- the architecture diagram ----------------------------------------------------------

function icon(shape) {
  const W = 132;
  const H = 44;
  const node = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}` });
  if (!shape || !shape.length) return node;
  const input = DATA.input.shape;
  const spatial = shape.slice(1);
  if (!spatial.length) {
    const h = Math.max(4, Math.min(H - 4, 6 * Math.log2(shape[0] + 1)));
    node.append(svg("rect", { x: W / 2 - 4, y: (H - h) / 2, width: 8, height: h, fill: "#fff",
      stroke: "#4a5568" }));
    return node;
  }
  const planes = Math.min(7, Math.max(1, Math.ceil(Math.log2(shape[0] + 1))));
  const rel = (v, n) => Math.max(0.18, Math.min(1, v / Math.max(1, n)));
  let w;
  let h;
  if (spatial.length === 1) {
    w = 70 * rel(spatial[0], input[1]);
    h = 8;
  } else {
    const last = spatial.length - 1;
    w = 30 * rel(spatial[last], input[input.length - 1]);
    h = 30 * rel(spatial[last - 1], input[input.length - 2]);
  }
  const step = 4;
  const total = w + (planes - 1) * step;
  const x0 = (W - total) / 2;
  const y0 = (H - h - (planes - 1) * step) / 2 + (planes - 1) * step;
  for (let p = planes - 1; p >= 0; p--) {
    node.append(svg("rect", { x: x0 + p * step, y: y0 - p * step, width: w, height: h,
      fill: "#fff", stroke: "#4a5568", "stroke-width": 0.8 }));
  }
  return node;
}

function renderDiagram() {
  const diagram = document.getElementById("diagram");
  const input = el(
    "a",
    { class: "box input", href: "#layers" },
    el("div", { class: "name", text: "input" }),
    el("div", { class: "type", text: DATA.input.kind }),
    icon(DATA.input.shape),
    el("div", { class: "shape", text: fmtShape(DATA.input.shape) }),
  );
  diagram.append(el("div", { class: "stage" }, input));
  LAYERS.forEach((layer, i) => {
    const lines = [
      el("div", { class: "name", text: layer.name }),
      el("div", { class: "type", text: layer.type }),
      icon(layer.outputShape),
      el("div", { class: "shape", text: layer.outputShape ? fmtShape(layer.outputShape) : "–" }),
      el("div", { text: `${fmtCompact(layer.params)} params · ${fmtCompact(layer.macs)} MACs` }),
      el("div", {
        text: layer.rf
          ? `RF ${layer.rf.size.map(fmtNum).join("×")} · jump ${layer.rf.jump.map(fmtNum).join("×")}`
          : "no field",
      }),
    ];
    const box = el("a", {
      class: `box ${family(layer.type)}`,
      href: `#layer-${i}`,
      title: `${layer.name} (${layer.type}): ${fieldText(layer)}`,
      onclick: () => flash(i),
    }, lines);
    box.dataset.layer = i;
    diagram.append(el("div", { class: "stage" }, el("span", { class: "arrow", text: "→" }), box));
  });
  const legend = el("div", { class: "legend" });
  for (const [name, label] of [["conv", "convolution"], ["pool", "pooling"], ["act", "activation"],
    ["norm", "normalisation"], ["dense", "linear"], ["other", "other"]]) {
    const key = el("span", { text: label });
    key.style.setProperty("--swatch", `var(--${name})`);
    legend.append(key);
  }
  diagram.after(legend);
}

function flash(i) {
  const panel = views[i] && views[i].panel;
  if (!panel) return;
  panel.classList.add("flash");
  setTimeout(() => panel.classList.remove("flash"), 1200);
}

// -- the input as drawn --------------------------------------------------------------------

function inputSample(i) {
  const all = codes("input", DATA.input.data);
  const per = product(DATA.input.shape);
  return all.subarray(i * per, (i + 1) * per);
}

function inputOptions(width) {
  const shape = DATA.input.shape;
  const spatial = shape.slice(1);
  const channels = shape[0];
  const rgb = channels === 3 && NAXES >= 2;
  const overlaid = NAXES === 1 && channels <= 3;
  return { rgb, overlaid, shown: rgb || overlaid ? 1 : Math.min(channels, 4), spatial, width };
}

function inputMargin() {
  // room for the fields that reach into the padding, at most a quarter of each side
  const spatial = DATA.input.shape.slice(1);
  const margin = spatial.map(() => 0);
  for (const layer of LAYERS) {
    if (!hasFields(layer)) continue;
    spatial.forEach((n, a) => {
      const d = layer.view.axes.indexOf(a);
      const count = d >= 0 ? layer.view.shape[d + 1] : 1;
      const first = fieldStart(layer, a);
      const last = first + (count - 1) * layer.rf.jump[a] + layer.rf.size[a];
      const over = Math.max(0, -Math.min(first, last - layer.rf.size[a]), Math.max(last, first + layer.rf.size[a]) - n);
      margin[a] = Math.max(margin[a], Math.min(Math.ceil(over), Math.ceil(n / 4)));
    });
  }
  if (NAXES === 3) margin[0] = 0; // frames outside the clip are not drawn
  return margin;
}

function makeInputView(width, target) {
  const o = inputOptions(width);
  const margin = inputMargin();
  const spatial = o.spatial;
  let scale;
  if (NAXES === 1) scale = pixelScale(spatial[0] + 2 * margin[0], width, 8);
  else if (NAXES === 2) scale = pixelScale(Math.max(spatial[0] + 2 * margin[0], spatial[1] + 2 * margin[1]), target, 16);
  else scale = pixelScale(Math.max(spatial[1] + 2 * margin[1], spatial[2] + 2 * margin[2]), target / 4, 10);
  return new MapView(DATA.input.shape, o.shown, {
    scale,
    margin,
    rgb: o.rgb,
    overlaid: o.overlaid,
    width,
    curveHeight: 120,
    label: "channel",
    title: "the input sample; point at a position to see what it influences",
  });
}

function renderInputPanel() {
  const panel = document.getElementById("input-panel");
  inputView = makeInputView(330, 290);
  inputReadout = el("div", { class: "readout", id: "input-readout" });
  panel.append(
    el("h3", { text: "Input" }),
    el("p", { class: "layer-meta", id: "sample-facts" }),
    inputView.build(),
    el("div", { id: "input-bar" }),
    el("p", { class: "small muted", text: inputView.margin.some((m) => m > 0)
      ? "Grey border: the padding that the fields near the edges reach into."
      : "" }),
    inputReadout,
  );
  inputView.base.id = "input-canvas";
  inputView.overlay.id = "input-overlay";
  inputView.base.addEventListener("mousemove", onInputMove);
  inputView.base.addEventListener("mouseleave", clearFields);
}

// -- layer panels --------------------------------------------------------------------------

function shownChannels(i) {
  const view = LAYERS[i].view;
  const stored = view.channels;
  if (state.showAll.has(i)) return stored;
  const ndim = view.shape.length - 1;
  return Math.min(stored, ndim === 3 ? 4 : ndim === 1 ? 12 : 16);
}

function makeLayerView(i) {
  const view = LAYERS[i].view;
  const shape = [view.channels, ...view.shape.slice(1)];
  const spatial = shape.slice(1);
  const ndim = spatial.length;
  let scale;
  if (ndim === 1) scale = pixelScale(spatial[0], 260, 6);
  else if (ndim === 2) scale = pixelScale(Math.max(...spatial), 84, 14);
  else scale = pixelScale(Math.max(spatial[1], spatial[2]), 48, 8);
  return new MapView(shape, shownChannels(i), {
    scale,
    width: PANEL_WIDTH,
    title: `feature maps of ${LAYERS[i].name} (${LAYERS[i].type}); point at one to see its field`,
  });
}

function layerCodes(i, sample) {
  const view = LAYERS[i].view;
  const all = codes(`layer-${i}`, view.data);
  const per = view.kind === "map" ? view.channels * product(view.shape.slice(1)) : view.channels;
  return all.subarray(sample * per, (sample + 1) * per);
}

function renderLayerPanels() {
  const holder = document.getElementById("layer-panels");
  LAYERS.forEach((layer, i) => {
    const meta = [
      layer.outputShape ? `output ${fmtShape(layer.outputShape)}` : "no tensor output",
      plural(layer.params, "parameter"),
      `${fmtInt(layer.macs)} MACs`,
      fieldText(layer),
    ].join(" · ");
    const panel = el(
      "div",
      { class: "panel", id: `layer-${i}` },
      el("div", { class: "layer-head" },
        el("h3", {}, el("span", { text: layer.name }), el("span", { class: "muted", text: ` · ${layer.type}` })),
        el("span", { class: "bar-slot" })),
      el("p", { class: "layer-meta", text: meta }),
      layer.note ? el("p", { class: "note", text: `note: ${layer.note}` }) : null,
    );
    const entry = { panel, view: null };
    views.push(entry);
    holder.append(panel);
    if (!layer.view) return;
    entry.body = el("div", { class: "layer-body" });
    panel.append(entry.body);
    buildLayerBody(i);
  });
}

function buildLayerBody(i) {
  const layer = LAYERS[i];
  const entry = views[i];
  entry.body.replaceChildren();
  if (layer.view.kind === "vector") {
    const classes = DATA.classNames && i === LAYERS.length - 1 &&
      layer.view.shape[0] === DATA.classNames.length && layer.view.shape[0] <= 40;
    entry.view = new VectorView(layer.view.channels, classes ? DATA.classNames : null);
    entry.body.append(entry.view.build());
    const note = layer.view.shape[0] > layer.view.channels
      ? `the first ${fmtInt(layer.view.channels)} of ${fmtInt(layer.view.shape[0])} values`
      : plural(layer.view.shape[0], "value");
    entry.body.append(el("p", { class: "vector-note", text: classes
      ? `${note}: one score per class (the softmax of these gives the probabilities below)`
      : `${note}, one cell each, left to right then down` }));
    entry.view.canvas.addEventListener("mousemove", (e) => onVectorMove(i, e));
    entry.view.canvas.addEventListener("mouseleave", clearFields);
  } else {
    entry.view = makeLayerView(i);
    entry.body.append(entry.view.build());
    entry.view.base.addEventListener("mousemove", (e) => onLayerMove(i, e));
    entry.view.base.addEventListener("mouseleave", clearFields);
    const stored = layer.view.channels;
    const total = layer.view.shape[0];
    const shown = entry.view.shown;
    const parts = [];
    parts.push(shown < total ? `showing ${shown} of ${total} channels` : `all ${plural(total, "channel")}`);
    if (stored < total) parts.push(`(${stored} kept on this page: the widest layers were trimmed to fit)`);
    const line = el("p", { class: "small muted channels-line" }, parts.join(" "));
    if (stored > shown || state.showAll.has(i)) {
      const all = state.showAll.has(i);
      line.append(" ", el("button", {
        text: all ? "show fewer" : `show all ${stored}`,
        onclick: () => {
          if (all) state.showAll.delete(i);
          else state.showAll.add(i);
          buildLayerBody(i);
          drawLayer(i);
        },
      }));
    }
    entry.body.append(line);
  }
}

function drawLayer(i) {
  const layer = LAYERS[i];
  const entry = views[i];
  if (!entry.view) return;
  const lo = layer.view.lo[state.sample];
  const hi = layer.view.hi[state.sample];
  const signed = lo < 0;
  const map = signed ? "RdBu_r" : "viridis";
  entry.view.draw(layerCodes(i, state.sample), map, signed);
  entry.map = map;
  const slot = entry.panel.querySelector(".bar-slot");
  if (entry.view.ndim === 1) {
    slot.replaceChildren(el("span", { class: "small muted",
      text: `curves from ${fmtNum(lo)} to ${fmtNum(hi)} (one scale for all channels)` }));
  } else {
    slot.replaceChildren(colorBar(map, lo, hi, signed ? "blue < 0 < red" : ""));
  }
}

class VectorView {
  constructor(length, labels) {
    this.length = length;
    this.labels = labels;
    this.cell = labels ? 32 : length <= 64 ? 16 : length <= 512 ? 11 : 6;
    this.cols = Math.max(1, Math.floor(PANEL_WIDTH / this.cell));
    this.rows = Math.ceil(length / this.cols);
    this.labelH = labels ? 14 : 0;
  }

  build() {
    const width = Math.min(this.length, this.cols) * this.cell;
    this.canvas = sizedCanvas(width, this.rows * (this.cell + this.labelH), "base");
    this.canvas.style.cursor = "crosshair";
    return el("div", { class: "stack" }, this.canvas);
  }

  draw(values, map) {
    const ctx = this.canvas.getContext("2d");
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "center";
    for (let k = 0; k < this.length; k++) {
      ctx.fillStyle = rgb(map, values[k]);
      const x = (k % this.cols) * this.cell;
      const y = Math.floor(k / this.cols) * (this.cell + this.labelH);
      const inner = this.cell - (this.cell > 6 ? 1 : 0);
      ctx.fillRect(x, y, inner, this.labels ? inner - 8 : inner);
      if (this.labels) {
        ctx.fillStyle = "#2d3748";
        ctx.fillText(String(this.labels[k]).slice(0, 5), x + this.cell / 2, y + this.cell + 2);
      }
    }
  }

  locate(px, py) {
    const k = Math.floor(py / (this.cell + this.labelH)) * this.cols + Math.floor(px / this.cell);
    return px >= 0 && py >= 0 && px < this.cols * this.cell && k < this.length ? k : null;
  }
}

function drawVector(i) {
  const layer = LAYERS[i];
  const entry = views[i];
  const lo = layer.view.lo[state.sample];
  const hi = layer.view.hi[state.sample];
  const map = lo < 0 ? "RdBu_r" : "viridis";
  entry.view.draw(layerCodes(i, state.sample), map);
  entry.map = map;
  entry.panel.querySelector(".bar-slot").replaceChildren(colorBar(map, lo, hi, ""));
}

// -- pointing ------------------------------------------------------------------------------

function pointer(canvas, event) {
  const r = canvas.getBoundingClientRect();
  return [event.clientX - r.left, event.clientY - r.top];
}

function clearFields() {
  if (inputView) inputView.clear();
  for (const entry of views) if (entry.view && entry.view.clear) entry.view.clear();
  if (inputReadout) inputReadout.replaceChildren(HINT());
  tooltip(null);
}

function positionText(ndim, position) {
  const names = DIM_NAMES[ndim];
  return position.map((p, d) => `${names[d]} ${p}`).join(", ");
}

function fmtCoord(v) {
  const r = +v.toFixed(2);
  return String(r === 0 ? 0 : r);
}

function rangeText(box, axes) {
  const names = DIM_NAMES[NAXES];
  const n = DATA.input.shape.slice(1);
  return axes
    .map((a) => {
      const lo = box.lo[a];
      const hi = box.hi[a] - 1;
      const outside = Math.max(0, -lo) + Math.max(0, hi - (n[a] - 1));
      const pad = outside > 1e-6 ? ` (${fmtCoord(outside)} in the padding)` : "";
      return `${names[a]}s ${fmtCoord(lo)} … ${fmtCoord(hi)}${pad}`;
    })
    .join(", ");
}

function onLayerMove(i, event) {
  const layer = LAYERS[i];
  const entry = views[i];
  const [px, py] = pointer(entry.view.base, event);
  const found = entry.view.locate(px, py);
  clearFields();
  if (!found) return;
  const { tile, position } = found;
  entry.view.mark(MapView.cell(position), "point");
  const view = layer.view;
  const per = product(view.shape.slice(1));
  let flat = 0;
  position.forEach((p, d) => (flat = flat * view.shape[d + 1] + p));
  const value = valueOf(layerCodes(i, state.sample)[tile.channel * per + flat],
    view.lo[state.sample], view.hi[state.sample]);
  const head = `${layer.name}, channel ${tile.channel}, ${positionText(position.length, position)}: ` +
    `value ${fmtNum(value)}`;
  tooltip(head, event);
  if (!hasFields(layer)) {
    inputReadout.textContent = `${head}. No receptive field is known for this layer.`;
    return;
  }
  const box = fieldBox(layer, inputIndex(layer, position));
  inputView.mark(box.lo.map((lo, a) => [lo, box.hi[a]]), "field");
  let feeding = 0;
  for (let j = 0; j < i; j++) {
    if (!hasFields(LAYERS[j]) || !views[j].view) continue;
    const inside = positionsInside(LAYERS[j], box);
    if (!inside) continue;
    feeding++;
    views[j].view.mark(inside.map(([a, b]) => [a, b + 1]), "feeds");
  }
  const size = axesText(layer.rf.size);
  inputReadout.replaceChildren(
    el("span", { text: `${head}. ` }),
    el("b", { text: `Its receptive field (red) is ${size} input samples: ` }),
    el("span", { text: `${rangeText(box, [...Array(NAXES).keys()])}.` +
      (feeding ? " Orange: the positions of the layers before it that feed it." : "") }),
  );
}

function onVectorMove(i, event) {
  const layer = LAYERS[i];
  const entry = views[i];
  const [px, py] = pointer(entry.view.canvas, event);
  const k = entry.view.locate(px, py);
  clearFields();
  if (k === null) return;
  const value = valueOf(layerCodes(i, state.sample)[k], layer.view.lo[state.sample],
    layer.view.hi[state.sample]);
  const isLast = i === LAYERS.length - 1 && DATA.classNames && layer.view.shape[0] === DATA.classNames.length;
  const text = `${layer.name}[${k}]${isLast ? ` (class ${className(k)})` : ""}: ${fmtNum(value)}`;
  inputReadout.textContent = `${text}. Not a spatial feature map: no receptive field.`;
  tooltip(text, event);
}

function onInputMove(event) {
  const [px, py] = pointer(inputView.base, event);
  const found = inputView.locate(px, py);
  clearFields();
  if (!found) return;
  const point = found.position;
  inputView.mark(MapView.cell(point), "point");
  const touched = [];
  LAYERS.forEach((layer, j) => {
    if (!hasFields(layer) || !views[j].view) return;
    const seen = positionsSeeing(layer, point);
    if (!seen) return;
    views[j].view.mark(seen.map(([a, b]) => [a, b + 1]), "seen");
    touched.push(`${layer.name}: ${seen.map(([a, b]) => b - a + 1).join(" × ")}`);
  });
  const channel = found.tile.channel === null ? 0 : found.tile.channel;
  const per = product(DATA.input.shape.slice(1));
  let flat = 0;
  point.forEach((p, d) => (flat = flat * DATA.input.shape[d + 1] + p));
  const value = valueOf(inputSample(state.sample)[channel * per + flat],
    DATA.input.lo[state.sample], DATA.input.hi[state.sample]);
  tooltip(`input ${positionText(NAXES, point)}: ${fmtNum(value)}`, event);
  inputReadout.replaceChildren(
    el("b", { text: `Input ${positionText(NAXES, point)} ` }),
    el("span", { text: touched.length
      ? `influences (positions marked red below): ${touched.join("; ")}.`
      : "influences no position of the layers with receptive fields." }),
  );
}

// -- the sample picker ---------------------------------------------------------------------

function thumbnail(i) {
  const view = makeInputView(84, 72);
  view.margin = view.margin.map(() => 0);
  view.o.margin = view.margin;
  view.o.curveHeight = 40;
  view.layout();
  if (NAXES === 3) {
    // the middle frame only
    const shape = DATA.input.shape;
    const per = product(shape.slice(2));
    const t = Math.floor(shape[1] / 2);
    const frame = new Uint8Array(shape[0] * per);
    const all = inputSample(i);
    for (let c = 0; c < shape[0]; c++) {
      frame.set(all.subarray(c * shape[1] * per + t * per, c * shape[1] * per + (t + 1) * per), c * per);
    }
    const still = new MapView([shape[0], ...shape.slice(2)], view.shown, {
      scale: pixelScale(Math.max(...shape.slice(2)), 64, 8), rgb: view.o.rgb, width: 84,
    });
    still.tiles = still.tiles.slice(0, 1);
    still.tiles[0].y = 0;
    still.height = still.tiles[0].h;
    still.width = still.tiles[0].w;
    still.build();
    still.draw(frame, "gray", false);
    return still.base;
  }
  view.tiles = view.tiles.slice(0, 1);
  view.tiles[0].y = 0;
  view.tiles[0].channel = view.o.rgb || view.o.overlaid ? null : 0;
  view.height = view.tiles[0].h;
  view.width = view.tiles[0].w;
  view.build();
  view.draw(inputSample(i), "gray", false);
  return view.base;
}

function renderPicker() {
  const picker = document.getElementById("picker");
  DATA.samples.forEach((sample, i) => {
    const wrong = sample.label !== null && sample.predicted !== null && sample.label !== sample.predicted;
    const lines = [];
    if (sample.label !== null) lines.push(el("div", { text: `true ${className(sample.label)}` }));
    if (sample.predicted !== null) {
      lines.push(el("div", { class: wrong ? "verdict-wrong" : "", text:
        `predicted ${className(sample.predicted)}${wrong ? " ✗" : ""}` }));
    }
    const pick = el("div", {
      class: `pick${wrong ? " wrong" : ""}`,
      id: `pick-${i}`,
      title: `sample ${i}`,
      onclick: () => select(i),
    }, thumbnail(i), el("div", { class: "muted", text: `#${i}` }), lines);
    picker.append(pick);
  });
}

// -- prediction and class activation map -----------------------------------------------

function renderPrediction() {
  const panel = document.getElementById("prediction-panel");
  panel.replaceChildren();
  const sample = DATA.samples[state.sample];
  const para = el("p", { id: "prediction" });
  para.dataset.sample = state.sample;
  if (sample.predicted === null) {
    para.textContent = "The model's output is not a vector of class scores: no prediction to show.";
    para.dataset.class = "";
    panel.append(para);
    return;
  }
  para.dataset.class = sample.predicted;
  const p = sample.probs[sample.predicted];
  para.append(`Sample #${state.sample}: predicted `);
  para.append(el("b", { text: className(sample.predicted) }), ` with probability ${fmtPercent(p)}`);
  if (sample.label !== null) {
    const right = sample.label === sample.predicted;
    para.append("; true class ", el("b", { text: className(sample.label) }), " ",
      el("span", { class: right ? "right" : "wrong", text: right ? "✓ right" : "✗ wrong" }));
  }
  const grid = el("div", { class: "prediction-grid" });
  const left = el("div", {}, el("h3", { text: "Class probabilities (softmax of the outputs)" }));
  const bars = el("div", { class: "bars" });
  const K = sample.probs.length;
  let order = [...Array(K).keys()];
  let note = "";
  if (K > 20) {
    order.sort((a, b) => sample.probs[b] - sample.probs[a]);
    order = order.slice(0, 15);
    if (sample.label !== null && !order.includes(sample.label)) order.push(sample.label);
    note = `the 15 most probable of ${K} classes${sample.label !== null ? " and the true one" : ""}`;
  }
  const camClass = state.camClass === null ? sample.predicted : state.camClass;
  for (const k of order) {
    const fill = el("div", { class: `fill${k === sample.predicted ? " top" : ""}${k === sample.label ? " true" : ""}` });
    fill.style.width = `${Math.max(0.5, 100 * sample.probs[k])}%`;
    const row = [
      el("div", { class: "label", title: className(k), text: className(k) }),
      el("div", { class: "track", title: DATA.cam ? "show this class's activation map" : "",
        onclick: () => { state.camClass = k; renderPrediction(); } }, fill),
      el("div", { class: "value", text: fmtPercent(sample.probs[k]) }),
    ];
    if (DATA.cam && k === camClass) row.forEach((node) => node.classList.add("row-cam"));
    bars.append(el("div", { style: "display:contents", class: DATA.cam && k === camClass ? "row-cam" : "" }, row));
  }
  left.append(bars);
  if (note) left.append(el("p", { class: "small muted", text: `Showing ${note}.` }));
  left.append(el("p", { class: "small muted", text: "Blue: the predicted class; green outline: the true class." +
    (DATA.cam ? " Click a bar for that class's activation map." : "") }));
  grid.append(left);
  grid.append(renderCam(camClass));
  panel.append(para, grid);
}

function renderCam(k) {
  const box = el("div", {});
  if (!DATA.cam) {
    box.append(el("h3", { text: "Class activation map" }), el("p", { class: "small muted", text:
      "Not available: this network does not end in global average pooling followed by its " +
      "classifier (as FCN, All-CNN or C3D do), so its score is not a sum over positions." }));
    return box;
  }
  const cam = DATA.cam;
  const layer = LAYERS[cam.layer];
  const K = DATA.samples[state.sample].probs.length;
  const per = product(cam.shape.slice(1));
  const all = codes("cam", cam.data);
  const offset = (state.sample * K + k) * per;
  const values = all.subarray(offset, offset + per);
  box.append(el("h3", { text: `Class activation map of class ${className(k)}` }));
  box.append(el("p", { class: "small muted", text:
    `Where the evidence for the class lies: the last feature maps (${layer.name}) weighed by ` +
    "the classifier's weights for this class (Zhou et al. 2016); the class score is their " +
    "mean plus the bias. Red: strong evidence, blue: little." }));
  const view = makeInputView(420, 300);
  box.append(view.build());
  view.draw(inputSample(state.sample), "gray", false);
  // the map over the input, each cell centred on its position's field, half transparent
  const ctx = view.overlay.getContext("2d");
  const s = view.o.scale;
  const lo = cam.lo[state.sample * K + k];
  const hi = cam.hi[state.sample * K + k];
  const rf = layer.rf;
  const spatial = cam.shape.slice(1);
  const axes = layer.view.axes;
  const place = (d) => {
    const a = axes[d];
    return { first: rf.start[a] - rf.jump[a] / 2, step: rf.jump[a] || 1 };
  };
  const nd = spatial.length;
  const w = spatial[nd - 1];
  const h = nd >= 2 ? spatial[nd - 2] : 1;
  const pc = place(nd - 1);
  const pr = nd >= 2 ? place(nd - 2) : null;
  if (nd === 1 && NAXES === 1) {
    // as in the FCN paper: the series drawn in the colour of the map where each sample lies
    const input = inputSample(state.sample);
    const n = DATA.input.shape[1];
    const tile = view.tiles[0];
    const mx = view.margin[0] * s;
    const y = (code) => tile.y + tile.h - 3 - (code / 255) * (tile.h - 6);
    const cellOf = (t) => Math.min(w - 1, Math.max(0, Math.floor((t + 0.5 - pc.first) / pc.step)));
    ctx.lineWidth = 3;
    for (let c = 0; c < Math.min(DATA.input.shape[0], 3); c++) {
      for (let t = 0; t + 1 < n; t++) {
        ctx.strokeStyle = rgb("jet", (values[cellOf(t)] + values[cellOf(t + 1)]) / 2);
        ctx.beginPath();
        ctx.moveTo(tile.x + mx + (t + 0.5) * s, y(input[c * n + t]));
        ctx.lineTo(tile.x + mx + (t + 1.5) * s, y(input[c * n + t + 1]));
        ctx.stroke();
      }
    }
  }
  for (const tile of nd === 1 && NAXES === 1 ? [] : view.tiles) {
    let slice = 0;
    if (nd === 3) {
      const pt = place(0);
      slice = Math.round((tile.frame - pt.first - pt.step / 2) / pt.step);
      if (slice < 0 || slice >= spatial[0]) continue;
    }
    const image = tileImage(values, slice * h * w, w, h, "jet");
    const mx = view.margin[NAXES - 1] * s;
    const my = NAXES >= 2 ? view.margin[NAXES - 2] * s : 0;
    const width = view.spatial[NAXES - 1] * s;
    const height = NAXES >= 2 ? view.spatial[NAXES - 2] * s : tile.h;
    ctx.save();
    ctx.beginPath();
    ctx.rect(tile.x + mx, tile.y + my, width, height);
    ctx.clip();
    ctx.globalAlpha = 0.5;
    ctx.imageSmoothingEnabled = nd >= 2;
    const x = tile.x + mx + pc.first * s;
    if (pr) ctx.drawImage(image, x, tile.y + my + pr.first * s, w * pc.step * s, h * pr.step * s);
    else ctx.drawImage(image, x, tile.y, w * pc.step * s, tile.h);
    ctx.restore();
  }
  box.append(colorBar("jet", lo, hi, "class evidence"));
  return box;
}

// -- selecting a sample --------------------------------------------------------------------

function select(i) {
  if (!Number.isInteger(i) || i < 0 || i >= DATA.samples.length) {
    throw new RangeError(`select(): sample index must be in 0..${DATA.samples.length - 1}; got ${i}`);
  }
  state.sample = i;
  state.camClass = null;
  document.querySelectorAll(".pick.selected").forEach((node) => node.classList.remove("selected"));
  document.getElementById(`pick-${i}`).classList.add("selected");
  const sample = DATA.samples[i];
  const facts = [`sample #${i} of ${DATA.samples.length}`];
  if (sample.label !== null) facts.push(`true class ${className(sample.label)}`);
  if (sample.predicted !== null) facts.push(`predicted ${className(sample.predicted)} (${fmtPercent(sample.probs[sample.predicted])})`);
  document.getElementById("sample-facts").textContent = facts.join(" · ");
  inputView.draw(inputSample(i), "gray", false);
  document.getElementById("input-bar").replaceChildren(
    colorBar("gray", DATA.input.lo[i], DATA.input.hi[i], "value"));
  LAYERS.forEach((layer, j) => {
    if (!views[j].view) return;
    if (layer.view.kind === "vector") drawVector(j);
    else drawLayer(j);
  });
  clearFields();
  renderPrediction();
  return { sample: i, label: sample.label, predicted: sample.predicted };
}

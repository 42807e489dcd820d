// core.js: the page's data, number formatting, colour maps and geometry (receptive and
// projective fields, anyconv's output-size arithmetic). Everything here is pure; the
// other parts draw with it.

const DATA = JSON.parse(document.getElementById("anyconv-data").textContent);
const LAYERS = DATA.layers;
const NAXES = DATA.input.shape.length - 1;
const EPS = 1e-9;

// -- small helpers ------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

function decode(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

const COLORMAPS = {};
for (const [name, hex] of Object.entries(DATA.colormaps)) COLORMAPS[name] = hexBytes(hex);

function rgb(map, code) {
  const lut = COLORMAPS[map];
  const i = Math.max(0, Math.min(255, code | 0)) * 3;
  return `rgb(${lut[i]},${lut[i + 1]},${lut[i + 2]})`;
}

const product = (values) => values.reduce((a, b) => a * b, 1);

function plural(n, word, many) {
  return `${n.toLocaleString("en-US")} ${n === 1 ? word : many || word + "s"}`;
}

function fmtInt(n) {
  return Number(n).toLocaleString("en-US");
}

function fmtCompact(n) {
  n = Number(n);
  const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [size, unit] of units) {
    if (Math.abs(n) >= size) return `${+(n / size).toPrecision(3)}${unit}`;
  }
  return String(n);
}

function fmtNum(v) {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(+v.toPrecision(3));
}

function fmtShape(shape) {
  return shape.map((v) => fmtNum(v)).join(" × ");
}

function fmtPercent(p) {
  return `${(100 * p).toFixed(p >= 0.9995 || p < 0.0005 ? 0 : 1)}%`;
}

function className(k) {
  if (k === null || k === undefined) return "–";
  return DATA.classNames && k < DATA.classNames.length ? DATA.classNames[k] : String(k);
}

// 8-bit codes of a view, sample by sample (decoded once per view, on first use)
const decoded = new Map();
function codes(owner, b64) {
  if (!decoded.has(owner)) decoded.set(owner, decode(b64));
  return decoded.get(owner);
}

function valueOf(code, lo, hi) {
  return lo + (code / 255) * (hi - lo);
}

// -- receptive and projective fields ---------------------------------------------------

function layerByName(name) {
  return LAYERS.find((layer) => layer.name === name);
}

// The field of one position: per input axis, the first input coordinate it sees (lo) and
// one past the last (hi); not clipped to the input.
function fieldBox(layer, index) {
  const rf = layer.rf;
  if (!rf) return null;
  const idx = typeof index === "number" ? [index] : Array.from(index || []);
  if (idx.length !== rf.size.length || !idx.every((v) => Number.isFinite(v))) {
    throw new TypeError(
      `receptiveField(): index must give one position per spatial axis ` +
        `(${rf.size.length}); got ${JSON.stringify(index)}`,
    );
  }
  const lo = rf.size.map((size, a) => rf.start[a] + idx[a] * rf.jump[a] - (size - 1) / 2);
  return { lo, hi: lo.map((v, a) => v + rf.size[a]) };
}

// A position of a layer's view (one index per spatial dimension of its maps) as an index
// per input axis (axes the view does not carry are covered whole: their jump is 0).
function inputIndex(layer, position) {
  const index = new Array(NAXES).fill(0);
  layer.view.axes.forEach((axis, d) => (index[axis] = position[d]));
  return index;
}

function indexRange(first, jump, count, lower, upper) {
  // indices i in [0, count) with lower <= first + i*jump <= upper
  if (Math.abs(jump) < EPS) {
    return first >= lower - EPS && first <= upper + EPS ? [0, count - 1] : null;
  }
  let a = (lower - first) / jump;
  let b = (upper - first) / jump;
  if (a > b) [a, b] = [b, a];
  const lo = Math.max(0, Math.ceil(a - EPS));
  const hi = Math.min(count - 1, Math.floor(b + EPS));
  return lo <= hi ? [lo, hi] : null;
}

function fieldStart(layer, axis) {
  const rf = layer.rf;
  return rf.start[axis] - (rf.size[axis] - 1) / 2;
}

// The positions of `layer` whose whole field lies inside the box {lo, hi}: the positions
// of an earlier layer that feed the position the box belongs to. Per view dimension
// [first, last], or null when none.
function positionsInside(layer, box) {
  const { rf, view } = layer;
  const ranges = view.axes.map((axis, d) =>
    indexRange(
      fieldStart(layer, axis),
      rf.jump[axis],
      view.shape[d + 1],
      box.lo[axis],
      box.hi[axis] - rf.size[axis],
    ),
  );
  return ranges.every((r) => r) ? ranges : null;
}

// The positions of `layer` whose field holds input sample `point` (one integer per input
// axis): the projective field of that sample in the layer.
function positionsSeeing(layer, point) {
  const { rf, view } = layer;
  for (let axis = 0; axis < NAXES; axis++) {
    if (view.axes.includes(axis)) continue;
    const lo = fieldStart(layer, axis);
    if (point[axis] < lo - EPS || point[axis] + 1 > lo + rf.size[axis] + EPS) return null;
  }
  const ranges = view.axes.map((axis, d) =>
    indexRange(
      fieldStart(layer, axis),
      rf.jump[axis],
      view.shape[d + 1],
      point[axis] + 1 - rf.size[axis],
      point[axis],
    ),
  );
  return ranges.every((r) => r) ? ranges : null;
}

function hasFields(layer) {
  return Boolean(layer.rf && layer.view && layer.view.kind === "map" && layer.view.axes);
}

// -- convolution arithmetic: anyconv.padding, rule for rule ----------------------------
// Sizes are exact: BigInt arithmetic on validated integers. A spec anyconv refuses gives
// {error} with the reason, in the words of anyconv's message.

const RULES = {
  valid: () => [0n, 0n],
  same: (n, kEff, s) => {
    const out = (n + s - 1n) / s;
    let total = (out - 1n) * s + kEff - n;
    if (total < 0n) total = 0n;
    return [total / 2n, total - total / 2n];
  },
  full: (n, kEff) => [kEff - 1n, kEff - 1n],
  causal: (n, kEff) => [kEff - 1n, 0n],
};
const MAX_EXTENT = BigInt(DATA.maxExtent);

const isInt = (v) => typeof v === "number" && Number.isSafeInteger(v);

function perAxis(value, ndim, name, minimum) {
  const values = isInt(value) ? new Array(ndim).fill(value) : value;
  if (!Array.isArray(values) || values.length !== ndim) {
    throw new Error(`argument '${name}' must be an int or ${ndim} ints (one per spatial axis)`);
  }
  for (const v of values) {
    if (!isInt(v) || v < minimum) {
      throw new Error(
        `argument '${name}' must hold ${minimum === 1 ? "positive" : `>= ${minimum}`} ints`,
      );
    }
  }
  return values.map((v) => BigInt(v));
}

function paddingEntries(padding, ndim) {
  const bad = () =>
    new Error(
      `argument 'padding' must be one of ${Object.keys(RULES).join(", ")}, an int >= 0, or ` +
        `${ndim} entries (one per spatial axis), each a rule, an int >= 0 or a (lo, hi) pair`,
    );
  let entries;
  if (typeof padding === "string" || isInt(padding)) entries = new Array(ndim).fill(padding);
  else if (Array.isArray(padding)) {
    if (padding.length !== ndim) throw bad();
    entries = padding;
  } else throw bad();
  return entries.map((entry) => {
    if (typeof entry === "string") {
      if (!Object.prototype.hasOwnProperty.call(RULES, entry)) throw bad();
      return entry;
    }
    if (isInt(entry)) {
      if (entry < 0) throw bad();
      return [BigInt(entry), BigInt(entry)];
    }
    if (Array.isArray(entry) && entry.length === 2 && entry.every(isInt)) {
      if (Math.min(...entry) < 0) throw bad();
      return entry.map((v) => BigInt(v));
    }
    throw bad();
  });
}

// {input, kernel, stride, dilation, padding, ceilMode} -> {out, pads, kEff} or {error}
function resolveSpec(spec) {
  try {
    if (spec === null || typeof spec !== "object") throw new Error("the spec must be an object");
    const input = spec.input;
    if (!Array.isArray(input) || input.length < 1) {
      throw new Error("argument 'input' must be a non-empty list of spatial sizes");
    }
    const ndim = input.length;
    const n = perAxis(input, ndim, "input", 0);
    if (spec.kernel === undefined) throw new Error("argument 'kernel' is missing");
    const k = perAxis(spec.kernel, ndim, "kernel", 1);
    const s = perAxis(spec.stride === undefined ? 1 : spec.stride, ndim, "stride", 1);
    const d = perAxis(spec.dilation === undefined ? 1 : spec.dilation, ndim, "dilation", 1);
    const entries = paddingEntries(spec.padding === undefined ? "valid" : spec.padding, ndim);
    const ceilMode = spec.ceilMode === undefined ? false : spec.ceilMode;
    if (typeof ceilMode !== "boolean") throw new Error("argument 'ceilMode' must be a bool");
    const out = [];
    const pads = [];
    const kEff = [];
    for (let a = 0; a < ndim; a++) {
      const ke = d[a] * (k[a] - 1n) + 1n;
      const [lo, hi] = typeof entries[a] === "string" ? RULES[entries[a]](n[a], ke, s[a]) : entries[a];
      const padded = n[a] + lo + hi;
      if (padded < ke) {
        throw new Error(
          `the kernel is larger than the padded input on spatial axis ${a}: kernel ${k[a]} ` +
            `with dilation ${d[a]} spans ${ke}, but the input of size ${n[a]} padded by ` +
            `(${lo}, ${hi}) has only ${padded}`,
        );
      }
      let largest = padded;
      if (s[a] > largest) largest = s[a];
      if (d[a] > largest) largest = d[a];
      if (largest > MAX_EXTENT) {
        throw new Error(`spatial axis ${a} spans ${largest} positions, beyond 2**48`);
      }
      const span = padded - ke;
      let size = span / s[a] + 1n;
      if (ceilMode) {
        size = (span + s[a] - 1n) / s[a] + 1n;
        if ((size - 1n) * s[a] >= n[a] + lo) size -= 1n;
      }
      out.push(Number(size));
      pads.push([Number(lo), Number(hi)]);
      kEff.push(Number(ke));
    }
    return { out, pads, kEff, ndim };
  } catch (error) {
    return { error: error.message };
  }
}

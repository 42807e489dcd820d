// views.js: drawing maps. A MapView lays the channels of one tensor out as tiles on a
// canvas (2-D maps as images, 1-D maps as curves, 3-D maps as strips of frames), with an
// overlay canvas on top for fields; it turns a pointer position into a map position and
// a range of positions (or of input coordinates) into rectangles.

const DPR = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
const LABEL_H = 14;
const GAP = 8;
let PANEL_WIDTH = 900; // the layer panels' inner width, measured in init()

function sizedCanvas(width, height, cls) {
  const canvas = el("canvas", { class: cls });
  canvas.width = Math.round(width * DPR);
  canvas.height = Math.round(height * DPR);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(DPR, 0, 0, DPR, 0, 0);
  return canvas;
}

function pixelScale(longest, target, most) {
  return Math.max(1, Math.min(most, Math.floor(target / Math.max(1, longest))));
}

// A tile's samples as an offscreen image, one pixel per sample, through a colour map (or
// as RGB from three channels).
function tileImage(values, offset, width, height, map, rgbStride) {
  const image = new ImageData(width, height);
  const lut = COLORMAPS[map || "gray"];
  for (let i = 0; i < width * height; i++) {
    const o = i * 4;
    if (rgbStride) {
      image.data[o] = values[offset + i];
      image.data[o + 1] = values[offset + rgbStride + i];
      image.data[o + 2] = values[offset + 2 * rgbStride + i];
    } else {
      const c = values[offset + i] * 3;
      image.data[o] = lut[c];
      image.data[o + 1] = lut[c + 1];
      image.data[o + 2] = lut[c + 2];
    }
    image.data[o + 3] = 255;
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(image, 0, 0);
  return canvas;
}

class MapView {
  // shape: [C, ...spatial] of the tensor; shown: channels drawn; options: scale (px per
  // sample), margin (samples of room around each tile, per spatial dim: the padding a
  // field may reach into), rgb (three channels as one colour tile), overlaid (1-D: all
  // channels as curves in one tile), label (tile caption prefix), width (canvas width)
  constructor(shape, shown, options) {
    this.shape = shape;
    this.ndim = shape.length - 1;
    this.spatial = shape.slice(1);
    this.shown = shown;
    this.o = Object.assign({ margin: null, rgb: false, overlaid: false, label: "ch" }, options);
    this.margin = this.o.margin || new Array(this.ndim).fill(0);
    this.layout();
  }

  layout() {
    const { ndim, spatial } = this;
    const s = this.o.scale;
    const width = this.o.width || PANEL_WIDTH;
    const tiles = [];
    const channels = this.o.rgb || this.o.overlaid ? [null] : [...Array(this.shown).keys()];
    if (ndim === 1) {
      const w = (spatial[0] + 2 * this.margin[0]) * s;
      const h = this.o.curveHeight || 46;
      const cols = Math.max(1, Math.floor((width + GAP) / (w + GAP)));
      channels.forEach((c, i) => {
        const x = (i % cols) * (w + GAP);
        const y = Math.floor(i / cols) * (h + LABEL_H + GAP) + LABEL_H;
        tiles.push({ x, y, w, h, channel: c, frame: null });
      });
    } else if (ndim === 2) {
      const w = (spatial[1] + 2 * this.margin[1]) * s;
      const h = (spatial[0] + 2 * this.margin[0]) * s;
      const cols = Math.max(1, Math.floor((width + GAP) / (w + GAP)));
      channels.forEach((c, i) => {
        const x = (i % cols) * (w + GAP);
        const y = Math.floor(i / cols) * (h + LABEL_H + GAP) + LABEL_H;
        tiles.push({ x, y, w, h, channel: c, frame: null });
      });
    } else {
      // one row of frames per channel, wrapped when wider than the panel
      const w = (spatial[2] + 2 * this.margin[2]) * s;
      const h = (spatial[1] + 2 * this.margin[1]) * s;
      const fgap = 3;
      const head = 40;
      const perLine = Math.max(1, Math.floor((width - head + fgap) / (w + fgap)));
      let y = LABEL_H;
      for (const c of channels) {
        for (let t = 0; t < spatial[0]; t++) {
          const line = Math.floor(t / perLine);
          const x = head + (t % perLine) * (w + fgap);
          tiles.push({ x, y: y + line * (h + LABEL_H), w, h, channel: c, frame: t });
        }
        y += Math.ceil(spatial[0] / perLine) * (h + LABEL_H) + (perLine < spatial[0] ? GAP : 0);
      }
    }
    this.tiles = tiles;
    this.width = Math.max(...tiles.map((t) => t.x + t.w));
    this.height = Math.max(...tiles.map((t) => t.y + t.h)) + 2;
  }

  build() {
    this.base = sizedCanvas(this.width, this.height, "base");
    this.overlay = sizedCanvas(this.width, this.height, "overlay");
    const geometry = {
      scale: this.o.scale,
      margin: this.margin,
      tiles: this.tiles.map((t) => [t.x, t.y, t.w, t.h, t.channel, t.frame]),
    };
    this.base.dataset.geometry = JSON.stringify(geometry);
    this.overlay.dataset.geometry = this.base.dataset.geometry;
    if (this.o.title) {
      this.base.setAttribute("role", "img");
      this.base.setAttribute("aria-label", this.o.title);
    }
    this.node = el("div", { class: "stack" }, this.base, this.overlay);
    return this.node;
  }

  // values: this sample's codes, C*prod(spatial) of them (only the first `shown` channels
  // are read); map: colour-map name; signed: the range is symmetric (draw a zero line)
  draw(values, map, signed) {
    const ctx = this.base.getContext("2d");
    ctx.clearRect(0, 0, this.width, this.height);
    const { ndim, spatial } = this;
    const per = product(spatial);
    const s = this.o.scale;
    ctx.font = "10.5px system-ui, sans-serif";
    ctx.fillStyle = "#5a6472";
    ctx.textBaseline = "bottom";
    for (const tile of this.tiles) {
      const mx = this.margin[ndim - 1] * s;
      const my = ndim >= 2 ? this.margin[ndim - 2] * s : 0;
      if (this.margin.some((m) => m > 0)) {
        ctx.fillStyle = "#e2e6ec"; // the padding around the input
        ctx.fillRect(tile.x, tile.y, tile.w, tile.h);
      }
      ctx.fillStyle = "#5a6472";
      const caption = this.caption(tile);
      if (caption) ctx.fillText(caption, tile.x, tile.y - 2);
      if (ndim === 1) {
        this.drawCurves(ctx, tile, values, per, signed, mx);
        continue;
      }
      const h = spatial[ndim - 2];
      const w = spatial[ndim - 1];
      const frameOffset = ndim === 3 ? tile.frame * h * w : 0;
      const image = this.o.rgb
        ? tileImage(values, frameOffset, w, h, null, per)
        : tileImage(values, tile.channel * per + frameOffset, w, h, map);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(image, tile.x + mx, tile.y + my, w * s, h * s);
    }
    this.clear();
  }

  caption(tile) {
    if (this.ndim === 3) {
      const first = tile.frame === 0;
      const lead =
        first && tile.channel !== null && this.shape[0] > 1 ? `${this.o.label} ${tile.channel}` : "";
      if (lead) {
        const ctx = this.base.getContext("2d");
        ctx.save();
        ctx.textBaseline = "middle";
        ctx.fillText(lead, 0, tile.y + tile.h / 2);
        ctx.restore();
      }
      return tile.channel === null || tile.channel === 0 ? `t=${tile.frame}` : "";
    }
    if (tile.channel === null || this.shape[0] === 1) return "";
    return `${this.o.label} ${tile.channel}`;
  }

  drawCurves(ctx, tile, values, per, signed, mx) {
    const s = this.o.scale;
    const length = this.spatial[0];
    ctx.save();
    ctx.fillStyle = "#fbfcfd";
    ctx.fillRect(tile.x + mx, tile.y, length * s, tile.h);
    ctx.strokeStyle = "#d5dbe3";
    ctx.strokeRect(tile.x + mx + 0.5, tile.y + 0.5, length * s - 1, tile.h - 1);
    const y = (code) => tile.y + tile.h - 3 - (code / 255) * (tile.h - 6);
    if (signed) {
      ctx.strokeStyle = "#b7c0cc";
      ctx.beginPath();
      ctx.moveTo(tile.x + mx, y(127.5));
      ctx.lineTo(tile.x + mx + length * s, y(127.5));
      ctx.stroke();
    }
    const colours = ["#2b6cb0", "#dd6b20", "#2f855a"];
    const channels = tile.channel === null ? [...Array(this.shape[0]).keys()] : [tile.channel];
    channels.forEach((c, j) => {
      ctx.strokeStyle = colours[j % colours.length];
      ctx.lineWidth = 1.3;
      ctx.beginPath();
      for (let i = 0; i < length; i++) {
        const px = tile.x + mx + (i + 0.5) * s;
        const py = y(values[c * per + i]);
        if (i === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      }
      ctx.stroke();
    });
    ctx.restore();
  }

  clear() {
    this.overlay.getContext("2d").clearRect(0, 0, this.width, this.height);
  }

  // pointer (canvas px) -> {tile, position: [index per spatial dim]} or null
  locate(px, py) {
    const s = this.o.scale;
    const { ndim, spatial } = this;
    for (const tile of this.tiles) {
      if (px < tile.x || px >= tile.x + tile.w || py < tile.y || py >= tile.y + tile.h) continue;
      const col = Math.floor((px - tile.x) / s) - this.margin[ndim - 1];
      if (col < 0 || col >= spatial[ndim - 1]) return null;
      if (ndim === 1) return { tile, position: [col] };
      const row = Math.floor((py - tile.y) / s) - this.margin[ndim - 2];
      if (row < 0 || row >= spatial[ndim - 2]) return null;
      return { tile, position: ndim === 2 ? [row, col] : [tile.frame, row, col] };
    }
    return null;
  }

  // [lo, hi) per spatial dim, in samples of this map (fractions allowed) -> rectangles,
  // one per tile that shows part of it, clipped to the tile (margin included)
  rects(ranges) {
    const s = this.o.scale;
    const { ndim } = this;
    const out = [];
    for (const tile of this.tiles) {
      if (ndim === 3 && (tile.frame < ranges[0][0] || tile.frame >= ranges[0][1])) continue;
      const [xlo, xhi] = ranges[ndim - 1];
      const m = this.margin[ndim - 1];
      let x0 = tile.x + (xlo + m) * s;
      let x1 = tile.x + (xhi + m) * s;
      let y0 = tile.y;
      let y1 = tile.y + tile.h;
      if (ndim >= 2) {
        const [ylo, yhi] = ranges[ndim - 2];
        const my = this.margin[ndim - 2];
        y0 = tile.y + (ylo + my) * s;
        y1 = tile.y + (yhi + my) * s;
      }
      x0 = Math.max(x0, tile.x);
      x1 = Math.min(x1, tile.x + tile.w);
      y0 = Math.max(y0, tile.y);
      y1 = Math.min(y1, tile.y + tile.h);
      if (x1 > x0 && y1 > y0) out.push({ x0, y0, x1, y1, tile });
    }
    return out;
  }

  mark(ranges, style) {
    const ctx = this.overlay.getContext("2d");
    const styles = {
      field: ["rgba(229,62,62,0.16)", "#e53e3e", 2],
      feeds: ["rgba(221,107,32,0.22)", "#dd6b20", 1.5],
      point: ["rgba(43,108,176,0.10)", "#2b6cb0", 2],
      seen: ["rgba(229,62,62,0.18)", "#e53e3e", 1.5],
    };
    const [fill, stroke, width] = styles[style];
    for (const r of this.rects(ranges)) {
      ctx.fillStyle = fill;
      ctx.fillRect(r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0);
      ctx.strokeStyle = stroke;
      ctx.lineWidth = width;
      const inset = width / 2;
      ctx.strokeRect(r.x0 + inset, r.y0 + inset, r.x1 - r.x0 - width, r.y1 - r.y0 - width);
    }
  }

  // a position's ranges in this map: [p, p + 1) per dim
  static cell(position) {
    return position.map((p) => [p, p + 1]);
  }
}

function colorBar(map, lo, hi, label) {
  const width = 150;
  const bar = sizedCanvas(width, 10, "");
  const ctx = bar.getContext("2d");
  for (let i = 0; i < width; i++) {
    ctx.fillStyle = rgb(map, Math.round((i / (width - 1)) * 255));
    ctx.fillRect(i, 0, 1.5, 10);
  }
  return el(
    "div",
    { class: "colorbar" },
    label ? el("span", { text: label }) : null,
    el("span", { text: fmtNum(lo) }),
    bar,
    el("span", { text: fmtNum(hi) }),
  );
}

function tooltip(text, event) {
  const tip = document.getElementById("tooltip");
  if (!text) {
    tip.hidden = true;
    return;
  }
  tip.textContent = text;
  tip.hidden = false;
  tip.style.left = `${event.clientX + 14}px`;
  tip.style.top = `${event.clientY + 12}px`;
}

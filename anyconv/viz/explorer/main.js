// main.js: build the page, then publish the test hook `window.anyconv`.

function hookLayers() {
  return LAYERS.map((layer) =>
    Object.freeze({
      name: layer.name,
      type: layer.type,
      outputShape: layer.outputShape ? Object.freeze([...layer.outputShape]) : null,
      params: layer.params,
      macs: layer.macs,
      rf: layer.rf
        ? Object.freeze({
            size: Object.freeze([...layer.rf.size]),
            jump: Object.freeze([...layer.rf.jump]),
            start: Object.freeze([...layer.rf.start]),
          })
        : null,
    }),
  );
}

function receptiveField(name, index) {
  const layer = layerByName(name);
  if (!layer) throw new RangeError(`receptiveField(): no layer named ${JSON.stringify(name)}`);
  return fieldBox(layer, index);
}

function outputShape(spec) {
  const result = resolveSpec(spec);
  return result.error ? null : result.out;
}

function innerWidth(id, fallback) {
  const width = document.getElementById(id).clientWidth - 32;
  return width > 320 ? width : fallback;
}

function init() {
  PANEL_WIDTH = innerWidth("layer-panels", PANEL_WIDTH);
  KERNEL_WIDTH = innerWidth("kernel-panels", KERNEL_WIDTH);
  renderFacts();
  renderDiagram();
  renderInputPanel();
  renderLayerPanels();
  renderPicker();
  renderKernels();
  renderTraining();
  renderPlayground();
  window.anyconv = Object.freeze({
    layers: Object.freeze(hookLayers()),
    receptiveField,
    outputShape,
    select,
  });
  select(0);
  document.body.dataset.ready = String(Math.round(performance.now()));
}

init();

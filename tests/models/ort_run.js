// Runs an ONNX model with ONNX Runtime (npm package onnxruntime-node) on .npy inputs and writes every
// output as OUT_DIR/<output name>.npy: the reference lowbit's real-model tests compare against.
//
//   NODE_PATH=.cache/npm/node_modules node ort_run.js MODEL OUT_DIR NAME=FILE.npy [NAME=FILE.npy ...]
//
// ORT_GRAPH_OPT=disabled|basic|extended|all (default all) sets ONNX Runtime's graph optimization level:
// 'disabled' runs a QDQ model node by node in float, without fusing it into integer kernels.
//
// Handles .npy format 1.0/2.0/3.0, little-endian, C order, the dtypes these tests use.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const { readNpy, writeNpy } = require('./npy.js');

async function main() {
  const [model, outDir, ...inputArgs] = process.argv.slice(2);
  if (!model || !outDir || inputArgs.length === 0) {
    console.error('usage: node ort_run.js MODEL OUT_DIR NAME=FILE.npy [NAME=FILE.npy ...]');
    process.exit(2);
  }
  const feeds = {};
  for (const arg of inputArgs) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new Error(`input '${arg}' is not NAME=FILE.npy`);
    feeds[arg.slice(0, eq)] = readNpy(ort, arg.slice(eq + 1));
  }
  const level = process.env.ORT_GRAPH_OPT || 'all';
  if (!['disabled', 'basic', 'extended', 'all'].includes(level)) throw new Error(`ORT_GRAPH_OPT='${level}' is not disabled|basic|extended|all`);
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: level,
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    executionProviders: ['cpu'],
  });
  const start = process.hrtime.bigint();
  const results = await session.run(feeds);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of session.outputNames) {
    writeNpy(path.join(outDir, `${name}.npy`), results[name]);
    console.log(`onnxruntime ${ort.env.versions ? ort.env.versions.common : ''}: ${name} ` +
                `${results[name].type}[${results[name].dims.join('x')}] (${ms.toFixed(1)} ms)`);
  }
}

main().catch((e) => {
  console.error(`ort_run.js: ${e.message || e}`);
  process.exit(1);
});

// Runs an ONNX model with ONNX Runtime (npm package onnxruntime-node) on .npy inputs and writes every
// output as OUT_DIR/<output name>.npy: the reference lowbit's real-model tests compare against.
//
//   NODE_PATH=.cache/npm/node_modules node ort_run.js MODEL OUT_DIR NAME=FILE.npy [NAME=FILE.npy ...]
//
// Handles .npy format 1.0/2.0/3.0, little-endian, C order, the dtypes these tests use.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

// npy descr -> [onnxruntime type, TypedArray]
const DTYPES = {
  '<f4': ['float32', Float32Array],
  '<f8': ['float64', Float64Array],
  '<i4': ['int32', Int32Array],
  '<i8': ['int64', BigInt64Array],
  '|i1': ['int8', Int8Array],
  '|u1': ['uint8', Uint8Array],
  '|b1': ['bool', Uint8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', headerStart, headerStart + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${file}: bad .npy header ${header}`);
  if (fortran[1] === 'True') throw new Error(`${file}: fortran_order arrays are not supported`);
  const type = DTYPES[descr[1]];
  if (!type) throw new Error(`${file}: unsupported dtype ${descr[1]}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const bytes = buf.subarray(dataStart, dataStart + count * type[1].BYTES_PER_ELEMENT);
  // Copy into an aligned buffer: the data offset need not be a multiple of the element size.
  const data = new type[1](count);
  new Uint8Array(data.buffer).set(bytes);
  const values = descr[1] === '|b1' ? Array.from(data, (v) => v !== 0) : data;
  return new ort.Tensor(type[0], values, dims);
}

function writeNpy(file, tensor) {
  const entry = Object.entries(DTYPES).find(([, t]) => t[0] === tensor.type);
  if (!entry) throw new Error(`output type ${tensor.type} cannot be written as .npy`);
  const dims = tensor.dims;
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = tensor.type === 'bool' ? Uint8Array.from(tensor.data, (v) => (v ? 1 : 0)) : tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]));
}

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
    feeds[arg.slice(0, eq)] = readNpy(arg.slice(eq + 1));
  }
  const session = await ort.InferenceSession.create(model, {
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

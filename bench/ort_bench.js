// ONNX Runtime side of bench/compare_ort.py: a persistent process that loads one session once and then
// serves commands, one JSON object per line on stdin, one JSON reply per line on stdout. Keeping the
// session alive lets compare_ort.py interleave short rounds of ORT and lowbit without paying ORT's
// load time per round.
//
//   NODE_PATH=.cache/npm/node_modules node bench/ort_bench.js MODEL --threads N NAME=FILE.npy [...]
//   node bench/ort_bench.js --baseline      (loads nothing: the bare-node memory baseline)
//
// Commands:
//   {"cmd": "run", "warmup": W, "iterations": K}  -> {"latencies_ms": [...]}   (warmup runs untimed)
//   {"cmd": "save", "dir": DIR}                   -> {"outputs": {name: file}}  (one run, outputs as .npy)
//   {"cmd": "exit"}                               -> process exits
// The first line written is {"ready": true, ...} (or {"error": ...}). Diagnostics go to stderr.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const { readNpy, writeNpy } = require('../tests/models/npy.js');

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Same file naming as `lowbit run --output-dir`, so compare_ort.py pairs outputs by file name.
function outputFileName(name) {
  return name.replace(/[^A-Za-z0-9._-]/g, '_') + '.npy';
}

function parseArgs(argv) {
  const args = { model: null, threads: 1, inputs: {}, baseline: false };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--baseline') args.baseline = true;
    else if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a.includes('=') && args.model) {
      const eq = a.indexOf('=');
      args.inputs[a.slice(0, eq)] = a.slice(eq + 1);
    } else if (!args.model) args.model = a;
    else throw new Error(`unexpected argument '${a}'`);
  }
  if (!args.baseline && (!args.model || Object.keys(args.inputs).length === 0))
    throw new Error('usage: ort_bench.js MODEL --threads N NAME=FILE.npy [...] | ort_bench.js --baseline');
  if (!Number.isInteger(args.threads) || args.threads < 1) throw new Error('--threads must be a positive integer');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let session = null;
  let feeds = null;
  if (args.baseline) {
    reply({ ready: true, baseline: true });
  } else {
    const ort = require('onnxruntime-node');
    feeds = {};
    for (const [name, file] of Object.entries(args.inputs)) feeds[name] = readNpy(ort, file);
    const start = process.hrtime.bigint();
    session = await ort.InferenceSession.create(args.model, {
      intraOpNumThreads: args.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
    });
    const loadMs = Number(process.hrtime.bigint() - start) / 1e6;
    let version = '';
    try {
      version = require('onnxruntime-node/package.json').version;
    } catch (e) {
      version = ort.env && ort.env.versions ? ort.env.versions.common : '';
    }
    reply({ ready: true, version, load_ms: loadMs, threads: args.threads, inputs: session.inputNames,
            outputs: session.outputNames });
  }

  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      reply({ error: `bad command: ${line}` });
      continue;
    }
    try {
      if (cmd.cmd === 'exit') break;
      if (!session) throw new Error(`'${cmd.cmd}' needs a model (this is a --baseline process)`);
      if (cmd.cmd === 'run') {
        for (let i = 0; i < (cmd.warmup || 0); ++i) await session.run(feeds);
        const latencies = [];
        for (let i = 0; i < (cmd.iterations || 1); ++i) {
          const start = process.hrtime.bigint();
          await session.run(feeds);
          latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
        reply({ latencies_ms: latencies });
      } else if (cmd.cmd === 'save') {
        const results = await session.run(feeds);
        fs.mkdirSync(cmd.dir, { recursive: true });
        const outputs = {};
        for (const name of session.outputNames) {
          const file = path.join(cmd.dir, outputFileName(name));
          writeNpy(file, results[name]);
          outputs[name] = file;
        }
        reply({ outputs });
      } else {
        throw new Error(`unknown command '${cmd.cmd}'`);
      }
    } catch (e) {
      reply({ error: String(e.message || e) });
    }
  }
  process.exit(0);
}

main().catch((e) => {
  reply({ error: String(e.message || e) });
  console.error(`ort_bench.js: ${e.message || e}`);
  process.exit(1);
});

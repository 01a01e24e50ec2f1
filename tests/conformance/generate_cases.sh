#!/bin/sh
# Generates ONNX's node conformance cases (OUT/node/<case>/{model.onnx,test_data_set_*}) with Debian's
# python3-onnx 1.12. Idempotent: does nothing when OUT/node already holds the cases.
#   generate_cases.sh OUT
# numpy >= 1.24 removed the np.float/np.int/... aliases onnx 1.12's generators still use; they are put back.
set -eu
out=${1:?usage: generate_cases.sh OUT}
python=${PYTHON:-/usr/bin/python3}
if [ -d "$out/node" ] && [ "$(find "$out/node" -mindepth 2 -maxdepth 2 -name model.onnx | wc -l)" -ge 900 ]; then
  exit 0
fi
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
"$python" -c "
import numpy as np
np.float = float; np.int = int; np.bool = bool; np.object = object
import sys
from onnx.backend.test import cmd_tools
sys.argv = ['generate-data', 'generate-data', '-o', sys.argv[1]]
cmd_tools.main()
" "$tmp" >/dev/null
mkdir -p "$out"
rm -rf "$out/node"
mv "$tmp/node" "$out/node"
echo "generated $(ls "$out/node" | wc -l) ONNX node cases in $out/node"

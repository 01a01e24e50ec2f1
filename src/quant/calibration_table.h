// The calibration table: lowbit's reviewable, editable record of calibration (DESIGN.md convention 6).
// Calibration writes it; a separate step reads it back and quantizes with it, so a person can inspect or
// edit ranges in between (or import them from a TensorRT cache, see calibration_cache.h).
//
//   LB_RETURN_IF_ERROR(quant::write_calibration_table("model.calib.json", table, opt));
//   quant::CalibOptions used;
//   LB_ASSIGN_OR_RETURN(auto back, quant::read_calibration_table("model.calib.json", &used));
//
// Format (JSON; floats are written so they read back bit-exact):
//   {
//     "format": "lowbit-calibration-table", "version": 1,
//     "options": {"method": "auto", "percentile": 99.99, "range": "auto", "unsigned": false},
//     "tensors": [
//       {"name": "conv1_out", "method": "auto:mse", "min": -1.5, "max": 6.1, "range_lo": -4.2, "range_hi": 4.2,
//        "threshold": 4.2, "scale": 0.0330709, "zero_point": 0, "symmetric": true, "is_unsigned": false,
//        "quant_mse": 1.1e-4, "count": 802816, "nonfinite_count": 0,
//        "candidates": [{"method": "minmax", "threshold": 6.1, "range_lo": -6.1, "range_hi": 6.1,
//                        "quant_mse": 3.1e-4}, ...],
//        "histogram": [...64 counts...], "histogram_lo": -1.5, "histogram_hi": 6.1},
//       ...]
//   }
// scale and zero_point are what gets applied; every other tensor field is informational. A hand-written entry
// needs only "name", "scale" and "zero_point": "is_unsigned" defaults to false, "symmetric" to whether the
// zero point is the grid's centre (0 for int8, 128 for uint8), and range_lo/range_hi/threshold to the range
// the grid covers. Unknown keys are errors (a misspelt key must not be silently ignored).
#pragma once
#include <string>
#include <vector>

#include "lowbit/status.h"
#include "quant/calibration_methods.h"

namespace lowbit::quant {

// Validates (see validate_calibration_table) and writes the table; nothing is written when it is invalid.
Status write_calibration_table(const std::string& path, const std::vector<TensorCalibration>& table,
                               const CalibOptions& opt);
// Reads and validates a table; the options block goes to *options when given. Errors name the file and the
// tensor ("model.calib.json: tensor #3 ('conv1'): 'scale' must be > 0 and finite, got -1"), or the line and
// column of a JSON syntax error.
Expected<std::vector<TensorCalibration>> read_calibration_table(const std::string& path,
                                                                CalibOptions* options = nullptr);

// In-memory forms of the two above; `source` names the text in errors.
Expected<std::string> format_calibration_table(const std::vector<TensorCalibration>& table, const CalibOptions& opt);
Expected<std::vector<TensorCalibration>> parse_calibration_table(const std::string& text,
                                                                 const std::string& source = "<table>",
                                                                 CalibOptions* options = nullptr);

// The rules both directions enforce: names non-empty and unique; scale > 0 and finite; zero point inside the
// type (int8 [-128, 127], uint8 [0, 255]) and, when symmetric, equal to the grid's centre (0 / 128); all floats
// finite; min <= max, range_lo <= range_hi, histogram_lo <= histogram_hi; threshold, quant_mse, counts and
// histogram counts >= 0; options valid (validate_calib_options).
Status validate_calibration_table(const std::vector<TensorCalibration>& table, const CalibOptions& opt);

}  // namespace lowbit::quant

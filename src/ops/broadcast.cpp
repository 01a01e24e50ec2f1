#include "ops/broadcast.h"

#include <algorithm>

namespace lowbit {

bool broadcast_dims(const std::vector<std::vector<Dim>>& shapes, std::vector<Dim>* out, std::string* why) {
  size_t rank = 0;
  for (auto& s : shapes) rank = std::max(rank, s.size());
  out->assign(rank, Dim(1));
  for (size_t r = 0; r < rank; ++r) {
    Dim result(1);
    bool have_result = false;
    for (auto& s : shapes) {
      if (s.size() + r < rank) continue;  // this input has no dim here (implicit 1)
      const Dim& d = s[r - (rank - s.size())];
      if (d.known() && d.value == 1) continue;
      if (!have_result) { result = d; have_result = true; continue; }
      if (result.known() && d.known()) {
        if (result.value != d.value) {
          if (why) {
            std::string list;
            for (auto& sh : shapes) {
              list += list.empty() ? "[" : " vs [";
              for (size_t i = 0; i < sh.size(); ++i) list += (i ? "," : "") + sh[i].to_string();
              list += "]";
            }
            *why = "shapes " + list + " cannot be broadcast (dim " + std::to_string(r) + ": " + result.to_string() +
                   " vs " + d.to_string() + ")";
          }
          return false;
        }
      } else if (result.known() && !d.known()) {
        // a known dim > 1 decides; the symbol must equal it at run time
      } else if (!result.known() && d.known()) {
        result = d;
      } else if (!(result == d)) {
        result = Dim();  // two different unknowns: unknown
      }
    }
    (*out)[r] = result;
  }
  return true;
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank, 1);
  for (size_t r = 0; r < rank; ++r) {
    int64_t da = r + a.size() >= rank ? a[r + a.size() - rank] : 1;
    int64_t db = r + b.size() >= rank ? b[r + b.size() - rank] : 1;
    out[r] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    size_t i = in.size() - 1 - k;
    size_t o = out.size() - 1 - k;
    strides[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return strides;
}

}  // namespace lowbit

// See README.md: declarations only.
#pragma once

#include <chrono>

namespace gloo {
// Named by ProcessGroupGloo's inline setTimeout, which the shim never calls (it is virtual and
// emitted in libtorch with ProcessGroupGloo's vtable): a declaration, no definition.
class Context {
 public:
  void setTimeout(std::chrono::milliseconds timeout);
};
} // namespace gloo

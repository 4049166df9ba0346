// Autocast (automatic mixed precision) for one device type, which tch 0.24 reaches only for CUDA
// and only with its default dtype (`at::autocast::set_enabled`): the thread-local switch and
// dtype that `torch.autocast(device_type, dtype)` sets.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include "gd.hpp"

extern "C" {

// Autocast on `cuda ? CUDA : CPU` to `scalar_type` (at::ScalarType: 5 Half, 15 BFloat16) when
// `enabled`, off otherwise; `previous` receives the state before the call (-1 off, else its
// dtype) for the caller to restore. Autocast's cache of lower-precision copies of weights is
// turned off: gantry updates weights in place within a region (an unrolled D's look-ahead
// steps), where a cached copy would be stale; each use casts afresh.
int gd_autocast_set(int cuda, int enabled, int scalar_type, int* previous, char** err) {
  return gd::guarded(err, [&] {
    const auto dev = cuda ? at::kCUDA : at::kCPU;
    *previous = at::autocast::is_autocast_enabled(dev)
        ? static_cast<int>(at::autocast::get_autocast_dtype(dev))
        : -1;
    at::autocast::set_autocast_cache_enabled(false);
    if (enabled) {
      at::autocast::set_autocast_dtype(dev, static_cast<at::ScalarType>(scalar_type));
    }
    at::autocast::set_autocast_enabled(dev, enabled != 0);
  });
}

} // extern "C"

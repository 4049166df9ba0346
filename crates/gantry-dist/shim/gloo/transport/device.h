// See README.md: declarations only.
#pragma once

namespace gloo {
namespace transport {
class Device;
// Held by unique_ptr in ProcessGroupGloo's Send/RecvWork, which the shim never creates.
class UnboundBuffer {
 public:
  virtual ~UnboundBuffer();
};
} // namespace transport
} // namespace gloo

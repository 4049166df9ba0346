// What the Gloo and NCCL halves of the shim share: a process group is a c10d store and the
// backend (ProcessGroupGloo or ProcessGroupNCCL) built on it; collectives are the Backend's
// virtual methods, so one set of entry points serves both.
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace gd {

// What a synchronised BatchNorm's backward (sync_bn.cpp) needs after the forward has returned:
// the group, and a place for the failure of a collective it issued (the autograd engine must not
// see an exception from it; the caller asks for the failure after the backward pass).
struct SyncState : torch::CustomClassHolder {
  c10::intrusive_ptr<c10d::Backend> pg;
  std::chrono::milliseconds timeout;
  std::mutex m;
  std::string error;
  // The failure is a use the layer does not support (a second derivative), not a collective's.
  bool unsupported = false;

  void fail(const std::string& what, bool unsupported_use = false) {
    std::lock_guard<std::mutex> lock(m);
    if (error.empty()) {
      error = what.substr(0, what.find('\n'));
      unsupported = unsupported_use;
    }
  }
};

} // namespace gd

struct gd_group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;
  std::chrono::milliseconds timeout;
  // Made by the first synchronised BatchNorm; shared with the backward passes it set up.
  c10::intrusive_ptr<gd::SyncState> bn;
};

namespace gd {

// Every collective of every group in this process is issued (enqueued, not waited for) under one
// mutex. PyTorch 2.11's flight recorder, a process-wide singleton that ProcessGroupGloo::enqueue
// records into (on by default: TORCH_FR_BUFFER_SIZE 2000), inserts a group's status into a
// std::map before taking its own lock (FlightRecorderDetail.hpp, recordWithResetEnabled), so two
// groups of one process issuing their first collectives at once corrupt the map: a crash in
// _Rb_tree_insert_and_rebalance, or a thread spinning forever in the broken tree. One rank per
// process (training) never races; ranks on threads of one process (tests) did.
template <typename F>
auto issue(F f) {
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  return f();
}

// The first line of `what`, malloc'd (c10 appends a C++ backtrace to its messages).
inline char* message(const std::string& what) {
  std::string line = what.substr(0, what.find('\n'));
  char* out = static_cast<char*>(std::malloc(line.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, line.c_str(), line.size() + 1);
  }
  return out;
}

// Runs f; every C++ exception becomes a message in *err and a return value of 1.
template <typename F>
int guarded(char** err, F f) {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    *err = message(e.what());
  } catch (...) {
    *err = message("unknown C++ exception");
  }
  return 1;
}

// The TCP store of a group of `world` ranks, served by rank 0 at host:port — unless torchrun's
// agent already serves it there (TORCHELASTIC_USE_AGENT_STORE=True, as PyTorch's own
// `_create_c10d_store` reads it), when every rank is a client.
inline c10::intrusive_ptr<c10d::Store> tcp_store(const char* host, uint16_t port, int rank, int world,
                                                 std::chrono::milliseconds timeout) {
  const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  c10d::TCPStoreOptions o;
  o.port = port;
  o.isServer = rank == 0 && !(agent != nullptr && std::string(agent) == "True");
  o.numWorkers = static_cast<std::size_t>(world);
  o.waitWorkers = true;
  o.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(std::string(host), o);
}

} // namespace gd

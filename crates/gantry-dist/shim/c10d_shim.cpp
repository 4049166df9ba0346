// gantry-dist's C++ side: PyTorch's c10d (TCPStore/FileStore, ProcessGroupGloo; ProcessGroupNCCL
// in c10d_nccl.cpp under the `nccl` feature) behind a small C ABI. Every entry point catches every
// C++ exception and returns it as a message (malloc'd, freed by gd_free_message): nothing unwinds
// into Rust. Tensors arrive as tch's `C_tensor*`, which is
// an `at::Tensor*`.
#define USE_C10D_GLOO 1

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "gd.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

// The layout libtorch 2.11.0 was compiled with (the gloo types are declared, not defined, here:
// shim/gloo/README.md). A different libtorch fails the build here rather than at run time.
static_assert(sizeof(c10d::ProcessGroupGloo) == 488, "ProcessGroupGloo's layout changed: this shim is for libtorch 2.11.0");
static_assert(sizeof(c10d::ProcessGroupGloo::Options) == 176, "ProcessGroupGloo::Options' layout changed: this shim is for libtorch 2.11.0");

namespace {

using gd::guarded;

at::Tensor& tensor(void* t) {
  return *static_cast<at::Tensor*>(t);
}

void wait(gd_group* g, const c10::intrusive_ptr<c10d::Work>& work) {
  work->wait(g->timeout);
}

} // namespace

extern "C" {

// A process group of `world` ranks: a TCP store served by rank 0 at host:port, or (when `file` is
// not empty) a file store. `device_host` is the address Gloo binds (empty: this machine's
// hostname, else loopback).
gd_group* gd_new(const char* host, uint16_t port, const char* file, int rank, int world, int64_t timeout_ms,
                 const char* device_host, char** err) {
  gd_group* out = nullptr;
  guarded(err, [&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10::intrusive_ptr<c10d::Store> store;
    if (file != nullptr && *file != '\0') {
      store = c10::make_intrusive<c10d::FileStore>(std::string(file), world);
    } else {
      store = gd::tcp_store(host, port, rank, world, timeout);
    }
    store->setTimeout(timeout);
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    if (device_host != nullptr && *device_host != '\0') {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(std::string(device_host)));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    c10::intrusive_ptr<c10d::Backend> pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);
    out = new gd_group{store, pg, timeout};
  });
  return out;
}

void gd_free(gd_group* g) {
  try {
    delete g;
  } catch (...) {
  }
}

void gd_free_message(char* m) {
  std::free(m);
}

// In place: the element-wise sum over ranks.
int gd_allreduce_sum(gd_group* g, void* t, char** err) {
  return guarded(err, [&] {
    std::vector<at::Tensor> v{tensor(t)};
    wait(g, gd::issue([&] { return g->pg->allreduce(v, c10d::AllreduceOptions{}); }));
  });
}

// In place: rank `root`'s values on every rank.
int gd_broadcast(gd_group* g, void* t, int root, char** err) {
  return guarded(err, [&] {
    std::vector<at::Tensor> v{tensor(t)};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    wait(g, gd::issue([&] { return g->pg->broadcast(v, o); }));
  });
}

// `outputs[r]` (world tensors shaped like `input`) receives rank r's `input`.
int gd_allgather(gd_group* g, void** outputs, int n, void* input, char** err) {
  return guarded(err, [&] {
    std::vector<std::vector<at::Tensor>> out(1);
    for (int i = 0; i < n; ++i) {
      out[0].push_back(tensor(outputs[i]));
    }
    std::vector<at::Tensor> in{tensor(input)};
    wait(g, gd::issue([&] { return g->pg->allgather(out, in, c10d::AllgatherOptions{}); }));
  });
}

int gd_barrier(gd_group* g, char** err) {
  return guarded(err, [&] { wait(g, gd::issue([&] { return g->pg->barrier(c10d::BarrierOptions{}); })); });
}

} // extern "C"

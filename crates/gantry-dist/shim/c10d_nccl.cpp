// The `nccl` feature: ProcessGroupNCCL (CUDA tensors, one GPU per rank) over a TCP store, behind
// the same gd_group as the Gloo half, so the collectives in c10d_shim.cpp serve it. Compiled
// against libtorch's c10d headers and the headers of the CUDA runtime and NCCL wheels
// (GANTRY_CUDA_INCLUDE; `cargo xtask setup --nccl-headers` fetches them).
#define USE_C10D_NCCL 1

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "gd.hpp"

extern "C" {

// A NCCL group of `world` ranks meeting at the TCP store rank 0 serves at host:port; this rank
// uses GPU `device`.
gd_group* gd_new_nccl(const char* host, uint16_t port, int rank, int world, int64_t timeout_ms, int device,
                      char** err) {
  gd_group* out = nullptr;
  gd::guarded(err, [&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10::intrusive_ptr<c10d::Store> store = gd::tcp_store(host, port, rank, world, timeout);
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    auto gpu = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device));
    c10::cuda::set_device(gpu.index());
    auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, opts);
    // One GPU per rank, known up front: NCCL's communicator is made for it alone.
    nccl->setBoundDeviceId(gpu);
    c10::intrusive_ptr<c10d::Backend> pg = nccl;
    out = new gd_group{store, pg, timeout};
  });
  return out;
}

} // extern "C"

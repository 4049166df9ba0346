// Synchronised BatchNorm: batch statistics over every rank's rows of the batch, as one process
// holding the whole batch computes them (PyTorch's nn.SyncBatchNorm). A custom autograd function
// (tch has none), returned to Rust as an `at::Tensor*`:
//
// forward (training): every rank all-gathers (count n_r, mean m_r, M2_r = Σ (x − m_r)²) per
//   channel and combines them in rank order (Chan et al.'s parallel variance), so every rank gets
//   the same mean μ and biased variance σ² of all N = Σ n_r values; y = x·α + β with
//   α = γ/√(σ² + ε), β = b − μ·α (libtorch's CPU kernel's form); the running statistics move by
//   `momentum` towards μ and the unbiased σ²·N/(N − 1).
// backward: all-reduce Σ dy and Σ dy·(x − μ) per channel, then
//   dx = (dy − mean(dy) − (x − μ)/(σ² + ε) · mean(dy·(x − μ))) · α,
//   the means over all N values; dγ = Σ_local dy·(x − μ)/√(σ² + ε), db = Σ_local dy (this rank's
//   rows: the gradient averaging over ranks that follows makes them the whole batch's, as for
//   every other parameter).
//
// A collective that fails in the backward is recorded in the group's SyncState (the engine would
// turn an exception into a panic on the Rust side) and the gradients are this rank's alone; the
// training loop asks for the failure after each step and stops. A second derivative (a gradient
// penalty through the layer) is refused the same way: the all-reduced sums are not differentiable.
#include <torch/csrc/autograd/custom_function.h>

#include "gd.hpp"

#include <optional>
#include <vector>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::vector<int64_t> reduced_dims(const at::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t i = 2; i < x.dim(); ++i) {
    dims.push_back(i);
  }
  return dims;
}

// [C] → [1, C, 1, …] to broadcast against x.
at::Tensor per_channel(const at::Tensor& v, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = v.numel();
  return v.view(shape);
}

// `t`'s copies on the group's device kind: Gloo takes CPU tensors.
bool host_side(const gd::SyncState& s) {
  return s.pg->getBackendName() == "gloo";
}

at::Tensor to_group(const gd::SyncState& s, const at::Tensor& t) {
  return (host_side(s) ? t.cpu() : t).contiguous();
}

// In place on a fresh buffer, returned on `device`.
at::Tensor allreduce_sum(gd::SyncState& s, const at::Tensor& t) {
  std::vector<at::Tensor> v{to_group(s, t)};
  gd::issue([&] { return s.pg->allreduce(v, c10d::AllreduceOptions{}); })->wait(s.timeout);
  return v[0].to(t.device());
}

// Every rank's `t`, stacked in rank order, on `t`'s device.
at::Tensor allgather(gd::SyncState& s, const at::Tensor& t) {
  at::Tensor in = to_group(s, t);
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < s.pg->getSize(); ++r) {
    out[0].push_back(at::empty_like(in));
  }
  std::vector<at::Tensor> input{in};
  gd::issue([&] { return s.pg->allgather(out, input, c10d::AllgatherOptions{}); })->wait(s.timeout);
  return at::stack(out[0]).to(t.device());
}

// The running statistics, updated in place by the forward: not inputs of the autograd graph.
struct Running {
  at::Tensor mean;
  at::Tensor var;
};

struct SyncBatchNorm : public torch::autograd::Function<SyncBatchNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const std::optional<at::Tensor>& weight,
                            const std::optional<at::Tensor>& bias, Running running, double momentum, double eps, c10::intrusive_ptr<gd::SyncState> state) {
    TORCH_CHECK(x.dim() >= 2, "synchronised BatchNorm: expected [N, C, …], found ", x.dim(), " dimensions");
    const int64_t channels = x.size(1);
    const auto dims = reduced_dims(x);
    const double n_local = static_cast<double>(x.numel() / std::max<int64_t>(channels, 1));
    // This rank's count, mean and M2 per channel, in double.
    at::Tensor mean_l = n_local > 0 ? at::mean(x, dims, false, at::kDouble)
                                    : at::zeros({channels}, x.options().dtype(at::kDouble));
    at::Tensor xc = x - per_channel(mean_l.to(x.scalar_type()), x);
    at::Tensor m2_l = at::sum(xc * xc, dims, false, at::kDouble);
    at::Tensor mine = at::cat({at::full({1}, n_local, mean_l.options()), mean_l, m2_l});
    at::Tensor all = allgather(*state, mine); // [world, 1 + 2C]
    // Chan's combination, rank by rank (the same order, hence the same bits, on every rank).
    double n = 0.0;
    at::Tensor mean = at::zeros({channels}, mean_l.options());
    at::Tensor m2 = at::zeros({channels}, mean_l.options());
    for (int64_t r = 0; r < all.size(0); ++r) {
      const double nr = all[r][0].item<double>();
      if (nr <= 0) {
        continue;
      }
      at::Tensor mr = all[r].narrow(0, 1, channels);
      at::Tensor m2r = all[r].narrow(0, 1 + channels, channels);
      const double total = n + nr;
      at::Tensor delta = mr - mean;
      mean = mean + delta * (nr / total);
      m2 = m2 + m2r + delta * delta * (n * nr / total);
      n = total;
    }
    TORCH_CHECK(n > 1, "synchronised BatchNorm: expected more than 1 value per channel over all ranks, found ", n);
    at::Tensor var = m2 / n;
    at::Tensor invstd = (var + eps).rsqrt();
    {
      at::NoGradGuard no_grad;
      if (running.mean.defined()) {
        running.mean.copy_(running.mean * (1 - momentum) + mean.to(running.mean.scalar_type()) * momentum);
      }
      if (running.var.defined()) {
        running.var.copy_(running.var * (1 - momentum) +
                          (var * (n / (n - 1))).to(running.var.scalar_type()) * momentum);
      }
    }
    const auto kind = x.scalar_type();
    at::Tensor mean_x = mean.to(kind);
    at::Tensor invstd_x = invstd.to(kind);
    at::Tensor alpha = weight.has_value() && weight->defined() ? invstd_x * *weight : invstd_x;
    at::Tensor beta = -mean_x * alpha;
    if (bias.has_value() && bias->defined()) {
      beta = beta + *bias;
    }
    at::Tensor y = x * per_channel(alpha, x) + per_channel(beta, x);

    ctx->save_for_backward({x});
    ctx->saved_data["mean"] = mean_x;
    ctx->saved_data["invstd"] = invstd_x;
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["count"] = n;
    ctx->saved_data["weight"] = weight.has_value() && weight->defined();
    ctx->saved_data["bias"] = bias.has_value() && bias->defined();
    ctx->saved_data["state"] = c10::IValue::make_capsule(state);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor x = ctx->get_saved_variables()[0];
    at::Tensor dy = grads[0];
    at::Tensor mean = ctx->saved_data["mean"].toTensor();
    at::Tensor invstd = ctx->saved_data["invstd"].toTensor();
    at::Tensor alpha = ctx->saved_data["alpha"].toTensor();
    const double n = ctx->saved_data["count"].toDouble();
    auto state = c10::static_intrusive_pointer_cast<gd::SyncState>(ctx->saved_data["state"].toCapsule());
    const auto dims = reduced_dims(x);
    at::Tensor xmu = x - per_channel(mean, x);
    at::Tensor sum_dy = at::sum(dy, dims, false, at::kDouble);
    at::Tensor sum_dy_xmu = at::sum(dy * xmu, dims, false, at::kDouble);
    if (at::GradMode::is_enabled()) {
      state->fail(
          "synchronised BatchNorm has no second derivative (a gradient penalty through a BatchNorm "
          "network): set dist.sync_batchnorm = false",
          true);
    }
    at::Tensor sums = at::cat({sum_dy, sum_dy_xmu});
    try {
      sums = allreduce_sum(*state, sums);
    } catch (const std::exception& e) {
      state->fail(std::string("synchronised BatchNorm's backward all-reduce: ") + e.what());
    }
    const int64_t channels = x.size(1);
    at::Tensor mean_dy = (sums.narrow(0, 0, channels) / n).to(x.scalar_type());
    at::Tensor mean_dy_xmu = (sums.narrow(0, channels, channels) / n).to(x.scalar_type());
    at::Tensor dx = (dy - per_channel(mean_dy, x) - xmu * per_channel(invstd * invstd * mean_dy_xmu, x)) *
                    per_channel(alpha, x);
    at::Tensor dweight = ctx->saved_data["weight"].toBool() ? (sum_dy_xmu.to(x.scalar_type()) * invstd)
                                                            : at::Tensor();
    at::Tensor dbias = ctx->saved_data["bias"].toBool() ? sum_dy.to(x.scalar_type()) : at::Tensor();
    // One entry per argument of forward: x, weight, bias, running, momentum, eps, state.
    return {dx, dweight, dbias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor* optional_tensor(void* t) {
  return static_cast<at::Tensor*>(t);
}

} // namespace

extern "C" {

// *out = BatchNorm of `x` in training mode with statistics over every rank's `x` (see above);
// `weight`, `bias` may be null (affine = false), `running_mean`, `running_var` too.
int gd_sync_batch_norm(gd_group* g, void* x, void* weight, void* bias, void* running_mean, void* running_var,
                       double momentum, double eps, void** out, char** err) {
  return gd::guarded(err, [&] {
    if (!g->bn) {
      g->bn = c10::make_intrusive<gd::SyncState>();
      g->bn->pg = g->pg;
      g->bn->timeout = g->timeout;
    }
    std::optional<at::Tensor> w, b;
    if (weight != nullptr) {
      w = *optional_tensor(weight);
    }
    if (bias != nullptr) {
      b = *optional_tensor(bias);
    }
    Running running{running_mean != nullptr ? *optional_tensor(running_mean) : at::Tensor(),
                    running_var != nullptr ? *optional_tensor(running_var) : at::Tensor()};
    at::Tensor y = SyncBatchNorm::apply(*optional_tensor(x), w, b, running, momentum, eps, g->bn);
    *out = new at::Tensor(std::move(y));
  });
}

// 1 and the message when a synchronised BatchNorm's backward failed since the last call (2 when
// it was asked for something it does not support).
int gd_take_sync_failure(gd_group* g, char** err) {
  if (!g->bn) {
    return 0;
  }
  std::lock_guard<std::mutex> lock(g->bn->m);
  if (g->bn->error.empty()) {
    return 0;
  }
  *err = gd::message(g->bn->error);
  g->bn->error.clear();
  return g->bn->unsupported ? 2 : 1;
}

} // extern "C"

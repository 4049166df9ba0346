// libtorch's multi-tensor Adam kernel (`at::_fused_adam_`, what `torch.optim.Adam(fused=True)`
// calls), which tch does not expose: one call updates every parameter of an optimiser, reading
// each element of the parameter, gradient and moments once, instead of a handful of element-wise
// kernels per tensor. Tensors arrive as tch's `C_tensor*` (an `at::Tensor*`).
#include <ATen/ATen.h>
#include <ATen/ops/_fused_adam.h>

#include "gd.hpp"

#include <vector>

namespace {
at::Tensor& tensor(void* t) {
  return *static_cast<at::Tensor*>(t);
}
} // namespace

extern "C" {

// One Adam step (`step` is this update's count, 1 for the first) over the n parameters, their
// gradients and moments, in place. The kernel walks the four tensors of a parameter in memory
// order (data_ptr and numel), so a gradient laid out otherwise than its parameter (an NCHW
// gradient of a channels-last weight) is first copied into the parameter's layout; the moments
// must be in it already.
int gd_fused_adam(void** params, void** grads, void** exp_avgs, void** exp_avg_sqs, int n, double step,
                  double lr, double beta1, double beta2, double weight_decay, double eps, char** err) {
  return gd::guarded(err, [&] {
    if (n == 0) {
      return;
    }
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> p, g, m, v, steps;
    p.reserve(n);
    g.reserve(n);
    m.reserve(n);
    v.reserve(n);
    const at::Tensor& first = tensor(params[0]);
    at::Tensor count = at::full({}, step, first.options().dtype(at::kFloat));
    for (int i = 0; i < n; ++i) {
      const at::Tensor& param = tensor(params[i]);
      const auto format = param.suggest_memory_format();
      TORCH_CHECK(param.is_contiguous(format), "a parameter that is not dense");
      at::Tensor grad = tensor(grads[i]);
      if (!grad.is_contiguous(format)) {
        grad = grad.contiguous(format);
      }
      for (const at::Tensor* t : {&tensor(exp_avgs[i]), &tensor(exp_avg_sqs[i])}) {
        TORCH_CHECK(t->is_contiguous(format), "an Adam moment laid out otherwise than its parameter");
      }
      p.push_back(param);
      g.push_back(grad);
      m.push_back(tensor(exp_avgs[i]));
      v.push_back(tensor(exp_avg_sqs[i]));
      steps.push_back(count);
    }
    at::_fused_adam_(p, g, m, v, {}, steps, lr, beta1, beta2, weight_decay, eps, /*amsgrad=*/false,
                     /*maximize=*/false);
  });
}

} // extern "C"

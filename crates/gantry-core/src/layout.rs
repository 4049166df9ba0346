//! Memory formats of image tensors: NCHW (contiguous, libtorch's default) and NHWC
//! ("channels-last": the same shape `[N, C, H, W]` with the channels innermost in memory, which
//! oneDNN's CPU convolutions and GPU tensor cores prefer).
//!
//! tch 0.24 has no memory-format argument, but a layout is only strides: `x.permute(0, 2, 3, 1)
//! .contiguous().permute(0, 3, 1, 2)` is exactly `x.contiguous(memory_format=torch.channels_last)`
//! (same shape, strides `[H·W·C, 1, W·C, C]`), and libtorch's operators read the format from the
//! strides (`suggest_memory_format`), so no C++ is needed. A network is switched by replacing its
//! 4-D variables' data in place ([`to_store`]), which every handle of the variable (an
//! optimiser's, an EMA's) sees.

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

/// How 4-D tensors are laid out in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryFormat {
    /// `[N, C, H, W]` row-major: libtorch's contiguous format.
    Nchw,
    /// Channels-last: `[N, C, H, W]` with strides `[H·W·C, 1, W·C, C]`.
    Nhwc,
}

impl MemoryFormat {
    /// Its name in configs (`nchw`, `nhwc`).
    pub fn name(self) -> &'static str {
        match self {
            MemoryFormat::Nchw => "nchw",
            MemoryFormat::Nhwc => "nhwc",
        }
    }

    /// `x` in this format: a 4-D tensor copied if its layout differs (the same values); any other
    /// tensor as it is (a shallow clone).
    pub fn apply(self, x: &Tensor) -> Tensor {
        if !x.defined() || x.dim() != 4 || is(x, self) {
            return x.shallow_clone();
        }
        match self {
            MemoryFormat::Nchw => x.contiguous(),
            MemoryFormat::Nhwc => x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]),
        }
    }

    /// The format libtorch's kernels would pick for `x` (its `suggest_memory_format`): NHWC when
    /// its strides are channels-last ones and it is not also plainly contiguous.
    pub fn of(x: &Tensor) -> MemoryFormat {
        if x.dim() == 4 && !x.is_contiguous() && is(x, MemoryFormat::Nhwc) {
            MemoryFormat::Nhwc
        } else {
            MemoryFormat::Nchw
        }
    }
}

/// Whether the 4-D `x` is densely laid out in `format` (size-1 dimensions' strides do not count,
/// as in libtorch's `is_contiguous(memory_format)`).
fn is(x: &Tensor, format: MemoryFormat) -> bool {
    let (size, stride) = (x.size(), x.stride());
    let order: [usize; 4] = match format {
        MemoryFormat::Nchw => [3, 2, 1, 0],
        MemoryFormat::Nhwc => [1, 3, 2, 0],
    };
    let mut expected = 1;
    for d in order {
        if size[d] != 1 && stride[d] != expected {
            return false;
        }
        expected *= size[d];
    }
    true
}

/// Puts every 4-D variable of `vs` (convolution weights, and any 4-D buffer) in `format`, in
/// place: the variables keep their identity, so optimisers and other handles follow. Values are
/// unchanged; a checkpoint written afterwards is the same (checkpoints are always NCHW).
pub fn to_store(vs: &VarStore, format: MemoryFormat) {
    tch::no_grad(|| {
        for (_, mut t) in vs.variables() {
            if t.dim() == 4 && !is(&t, format) {
                let data = format.apply(&t);
                t.set_data(&data);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device, Kind};

    #[test]
    fn nhwc_is_channels_last_with_the_same_values_and_back() {
        let x = Tensor::arange(2 * 3 * 4 * 5, (Kind::Float, Device::Cpu)).view([2, 3, 4, 5]);
        assert_eq!(MemoryFormat::of(&x), MemoryFormat::Nchw);
        let y = MemoryFormat::Nhwc.apply(&x);
        assert_eq!(y.size(), vec![2, 3, 4, 5]);
        assert_eq!(y.stride(), vec![60, 1, 15, 3]);
        assert_eq!(MemoryFormat::of(&y), MemoryFormat::Nhwc);
        assert!(y.equal(&x));
        let z = MemoryFormat::Nchw.apply(&y);
        assert_eq!(z.stride(), vec![60, 20, 5, 1]);
        assert!(z.equal(&x));
        // libtorch keeps the format through a convolution: the output's strides are NHWC too.
        let w = MemoryFormat::Nhwc.apply(&Tensor::ones([6, 3, 3, 3], (Kind::Float, Device::Cpu)));
        let out = y.conv2d(&w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
        assert_eq!(MemoryFormat::of(&out), MemoryFormat::Nhwc);
        let reference = x.conv2d(&MemoryFormat::Nchw.apply(&w), None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
        assert!(out.allclose(&reference, 1e-5, 1e-4, false));
        // Not 4-D, or a single channel and pixel: nothing to do.
        let v = Tensor::ones([3, 4], (Kind::Float, Device::Cpu));
        assert_eq!(MemoryFormat::Nhwc.apply(&v).stride(), vec![4, 1]);
        let one = Tensor::ones([5, 1, 1, 1], (Kind::Float, Device::Cpu));
        assert_eq!(MemoryFormat::of(&MemoryFormat::Nhwc.apply(&one)), MemoryFormat::Nchw);
    }

    #[test]
    fn a_store_switches_in_place_and_its_handles_follow() {
        let vs = VarStore::new(Device::Cpu);
        let conv = nn::conv2d(vs.root() / "c", 3, 8, 3, Default::default());
        let handle = conv.ws.shallow_clone();
        let before = conv.ws.copy();
        to_store(&vs, MemoryFormat::Nhwc);
        assert_eq!(MemoryFormat::of(&handle), MemoryFormat::Nhwc);
        assert!(handle.equal(&before));
        assert!(handle.requires_grad(), "still a trained variable");
        // The bias (1-D) is untouched.
        assert_eq!(conv.bs.as_ref().unwrap().stride(), vec![1]);
        to_store(&vs, MemoryFormat::Nchw);
        assert_eq!(handle.stride(), vec![27, 9, 3, 1]);
        assert!(handle.equal(&before));
    }
}

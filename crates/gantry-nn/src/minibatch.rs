//! Layers that let the discriminator look at a whole minibatch, so that a generator which
//! collapses to a few outputs is easy to tell apart from data.
//!
//! **Minibatch discrimination** (Salimans et al., "Improved Techniques for Training GANs", NeurIPS
//! 2016, §3.2). Features f(xᵢ) ∈ ℝᴬ are multiplied by a learned tensor T ∈ ℝ^{A×B×C} into
//! Mᵢ ∈ ℝ^{B×C}; for each of the B kernels the closeness of two samples is
//! `c_b(xᵢ, xⱼ) = exp(−‖M_{i,b} − M_{j,b}‖₁)` and `o(xᵢ)_b = Σⱼ c_b(xᵢ, xⱼ)` (j over the whole
//! batch, i itself included, as in the paper); the layer outputs `[f(xᵢ), o(xᵢ)]` ∈ ℝ^{A+B}.
//!
//! **Minibatch standard deviation** (Karras et al., "Progressive Growing of GANs", ICLR 2018, §3;
//! StyleGAN2-ADA's `MinibatchStdLayer`). The batch is split into groups of G; within a group, each
//! feature's standard deviation (biased, √(var + 1e-8)) is averaged over channels of each of F
//! channel groups and over pixels, and appended as F constant feature maps.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

/// Minibatch discrimination: `[N, A] → [N, A + B]`.
#[derive(Debug)]
pub struct MinibatchDiscrimination {
    /// T, stored as `[A, B·C]`.
    pub t: Tensor,
    /// B, the number of kernels (features added).
    pub kernels: i64,
    /// C, each kernel's dimension.
    pub kernel_dim: i64,
}

impl MinibatchDiscrimination {
    /// T ~ N(0, 0.05²) as variable `t` under `p` (`inp` = A, `kernels` = B, `kernel_dim` = C).
    pub fn new<'a>(
        p: impl std::borrow::Borrow<nn::Path<'a>>,
        inp: i64,
        kernels: i64,
        kernel_dim: i64,
    ) -> Self {
        let t = p.borrow().var("t", &[inp, kernels * kernel_dim], nn::Init::Randn { mean: 0.0, stdev: 0.05 });
        Self { t, kernels, kernel_dim }
    }

    /// o(x) `[N, B]` alone.
    pub fn closeness(&self, x: &Tensor) -> Tensor {
        let m = x.mm(&self.t).view([-1, self.kernels, self.kernel_dim]).transpose(0, 1); // [B, N, C]
                                                                                         // L1 distances per kernel with cdist (never materialises [N, N, B, C]).
        let l1 = Tensor::cdist(&m, &m, 1.0, None); // [B, N, N]
        (-l1).exp().sum_dim_intlist([2i64].as_slice(), false, Kind::Float).tr() // [N, B]
    }
}

impl ModuleT for MinibatchDiscrimination {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        Tensor::cat(&[x.shallow_clone(), self.closeness(x)], 1)
    }
}

/// Minibatch standard deviation: `[N, C, H, W] → [N, C + F, H, W]`.
#[derive(Debug, Clone, Copy)]
pub struct MinibatchStdDev {
    /// Group size G (StyleGAN2: 4). A batch of N uses the largest divisor of N that is ≤ G.
    pub group_size: i64,
    /// F, the number of statistics maps (StyleGAN2: 1). Must divide C.
    pub num_channels: i64,
}

impl Default for MinibatchStdDev {
    fn default() -> Self {
        Self { group_size: 4, num_channels: 1 }
    }
}

impl MinibatchStdDev {
    /// The group size used for a batch of `n`.
    pub fn group_for(&self, n: i64) -> i64 {
        (1..=self.group_size.clamp(1, n.max(1))).rev().find(|g| n % g == 0).unwrap_or(1)
    }
}

impl ModuleT for MinibatchStdDev {
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        let (n, c, h, w) = x.size4().expect("minibatch stddev takes [N, C, H, W]");
        let g = self.group_for(n);
        let f = self.num_channels;
        // Sample i belongs to group i mod (N/G), as in StyleGAN2-ADA's reshape(G, -1, ...).
        let y = x.reshape([g, -1, f, c / f, h, w]); // [G, n, F, c, H, W]
        let y = &y - y.mean_dim([0i64].as_slice(), true, Kind::Float);
        let y = (y.square().mean_dim([0i64].as_slice(), false, Kind::Float) + 1e-8).sqrt(); // [n, F, c, H, W]
        let y = y.mean_dim([2i64, 3, 4].as_slice(), false, Kind::Float).reshape([-1, f, 1, 1]); // [n, F, 1, 1]
        let y = y.repeat([g, 1, h, w]); // [N, F, H, W]
        Tensor::cat(&[x.shallow_clone(), y], 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tch::Device;

    #[test]
    fn stddev_by_hand() {
        // N = 4, G = 2: groups {0, 2} and {1, 3} (index mod 2). C = 2, 1×1 pixels, F = 1.
        let x = Tensor::from_slice(&[0.0f32, 0.0, 1.0, 10.0, 2.0, 4.0, 3.0, 10.0]).reshape([4, 2, 1, 1]);
        let y = MinibatchStdDev { group_size: 2, num_channels: 1 }.forward_t(&x, true);
        assert_eq!(y.size(), vec![4, 3, 1, 1]);
        let s: Vec<f32> = Vec::try_from(y.select(1, 2).flatten(0, -1)).unwrap();
        // Group {0, 2}: features (0, 2) and (0, 4): std 1 and 2, mean 1.5. Group {1, 3}: (1, 3), (10, 10): 1 and 0 → 0.5.
        let want = [1.5f32, 0.5, 1.5, 0.5];
        assert!(s.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-3), "{s:?}");
        assert!(y.narrow(1, 0, 2).equal(&x), "the input passes through");
        assert_eq!(MinibatchStdDev { group_size: 4, num_channels: 1 }.group_for(6), 3);
        assert_eq!(MinibatchStdDev { group_size: 4, num_channels: 1 }.group_for(7), 1);
    }

    #[test]
    fn closeness_matches_the_definition() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let mbd = MinibatchDiscrimination::new(vs.root(), 6, 4, 3);
        let x = Tensor::randn([5, 6], tch::kind::FLOAT_CPU).set_requires_grad(true);
        let m = x.mm(&mbd.t).view([5, 4, 3]);
        let l1 =
            (m.unsqueeze(1) - m.unsqueeze(0)).abs().sum_dim_intlist([3i64].as_slice(), false, Kind::Float);
        let want = (-l1).exp().sum_dim_intlist([1i64].as_slice(), false, Kind::Float); // [N, B] by the paper
        let got = mbd.closeness(&x);
        assert!(got.allclose(&want, 1e-5, 1e-6, false));
        let gw = Tensor::run_backward(&[want.sum(Kind::Float)], &[&x], false, false);
        let gg = Tensor::run_backward(&[got.sum(Kind::Float)], &[&x], false, false);
        assert!(gg[0].allclose(&gw[0], 1e-4, 1e-5, false));
    }

    #[test]
    fn identical_samples_are_maximally_close() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let mbd = MinibatchDiscrimination::new(vs.root(), 6, 5, 3);
        let row = Tensor::randn([1, 6], tch::kind::FLOAT_CPU);
        let o = mbd.closeness(&row.repeat([8, 1]));
        assert!(o.allclose(&Tensor::full([8, 5], 8.0, tch::kind::FLOAT_CPU), 1e-6, 1e-6, false));
        // Spread-out samples are less close: every o_b in [1, N), 1 from the sample itself.
        let o = mbd.closeness(&(Tensor::randn([8, 6], tch::kind::FLOAT_CPU) * 100.0));
        assert!(o.ge(1.0).all().int64_value(&[]) == 1 && o.lt(8.0).all().int64_value(&[]) == 1);
        assert_eq!(mbd.forward_t(&row.repeat([3, 1]), true).size(), vec![3, 11]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Both layers are permutation-equivariant: permuting the batch permutes the output.
        #[test]
        fn permutation_equivariant(seed in 0i64..1000, shift in 1i64..7) {
            let _generator = crate::generator_lock();
            tch::manual_seed(seed);
            let vs = nn::VarStore::new(Device::Cpu);
            let mbd = MinibatchDiscrimination::new(vs.root(), 4, 3, 2);
            let x = Tensor::randn([8, 4], tch::kind::FLOAT_CPU);
            let perm = Tensor::arange(8, (Kind::Int64, Device::Cpu)).roll([shift], [0]);
            let a = mbd.forward_t(&x, true).index_select(0, &perm);
            let b = mbd.forward_t(&x.index_select(0, &perm), true);
            prop_assert!(a.allclose(&b, 1e-5, 1e-5, false));
            // Minibatch stddev is equivariant under permutations that keep groups (i ↦ i + 2k keeps i mod 2).
            let img = Tensor::randn([8, 2, 3, 3], tch::kind::FLOAT_CPU);
            let keep = Tensor::arange(8, (Kind::Int64, Device::Cpu)).roll([2 * (shift % 4)], [0]);
            let s = MinibatchStdDev { group_size: 4, num_channels: 1 };
            let a = s.forward_t(&img, true).index_select(0, &keep);
            let b = s.forward_t(&img.index_select(0, &keep), true);
            prop_assert!(a.allclose(&b, 1e-5, 1e-6, false));
        }
    }
}

//! The equalised learning rate and pixel-wise feature normalisation (Karras et al. 2018, §4).
//!
//! Equalised learning rate (§4.1): weights are stored as `N(0, 1)` draws and scaled at run time by
//! He's constant `c = gain / √fan_in`, so the effective weight `ŵ = c·w` has He's initial spread
//! while an adaptive optimiser (Adam normalises updates by their scale) moves every layer at the
//! same relative speed whatever its fan-in. Biases start at 0 and are not scaled.

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

/// `√2`, the gain of layers followed by a (leaky) ReLU.
pub const RELU_GAIN: f64 = std::f64::consts::SQRT_2;

/// Pixel-wise feature vector normalisation (§4.2): `b = a / √(mean_c a² + ε)` over the channels
/// (dim 1) of `[N, C, ...]`, ε = 1e-8.
pub fn pixel_norm(x: &Tensor) -> Tensor {
    x * (x.square().mean_dim([1i64].as_slice(), true, Kind::Float) + 1e-8).rsqrt()
}

/// An equalised-lr dense layer `[N, in] → [N, out]`: `x·(c·W)ᵀ + b`.
#[derive(Debug)]
pub struct EqLinear {
    /// `[out, in]`, drawn from `N(0, 1)`.
    pub weight: Tensor,
    /// `[out]`, zeros.
    pub bias: Tensor,
    /// He's constant `gain / √in`.
    pub scale: f64,
}

impl EqLinear {
    /// `input → output` with N(0, 1) weights scaled at run time by `gain/√input` (He's constant).
    pub fn new(p: nn::Path, input: i64, output: i64, gain: f64) -> Self {
        Self {
            weight: p.var("weight", &[output, input], Init::Randn { mean: 0.0, stdev: 1.0 }),
            bias: p.var("bias", &[output], Init::Const(0.0)),
            scale: gain / (input as f64).sqrt(),
        }
    }

    /// The weight the layer applies, `c·W`.
    pub fn effective_weight(&self) -> Tensor {
        &self.weight * self.scale
    }

    /// `[N, input] → [N, output]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.effective_weight(), Some(&self.bias))
    }
}

/// An equalised-lr `k×k` convolution with "same" padding, `[N, in, H, W] → [N, out, H, W]`.
#[derive(Debug)]
pub struct EqConv2d {
    /// `[out, in, k, k]`, drawn from `N(0, 1)`.
    pub weight: Tensor,
    /// `[out]`, zeros.
    pub bias: Tensor,
    /// He's constant `gain / √(in·k²)`.
    pub scale: f64,
    padding: i64,
}

impl EqConv2d {
    /// A `kernel`×`kernel` convolution (same padding) scaled at run time by
    /// `gain/√(input·kernel²)`.
    pub fn new(p: nn::Path, input: i64, output: i64, kernel: i64, gain: f64) -> Self {
        Self {
            weight: p.var("weight", &[output, input, kernel, kernel], Init::Randn { mean: 0.0, stdev: 1.0 }),
            bias: p.var("bias", &[output], Init::Const(0.0)),
            scale: gain / ((input * kernel * kernel) as f64).sqrt(),
            padding: kernel / 2,
        }
    }

    /// The kernel the layer applies, `c·W`.
    pub fn effective_weight(&self) -> Tensor {
        &self.weight * self.scale
    }

    /// `[N, input, H, W] → [N, output, H, W]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d(&self.effective_weight(), Some(&self.bias), [1, 1], [self.padding, self.padding], [1, 1], 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn pixel_norm_gives_unit_mean_square_per_pixel() {
        tch::manual_seed(1);
        let x = Tensor::randn([3, 16, 5, 5], (Kind::Float, Device::Cpu)) * 7.0 + 2.0;
        let ms = pixel_norm(&x).square().mean_dim([1i64].as_slice(), false, Kind::Float);
        let err = (ms - 1.0).abs().max().double_value(&[]);
        assert!(err < 1e-5, "mean square per pixel deviates from 1 by {err}");
        // Scale invariance: b(λa) = b(a) for λ > 0.
        let d = (pixel_norm(&(&x * 3.5)) - pixel_norm(&x)).abs().max().double_value(&[]);
        assert!(d < 1e-5, "{d}");
    }
}

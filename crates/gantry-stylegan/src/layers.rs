//! StyleGAN2's layers, parameter for parameter as StyleGAN2-ADA's `training/networks.py` (same
//! names, shapes, initialisation and runtime scaling), so its state dicts load as they are.
//!
//! Equalised learning rate: weights are stored as N(0, 1/λ²) and multiplied at run time by
//! `λ / √fan_in` (λ = the layer's lr multiplier), so Adam's per-parameter step size means the same
//! in every layer (Karras et al. 2018 §4.1).

use serde::{Deserialize, Serialize};
use tch::nn::{self, Init};
use tch::{Kind, Tensor};

use crate::ops::{bias_act, conv2d_resample, Act};

/// `x / √(mean(x², dim 1) + 1e-8)`: z (and label embeddings) on the unit-RMS sphere.
pub fn normalize_2nd_moment(x: &Tensor) -> Tensor {
    x * (x.square().mean_dim([1i64].as_slice(), true, Kind::Float) + 1e-8).rsqrt()
}

/// A fully connected layer with equalised learning rate: `act(x·(λ/√in)·Wᵀ + λ·b)`.
#[derive(Debug)]
pub struct FullyConnected {
    /// `[out, in]`, stored N(0, 1/λ²).
    pub weight: Tensor,
    /// `[out]`, stored as `bias_init` and scaled by λ at run time.
    pub bias: Tensor,
    act: Act,
    weight_gain: f64,
    bias_gain: f64,
}

impl FullyConnected {
    /// `in_f → out_f` with lr multiplier λ and initial bias `bias_init`.
    pub fn new(p: nn::Path, in_f: i64, out_f: i64, act: Act, lr_multiplier: f64, bias_init: f64) -> Self {
        let weight = p.var("weight", &[out_f, in_f], Init::Randn { mean: 0.0, stdev: 1.0 / lr_multiplier });
        let bias = p.var("bias", &[out_f], Init::Const(bias_init));
        Self {
            weight,
            bias,
            act,
            weight_gain: lr_multiplier / (in_f as f64).sqrt(),
            bias_gain: lr_multiplier,
        }
    }

    /// `[N, in] → [N, out]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let w = &self.weight * self.weight_gain;
        let b = if self.bias_gain != 1.0 { &self.bias * self.bias_gain } else { self.bias.shallow_clone() };
        match self.act {
            Act::Linear => b.unsqueeze(0).addmm(x, &w.tr()),
            act => bias_act(&x.matmul(&w.tr()), Some(&b), act, act.gain(), None),
        }
    }
}

/// A convolution with equalised learning rate and optional ×2 resampling through the
/// [1, 3, 3, 1] filter (the discriminator's layers and the residual skips).
#[derive(Debug)]
pub struct Conv2dLayer {
    /// `[out, in, k, k]`, stored N(0, 1), scaled by `1/√(in·k²)` at run time.
    pub weight: Tensor,
    /// `[out]`, initialised to 0 (None: no bias, as the residual skips).
    pub bias: Option<Tensor>,
    filter: Tensor,
    act: Act,
    up: i64,
    down: i64,
    padding: i64,
    weight_gain: f64,
    conv_clamp: Option<f64>,
}

impl Conv2dLayer {
    /// A `kernel`×`kernel` convolution `in_c → out_c` (padding `kernel / 2`), with a bias when
    /// `bias`, then `act`; `up` or `down` 2 resamples ×2 or ×½ (1: neither), and `conv_clamp`
    /// clamps the outputs to ±it times `forward`'s `gain` (None: no clamp).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: nn::Path,
        in_c: i64,
        out_c: i64,
        kernel: i64,
        bias: bool,
        act: Act,
        up: i64,
        down: i64,
        conv_clamp: Option<f64>,
    ) -> Self {
        let weight = p.var("weight", &[out_c, in_c, kernel, kernel], Init::Randn { mean: 0.0, stdev: 1.0 });
        let bias = bias.then(|| p.var("bias", &[out_c], Init::Const(0.0)));
        Self {
            weight,
            bias,
            filter: crate::ops::setup_filter(&[1.0, 3.0, 3.0, 1.0], p.device()),
            act,
            up,
            down,
            padding: kernel / 2,
            weight_gain: 1.0 / ((in_c * kernel * kernel) as f64).sqrt(),
            conv_clamp,
        }
    }

    /// `[N, in, H, W] → [N, out, H·up/down, W·up/down]`, the activation's gain times `gain`.
    pub fn forward(&self, x: &Tensor, gain: f64) -> Tensor {
        let w = &self.weight * self.weight_gain;
        let x = conv2d_resample(x, &w, &self.filter, self.up, self.down, self.padding, 1, self.up == 1);
        bias_act(&x, self.bias.as_ref(), self.act, self.act.gain() * gain, self.conv_clamp.map(|c| c * gain))
    }
}

/// Modulated convolution (StyleGAN2 §2.2): weights scaled per sample by `styles` `[N, I]`, then
/// (with `demodulate`) each output channel renormalised to unit expected norm,
/// `w'' = w' / √(Σ w'² + 1e-8)`; `noise` (broadcast to `[N, O, H, W]`) added after.
/// `fused` runs it as one grouped convolution; otherwise the activations are scaled before and
/// after a shared convolution (equal up to rounding; cheaper to train).
#[allow(clippy::too_many_arguments)]
pub fn modulated_conv2d(
    x: &Tensor,
    weight: &Tensor,
    styles: &Tensor,
    noise: Option<&Tensor>,
    up: i64,
    padding: i64,
    filter: &Tensor,
    demodulate: bool,
    flip_weight: bool,
    fused: bool,
) -> Tensor {
    let n = x.size()[0];
    let ws = weight.size();
    let (out_c, in_c, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let mut w = None;
    let mut dcoefs = None;
    if demodulate || fused {
        w = Some(weight.unsqueeze(0) * styles.reshape([n, 1, -1, 1, 1])); // [N, O, I, k, k]
    }
    if demodulate {
        let d = (w.as_ref().expect("set above").square().sum_dim_intlist(
            [2i64, 3, 4].as_slice(),
            false,
            Kind::Float,
        ) + 1e-8)
            .rsqrt(); // [N, O]
        dcoefs = Some(d);
    }
    if demodulate && fused {
        w = w.map(|w| w * dcoefs.as_ref().expect("set above").reshape([n, -1, 1, 1, 1]));
    }
    if !fused {
        let x = x * styles.reshape([n, -1, 1, 1]);
        let mut x = conv2d_resample(&x, weight, filter, up, 1, padding, 1, flip_weight);
        if let Some(d) = &dcoefs {
            x = match noise {
                // fma(x, d, noise) = noise + x·d, as the reference's addcmul.
                Some(noise) => noise.addcmul(&x, &d.reshape([n, -1, 1, 1])),
                None => x * d.reshape([n, -1, 1, 1]),
            };
        } else if let Some(noise) = noise {
            x = &x + noise;
        }
        return x;
    }
    let x = x.reshape([1, -1, x.size()[2], x.size()[3]]);
    let w = w.expect("fused sets w").reshape([-1, in_c, kh, kw]);
    let x = conv2d_resample(&x, &w, filter, up, 1, padding, n, flip_weight);
    let x = x.reshape([n, out_c, x.size()[2], x.size()[3]]);
    match noise {
        Some(noise) => x + noise,
        None => x,
    }
}

/// Where a synthesis layer's noise comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseMode {
    /// Fresh N(0, 1) per sample and call (training, `gantry sample`).
    Random,
    /// The layer's stored `noise_const` map (the same for every sample: reproducible images).
    Const,
    /// No noise.
    None,
}

/// How a synthesis layer applies its style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StyleOp {
    /// StyleGAN2 (Karras et al. 2020, §2.2): the style scales the convolution's input channels
    /// through its weights, which are then demodulated.
    #[default]
    Modulated,
    /// StyleGAN (Karras et al. 2019, §2): an unmodulated convolution, noise with a learned
    /// per-channel strength, bias and LReLU, then adaptive instance normalisation
    /// `AdaIN(x, y) = (1 + y_s) · (x − μ(x)) / σ(x) + y_b`, with `(y_s, y_b) = A(w)` per channel.
    Adain,
}

/// A synthesis layer: modulated 3×3 convolution (×2 upsampling in a block's first layer),
/// per-pixel noise with a learned per-layer strength, bias and LReLU — or, with
/// [`StyleOp::Adain`], StyleGAN's convolution, noise (per-channel strength), bias, LReLU, AdaIN.
#[derive(Debug)]
pub struct SynthesisLayer {
    /// The affine map A: w → styles, `[N, in]` for modulation (bias initialised to 1) or
    /// `[N, 2·out]` = `[y_s, y_b]` for AdaIN (bias 0).
    pub affine: FullyConnected,
    /// `[out, in, 3, 3]`, stored N(0, 1).
    pub weight: Tensor,
    /// `[out]`, initialised to 0.
    pub bias: Tensor,
    /// A fixed N(0, 1) noise map `[R, R]` (a buffer, not trained; [`NoiseMode::Const`]).
    pub noise_const: Tensor,
    /// The learned noise strength, initialised to 0: a scalar, or `[out]` with AdaIN.
    pub noise_strength: Tensor,
    /// How the style is applied.
    pub op: StyleOp,
    filter: Tensor,
    resolution: i64,
    up: i64,
    padding: i64,
    conv_clamp: Option<f64>,
}

impl SynthesisLayer {
    /// `in_c → out_c` at output resolution `resolution` (R), styled by w `[N, w_dim]`; `up` is 2
    /// for a block's first, upsampling layer and 1 otherwise; `conv_clamp` clamps the outputs to
    /// ±it times `forward`'s `gain` (None: no clamp).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: nn::Path,
        in_c: i64,
        out_c: i64,
        w_dim: i64,
        resolution: i64,
        up: i64,
        conv_clamp: Option<f64>,
        op: StyleOp,
    ) -> Self {
        // Modulation styles scale the input channels (bias 1); AdaIN's (y_s, y_b) act on the output
        // channels (bias 0; the 1 is added in `adain`, as StyleGAN's `style_mod`).
        let affine = match op {
            StyleOp::Modulated => FullyConnected::new(&p / "affine", w_dim, in_c, Act::Linear, 1.0, 1.0),
            StyleOp::Adain => FullyConnected::new(&p / "affine", w_dim, 2 * out_c, Act::Linear, 1.0, 0.0),
        };
        let weight = p.var("weight", &[out_c, in_c, 3, 3], Init::Randn { mean: 0.0, stdev: 1.0 });
        let mut noise_const = p.zeros_no_train("noise_const", &[resolution, resolution]);
        tch::no_grad(|| {
            noise_const.copy_(&Tensor::randn([resolution, resolution], (Kind::Float, p.device())))
        });
        let strength_shape: &[i64] = if op == StyleOp::Adain { &[out_c] } else { &[] };
        let noise_strength = p.var("noise_strength", strength_shape, Init::Const(0.0));
        let bias = p.var("bias", &[out_c], Init::Const(0.0));
        Self {
            affine,
            weight,
            bias,
            noise_const,
            noise_strength,
            op,
            filter: crate::ops::setup_filter(&[1.0, 3.0, 3.0, 1.0], p.device()),
            resolution,
            up,
            padding: 1,
            conv_clamp,
        }
    }

    /// `[N, in, R/up, R/up]` and `w` `[N, w_dim]` → `[N, out, R, R]`.
    pub fn forward(&self, x: &Tensor, w: &Tensor, noise: NoiseMode, fused: bool, gain: f64) -> Tensor {
        let styles = self.affine.forward(w);
        // A scalar strength broadcasts as it is; AdaIN's per-channel one as [O, 1, 1].
        let strength = match self.op {
            StyleOp::Modulated => self.noise_strength.shallow_clone(),
            StyleOp::Adain => self.noise_strength.reshape([-1, 1, 1]),
        };
        let noise = match noise {
            NoiseMode::Random => Some(
                gantry_core::parallel::randn(
                    &[x.size()[0], 1, self.resolution, self.resolution],
                    (Kind::Float, x.device()),
                ) * &strength,
            ),
            NoiseMode::Const => Some(&self.noise_const * &strength),
            NoiseMode::None => None,
        };
        if self.op == StyleOp::Adain {
            let wgt = &self.weight * (1.0 / (self.weight.size()[1] * 9) as f64).sqrt();
            let mut x = conv2d_resample(x, &wgt, &self.filter, self.up, 1, self.padding, 1, self.up == 1);
            if let Some(noise) = &noise {
                x += noise;
            }
            let act = Act::Lrelu;
            let x = bias_act(&x, Some(&self.bias), act, act.gain() * gain, self.conv_clamp.map(|c| c * gain));
            return adain(&x, &styles);
        }
        let x = modulated_conv2d(
            x,
            &self.weight,
            &styles,
            noise.as_ref(),
            self.up,
            self.padding,
            &self.filter,
            true,
            self.up == 1,
            fused,
        );
        let act = Act::Lrelu;
        bias_act(&x, Some(&self.bias), act, act.gain() * gain, self.conv_clamp.map(|c| c * gain))
    }
}

/// Adaptive instance normalisation (Huang & Belongie 2017; StyleGAN's `style_mod` after
/// `instance_norm`): each channel of `x` `[N, C, H, W]` normalised over H, W (ε = 1e-8), then
/// scaled by `1 + y_s` and shifted by `y_b`, where `styles` `[N, 2C]` = `[y_s, y_b]`.
pub fn adain(x: &Tensor, styles: &Tensor) -> Tensor {
    let (n, c) = (x.size()[0], x.size()[1]);
    let hw = [2i64, 3];
    let xc = x - x.mean_dim(hw.as_slice(), true, Kind::Float);
    let xn = &xc * (xc.square().mean_dim(hw.as_slice(), true, Kind::Float) + 1e-8).rsqrt();
    let s = styles.reshape([n, 2, c, 1, 1]);
    xn * (s.select(1, 0) + 1.0) + s.select(1, 1)
}

/// toRGB: a modulated 1×1 convolution without demodulation, and a bias.
#[derive(Debug)]
pub struct ToRgb {
    /// The affine map A: w → styles `[N, in]` (bias initialised to 1).
    pub affine: FullyConnected,
    /// `[out, in, 1, 1]`, stored N(0, 1), scaled by `1/√in` at run time through the styles.
    pub weight: Tensor,
    /// `[out]`, initialised to 0.
    pub bias: Tensor,
    weight_gain: f64,
    conv_clamp: Option<f64>,
    filter: Tensor,
}

impl ToRgb {
    /// `in_c` feature channels → `out_c` image channels, with styles from w `[N, w_dim]`.
    pub fn new(p: nn::Path, in_c: i64, out_c: i64, w_dim: i64, conv_clamp: Option<f64>) -> Self {
        Self {
            affine: FullyConnected::new(&p / "affine", w_dim, in_c, Act::Linear, 1.0, 1.0),
            weight: p.var("weight", &[out_c, in_c, 1, 1], Init::Randn { mean: 0.0, stdev: 1.0 }),
            bias: p.var("bias", &[out_c], Init::Const(0.0)),
            weight_gain: 1.0 / (in_c as f64).sqrt(),
            conv_clamp,
            filter: Tensor::ones([1, 1], (Kind::Float, p.device())),
        }
    }

    /// `[N, in, R, R]`, `[N, w_dim]` → `[N, img_channels, R, R]`.
    pub fn forward(&self, x: &Tensor, w: &Tensor, fused: bool) -> Tensor {
        let styles = self.affine.forward(w) * self.weight_gain;
        let x = modulated_conv2d(x, &self.weight, &styles, None, 1, 0, &self.filter, false, true, fused);
        bias_act(&x, Some(&self.bias), Act::Linear, 1.0, self.conv_clamp)
    }
}

/// The mapping network f: Z → W (StyleGAN §2): z normalised to unit RMS (and, conditionally,
/// an embedded label likewise, concatenated), then `layers` fully connected LReLU layers with lr
/// multiplier 0.01; tracks the running mean w̄ for truncation.
#[derive(Debug)]
pub struct MappingNetwork {
    /// The label embedding `c_dim → w_dim` (`embed`; conditional networks only).
    pub embed: Option<FullyConnected>,
    /// The fully connected LReLU layers `fc0`, `fc1`, ….
    pub fcs: Vec<FullyConnected>,
    /// Running mean of w̄ (a buffer, saved with the weights; tracked when the network broadcasts
    /// ws and has a decay, as the reference).
    pub w_avg: Option<Tensor>,
    /// Dimension of z (0: the network maps labels alone).
    pub z_dim: i64,
    /// Dimension of the labels c (0: unconditional).
    pub c_dim: i64,
    /// Dimension of w, the output.
    pub w_dim: i64,
    /// How many copies of w the synthesis network takes (None: return `[N, w_dim]`).
    pub num_ws: Option<i64>,
    w_avg_beta: Option<f64>,
}

/// Truncation in W: `w̄ + ψ·(w − w̄)` for the first `cutoff` layers' ws (all when None).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truncation {
    /// ψ: 1 leaves w as it is (the default), 0 replaces it with w̄.
    pub psi: f64,
    /// How many of the leading ws are truncated (None: all).
    pub cutoff: Option<i64>,
}

impl Default for Truncation {
    fn default() -> Self {
        Self { psi: 1.0, cutoff: None }
    }
}

impl MappingNetwork {
    /// `layers` LReLU layers `z_dim (+ w_dim of label embedding) → w_dim → … → w_dim` with lr
    /// multiplier `lr_multiplier` (StyleGAN2: 0.01), under `p` as `embed`, `fc0`, `fc1`, …,
    /// `w_avg`. `c_dim` 0 builds no label embedding; `z_dim` 0 maps labels alone (the
    /// discriminator's projection). `num_ws`: copies of w to return (None: `[N, w_dim]`);
    /// `w_avg_beta`: decay of the running mean w̄ (0.995), kept only when both are given.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: nn::Path,
        z_dim: i64,
        c_dim: i64,
        w_dim: i64,
        num_ws: Option<i64>,
        layers: i64,
        lr_multiplier: f64,
        w_avg_beta: Option<f64>,
    ) -> Self {
        let embed_features = if c_dim > 0 { w_dim } else { 0 };
        let embed = (c_dim > 0)
            .then(|| FullyConnected::new(&p / "embed", c_dim, embed_features, Act::Linear, 1.0, 0.0));
        let mut features = vec![z_dim + embed_features];
        features.extend(std::iter::repeat_n(w_dim, layers as usize));
        let fcs = (0..layers as usize)
            .map(|i| {
                FullyConnected::new(
                    &p / format!("fc{i}"),
                    features[i],
                    features[i + 1],
                    Act::Lrelu,
                    lr_multiplier,
                    0.0,
                )
            })
            .collect();
        let w_avg = (num_ws.is_some() && w_avg_beta.is_some()).then(|| p.zeros_no_train("w_avg", &[w_dim]));
        Self { embed, fcs, w_avg, z_dim, c_dim, w_dim, num_ws, w_avg_beta }
    }

    /// z `[N, z_dim]` (and labels `c` `[N, c_dim]`, e.g. one-hot) → ws `[N, num_ws, w_dim]`
    /// (`[N, w_dim]` without `num_ws`; truncation needs w̄, so applies only with `num_ws`).
    /// `update_w_avg` moves w̄ towards this batch's mean (training, not for style-mixing draws).
    pub fn forward(
        &self,
        z: Option<&Tensor>,
        c: Option<&Tensor>,
        trunc: Truncation,
        update_w_avg: bool,
    ) -> Tensor {
        let mut x = z.filter(|_| self.z_dim > 0).map(|z| normalize_2nd_moment(&z.to_kind(Kind::Float)));
        if let (Some(embed), Some(c)) = (&self.embed, c) {
            let y = normalize_2nd_moment(&embed.forward(&c.to_kind(Kind::Float)));
            x = Some(match x {
                Some(x) => Tensor::cat(&[x, y], 1),
                None => y,
            });
        }
        let mut x = x.expect("the mapping network takes z, c or both");
        for fc in &self.fcs {
            x = fc.forward(&x);
        }
        if let (Some(beta), Some(w_avg), true) = (self.w_avg_beta, &self.w_avg, update_w_avg) {
            tch::no_grad(|| {
                let new = x.detach().mean_dim([0i64].as_slice(), false, Kind::Float).lerp(w_avg, beta);
                w_avg.shallow_clone().copy_(&new);
            });
        }
        if let Some(num_ws) = self.num_ws {
            x = x.unsqueeze(1).repeat([1, num_ws, 1]);
        }
        if let (Some(w_avg), Some(n), true) = (&self.w_avg, self.num_ws, trunc.psi != 1.0) {
            let cut = trunc.cutoff.map_or(n, |c| c.clamp(0, n));
            let head = w_avg.lerp(&x.narrow(1, 0, cut), trunc.psi);
            x = Tensor::cat(&[head, x.narrow(1, cut, x.size()[1] - cut)], 1);
        }
        x
    }
}

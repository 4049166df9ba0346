//! Resampling and fused bias/activation, as StyleGAN2-ADA's `torch_utils.ops` reference paths.
//!
//! - [`upfirdn2d`]: upsample by zero insertion, pad (or crop), convolve with a 2-D FIR filter,
//!   downsample by decimation — `_upfirdn2d_ref` step for step;
//! - [`upsample2d`] / [`downsample2d`]: the padding that keeps shapes multiples of the input;
//! - [`conv2d_resample`]: convolution with up/downsampling, padding applied once, by the same
//!   fast paths as `conv2d_resample.py` (transposed convolution then filter when upsampling,
//!   filter then strided convolution when downsampling);
//! - [`bias_act`]: bias, activation with its default gain (√2 for LReLU₀.₂), optional clamp.
//!
//! Filters are `[fh, fw]` f32 tensors from [`setup_filter`]. Images are `[N, C, H, W]`.

use tch::{Kind, Tensor};

/// The normalised 2-D filter of 1-D `taps`: outer(f, f) / Σ (`setup_filter([1, 3, 3, 1])`).
pub fn setup_filter(taps: &[f64], device: tch::Device) -> Tensor {
    let f = Tensor::from_slice(taps).to_kind(Kind::Float).to_device(device);
    let f = f.outer(&f);
    &f / f.sum(Kind::Float)
}

/// `[fh, fw]` of a filter.
fn filter_size(f: &Tensor) -> (i64, i64) {
    let s = f.size();
    (s[0], s[1])
}

/// Upsample by `up` (zeros), pad by `pad = [x0, x1, y0, y1]` (negative crops), convolve with `f`
/// scaled by `gain` (true convolution: the filter is flipped), keep every `down`-th pixel.
pub fn upfirdn2d(x: &Tensor, f: &Tensor, up: i64, down: i64, pad: [i64; 4], gain: f64) -> Tensor {
    let (n, c, h, w) = x.size4().expect("upfirdn2d takes [N, C, H, W]");
    let mut x = if up > 1 {
        x.reshape([n, c, h, 1, w, 1]).constant_pad_nd([0, up - 1, 0, 0, 0, up - 1]).reshape([
            n,
            c,
            h * up,
            w * up,
        ])
    } else {
        x.shallow_clone()
    };
    let [px0, px1, py0, py1] = pad;
    x = x.constant_pad_nd([px0.max(0), px1.max(0), py0.max(0), py1.max(0)]);
    let (hh, ww) = (x.size()[2], x.size()[3]);
    x = x.slice(2, (-py0).max(0), hh - (-py1).max(0), 1).slice(3, (-px0).max(0), ww - (-px1).max(0), 1);
    let (fh, fw) = filter_size(f);
    let f = (f * gain).to_kind(x.kind()).flip([0, 1]);
    let weight = f.view([1, 1, fh, fw]).repeat([c, 1, 1, 1]);
    // Without upsampling, the reference's `x[:, :, ::down, ::down]` after the filter is the
    // filter's strided convolution, which computes only the samples kept.
    let stride = if up == 1 { down } else { 1 };
    x = x.conv2d(&weight, None::<Tensor>, [stride, stride], [0, 0], [1, 1], c);
    if down > 1 && up > 1 {
        x = x.slice(2, 0, None, down).slice(3, 0, None, down);
    }
    x
}

/// Upsample ×`up` with filter `f` (output `[N, C, up·H, up·W]`, DC gain kept).
pub fn upsample2d(x: &Tensor, f: &Tensor, up: i64) -> Tensor {
    let (fh, fw) = filter_size(f);
    let pad = [(fw + up - 1) / 2, (fw - up) / 2, (fh + up - 1) / 2, (fh - up) / 2];
    upfirdn2d(x, f, up, 1, pad, (up * up) as f64)
}

/// Downsample ×`down` with filter `f` (output `[N, C, H/down, W/down]`).
pub fn downsample2d(x: &Tensor, f: &Tensor, down: i64) -> Tensor {
    let (fh, fw) = filter_size(f);
    let pad = [(fw - down + 1) / 2, (fw - down) / 2, (fh - down + 1) / 2, (fh - down) / 2];
    upfirdn2d(x, f, 1, down, pad, 1.0)
}

/// `conv2d`/`conv_transpose2d` with `flip_weight = false` meaning true convolution.
fn conv(
    x: &Tensor,
    w: &Tensor,
    stride: i64,
    padding: [i64; 2],
    groups: i64,
    transpose: bool,
    flip_weight: bool,
) -> Tensor {
    let w = if flip_weight { w.shallow_clone() } else { w.flip([2, 3]) };
    if transpose {
        x.conv_transpose2d(&w, None::<Tensor>, [stride, stride], padding, [0, 0], groups, [1, 1])
    } else {
        x.conv2d(&w, None::<Tensor>, [stride, stride], padding, [1, 1], groups)
    }
}

/// 2-D convolution of `x` with `w` `[O, I/groups, kh, kw]` and optional ×`up` / ÷`down`
/// resampling through filter `f`; `padding` is relative to the upsampled image and applied once.
/// `flip_weight = true` is correlation (as `conv2d`).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_resample(
    x: &Tensor,
    w: &Tensor,
    f: &Tensor,
    up: i64,
    down: i64,
    padding: i64,
    groups: i64,
    flip_weight: bool,
) -> Tensor {
    let ws = w.size();
    let (out_channels, in_per_group, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let (fh, fw) = filter_size(f);
    let (mut px0, mut px1, mut py0, mut py1) = (padding, padding, padding, padding);
    if up > 1 {
        px0 += (fw + up - 1) / 2;
        px1 += (fw - up) / 2;
        py0 += (fh + up - 1) / 2;
        py1 += (fh - up) / 2;
    }
    if down > 1 {
        px0 += (fw - down + 1) / 2;
        px1 += (fw - down) / 2;
        py0 += (fh - down + 1) / 2;
        py1 += (fh - down) / 2;
    }
    // 1×1 with downsampling only: downsample first, then convolve.
    if kw == 1 && kh == 1 && down > 1 && up == 1 {
        let x = upfirdn2d(x, f, 1, down, [px0, px1, py0, py1], 1.0);
        return conv(&x, w, 1, [0, 0], groups, false, flip_weight);
    }
    // 1×1 with upsampling only: convolve first, then upsample.
    if kw == 1 && kh == 1 && up > 1 && down == 1 {
        let x = conv(x, w, 1, [0, 0], groups, false, flip_weight);
        return upfirdn2d(&x, f, up, 1, [px0, px1, py0, py1], (up * up) as f64);
    }
    // Downsampling only: filter, then strided convolution.
    if down > 1 && up == 1 {
        let x = upfirdn2d(x, f, 1, 1, [px0, px1, py0, py1], 1.0);
        return conv(&x, w, down, [0, 0], groups, false, flip_weight);
    }
    // Upsampling: transposed strided convolution, then filter.
    if up > 1 {
        let w = if groups == 1 {
            w.transpose(0, 1)
        } else {
            w.reshape([groups, out_channels / groups, in_per_group, kh, kw]).transpose(1, 2).reshape([
                groups * in_per_group,
                out_channels / groups,
                kh,
                kw,
            ])
        };
        px0 -= kw - 1;
        px1 -= kw - up;
        py0 -= kh - 1;
        py1 -= kh - up;
        let pxt = (-px0).min(-px1).max(0);
        let pyt = (-py0).min(-py1).max(0);
        let x = conv(x, &w, up, [pyt, pxt], groups, true, !flip_weight);
        let x = upfirdn2d(&x, f, 1, 1, [px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], (up * up) as f64);
        return if down > 1 { upfirdn2d(&x, f, 1, down, [0; 4], 1.0) } else { x };
    }
    // No resampling, symmetric padding: plain convolution.
    if px0 == px1 && py0 == py1 && px0 >= 0 && py0 >= 0 {
        return conv(x, w, 1, [py0, px0], groups, false, flip_weight);
    }
    // Asymmetric padding without resampling: pad explicitly, then convolve.
    let x = x.constant_pad_nd([px0.max(0), px1.max(0), py0.max(0), py1.max(0)]);
    let (h, w_) = (x.size()[2], x.size()[3]);
    let x = x.slice(2, (-py0).max(0), h - (-py1).max(0), 1).slice(3, (-px0).max(0), w_ - (-px1).max(0), 1);
    conv(&x, w, 1, [0, 0], groups, false, flip_weight)
}

/// The activation of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// The identity (gain 1), as the reference's `'linear'`.
    Linear,
    /// LeakyReLU with slope 0.2 and gain √2.
    Lrelu,
}

impl Act {
    /// The default gain: √2 for LReLU (He's constant for its slope-0 limit, as the reference).
    pub fn gain(self) -> f64 {
        match self {
            Act::Linear => 1.0,
            Act::Lrelu => std::f64::consts::SQRT_2,
        }
    }
}

/// `clamp(act(x + b) · gain, ±clamp)` with `b` broadcast along dim 1 (as `bias_act`'s reference).
pub fn bias_act(x: &Tensor, b: Option<&Tensor>, act: Act, gain: f64, clamp: Option<f64>) -> Tensor {
    let mut x = match b {
        Some(b) => {
            let mut shape = vec![1i64; x.dim()];
            shape[1] = -1;
            x + b.reshape(shape)
        }
        None => x.shallow_clone(),
    };
    if act == Act::Lrelu {
        x = gantry_nn::leaky_relu(&x, 0.2);
    }
    if gain != 1.0 {
        x = &x * gain;
    }
    match clamp {
        Some(c) if c >= 0.0 => x.clamp(-c, c),
        _ => x,
    }
}

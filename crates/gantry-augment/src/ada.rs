//! StyleGAN2-ADA's augmentation pipeline (Karras et al. 2020, "Training Generative Adversarial
//! Networks with Limited Data", `training/augment.py`'s `AugmentPipe`) and its adaptive
//! probability.
//!
//! [`AugmentPipe::apply`] follows their `forward` step for step: the same transforms in the same
//! order, each drawn per image and applied with probability `multiplier · p`, the same random
//! draws in the same order from libtorch's generator (through [`gantry_core::parallel`], so a
//! data-parallel rank draws its rows of one process's draws), in float32 as theirs:
//!
//! - pixel blitting: x-flip, 90° rotations, integer translation (up to 1/8 of the image);
//! - general geometry: isotropic scaling, rotation (before and after anisotropic scaling, each
//!   with probability 1 − √(1 − p)), anisotropic scaling, fractional translation — composed into
//!   one inverse homogeneous matrix, executed once: reflect padding by the transformed corners'
//!   margin, ×2 upsampling with the `sym6` wavelet's low-pass filter, bilinear `grid_sample`, ×2
//!   downsampling with the same filter and a crop;
//! - colour: brightness, contrast, luma flip, hue rotation, saturation — one 4×4 matrix per image
//!   (grey images take the mean of its first three rows);
//! - image-space filtering: gains on four frequency bands (the `sym2` filter bank);
//! - corruptions: additive Gaussian noise, cutout.
//!
//! Once a geometric (or colour) transform is enabled the pipe executes that stage even for
//! images that drew the identity, as theirs does (the ×2 resampling round trip is close to, not
//! exactly, the identity). [`Adaptive`] is their heuristic for p: r_t = E[sign(D(real))] over
//! `interval` D steps, p moved by sign(r_t − target) · (images in those steps) / (`kimg` · 1000),
//! never below 0.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use gantry_core::parallel;
use tch::{Device, Kind, Tensor};

/// Low-pass filters of Daubechies' symlets: `sym2` (the image filter bank) and `sym6` (the
/// geometric resampling), as `augment.py`'s `wavelets` table.
const SYM2: [f64; 4] = [-0.12940952255092145, 0.22414386804185735, 0.836516303737469, 0.48296291314469025];
const SYM6: [f64; 12] = [
    0.015404109327027373,
    0.0034907120842174702,
    -0.11799011114819057,
    -0.048311742585633,
    0.4910559419267466,
    0.787641141030194,
    0.3379294217276218,
    -0.07263752278646252,
    -0.021060292512300564,
    0.04472490177066578,
    0.0017677118642428036,
    -0.007800708325034148,
];

/// The pipes of StyleGAN2-ADA's `train.py --augpipe`: which transforms are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spec {
    /// x-flip, 90° rotations, integer translation.
    Blit,
    /// Scaling, rotation, anisotropic scaling, fractional translation.
    Geom,
    /// Brightness, contrast, luma flip, hue, saturation.
    Color,
    /// Image-space filtering.
    Filter,
    /// Additive noise.
    Noise,
    /// Cutout.
    Cutout,
    /// `blit` + `geom`.
    Bg,
    /// `blit` + `geom` + `color`: their default.
    Bgc,
    /// `bgc` + `filter`.
    Bgcf,
    /// `bgcf` + `noise`.
    Bgcfn,
    /// `bgcfn` + `cutout`.
    Bgcfnc,
}

impl Spec {
    /// Every pipe, as `--augpipe` lists them.
    pub const ALL: [Spec; 11] = [
        Spec::Blit,
        Spec::Geom,
        Spec::Color,
        Spec::Filter,
        Spec::Noise,
        Spec::Cutout,
        Spec::Bg,
        Spec::Bgc,
        Spec::Bgcf,
        Spec::Bgcfn,
        Spec::Bgcfnc,
    ];

    /// Its name in their `train.py`.
    pub fn name(self) -> &'static str {
        match self {
            Spec::Blit => "blit",
            Spec::Geom => "geom",
            Spec::Color => "color",
            Spec::Filter => "filter",
            Spec::Noise => "noise",
            Spec::Cutout => "cutout",
            Spec::Bg => "bg",
            Spec::Bgc => "bgc",
            Spec::Bgcf => "bgcf",
            Spec::Bgcfn => "bgcfn",
            Spec::Bgcfnc => "bgcfnc",
        }
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Spec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Spec::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Spec::ALL.iter().map(|p| p.name()).collect();
            format!("{s:?} is not an augmentation pipe (expected one of {})", names.join(", "))
        })
    }
}

impl serde::Serialize for Spec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Spec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// `AugmentPipe`'s settings: a probability multiplier per transform (0 = off, 1 = with
/// probability p) and their strengths, with their defaults.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each field is `AugmentPipe.__init__`'s argument of the same name
pub struct AugmentPipe {
    pub xflip: f64,
    pub rotate90: f64,
    pub xint: f64,
    pub xint_max: f64,
    pub scale: f64,
    pub rotate: f64,
    pub aniso: f64,
    pub xfrac: f64,
    pub scale_std: f64,
    pub rotate_max: f64,
    pub aniso_std: f64,
    pub xfrac_std: f64,
    pub brightness: f64,
    pub contrast: f64,
    pub lumaflip: f64,
    pub hue: f64,
    pub saturation: f64,
    pub brightness_std: f64,
    pub contrast_std: f64,
    pub hue_max: f64,
    pub saturation_std: f64,
    pub imgfilter: f64,
    pub imgfilter_bands: [f64; 4],
    pub imgfilter_std: f64,
    pub noise: f64,
    pub cutout: f64,
    pub noise_std: f64,
    pub cutout_size: f64,
}

impl Default for AugmentPipe {
    /// Every transform off, their default strengths.
    fn default() -> Self {
        AugmentPipe {
            xflip: 0.0,
            rotate90: 0.0,
            xint: 0.0,
            xint_max: 0.125,
            scale: 0.0,
            rotate: 0.0,
            aniso: 0.0,
            xfrac: 0.0,
            scale_std: 0.2,
            rotate_max: 1.0,
            aniso_std: 0.2,
            xfrac_std: 0.125,
            brightness: 0.0,
            contrast: 0.0,
            lumaflip: 0.0,
            hue: 0.0,
            saturation: 0.0,
            brightness_std: 0.2,
            contrast_std: 0.5,
            hue_max: 1.0,
            saturation_std: 1.0,
            imgfilter: 0.0,
            imgfilter_bands: [1.0; 4],
            imgfilter_std: 1.0,
            noise: 0.0,
            cutout: 0.0,
            noise_std: 0.1,
            cutout_size: 0.5,
        }
    }
}

/// An element of a transform matrix: a per-image value `[B]` (or one value `[]`) or a constant.
enum E {
    T(Tensor),
    C(f64),
}

impl From<f64> for E {
    fn from(v: f64) -> Self {
        E::C(v)
    }
}

impl From<Tensor> for E {
    fn from(t: Tensor) -> Self {
        E::T(t)
    }
}

/// `augment.py`'s `matrix`: rows of elements stacked into `[..., R, C]` float32 (constants take
/// the shape of the first tensor element; all constants give a plain `[R, C]`).
fn matrix<const C: usize>(rows: Vec<[E; C]>, device: Device) -> Tensor {
    let r = rows.len() as i64;
    let elems: Vec<E> = rows.into_iter().flatten().collect();
    let shape = elems.iter().find_map(|e| if let E::T(t) = e { Some(t.size()) } else { None });
    let Some(shape) = shape else {
        let v: Vec<f32> =
            elems.iter().map(|e| if let E::C(c) = e { *c as f32 } else { unreachable!() }).collect();
        return Tensor::from_slice(&v).to_device(device).reshape([r, C as i64]);
    };
    let ts: Vec<Tensor> = elems
        .into_iter()
        .map(|e| match e {
            E::T(t) => t,
            E::C(c) => Tensor::full(shape.as_slice(), c, (Kind::Float, device)),
        })
        .collect();
    let mut out = shape.clone();
    out.extend([r, C as i64]);
    Tensor::stack(&ts, -1).reshape(out.as_slice())
}

fn translate2d(tx: impl Into<E>, ty: impl Into<E>, d: Device) -> Tensor {
    matrix(
        vec![
            [1.0.into(), 0.0.into(), tx.into()],
            [0.0.into(), 1.0.into(), ty.into()],
            [0.0.into(), 0.0.into(), 1.0.into()],
        ],
        d,
    )
}

fn scale2d(sx: impl Into<E>, sy: impl Into<E>, d: Device) -> Tensor {
    matrix(
        vec![
            [sx.into(), 0.0.into(), 0.0.into()],
            [0.0.into(), sy.into(), 0.0.into()],
            [0.0.into(), 0.0.into(), 1.0.into()],
        ],
        d,
    )
}

fn rotate2d(theta: &Tensor, d: Device) -> Tensor {
    matrix(
        vec![
            [theta.cos().into(), (-theta).sin().into(), 0.0.into()],
            [theta.sin().into(), theta.cos().into(), 0.0.into()],
            [0.0.into(), 0.0.into(), 1.0.into()],
        ],
        d,
    )
}

fn translate3d(t: &Tensor, d: Device) -> Tensor {
    let e = |v: f64| E::C(v);
    matrix(
        vec![
            [e(1.0), e(0.0), e(0.0), t.shallow_clone().into()],
            [e(0.0), e(1.0), e(0.0), t.shallow_clone().into()],
            [e(0.0), e(0.0), e(1.0), t.shallow_clone().into()],
            [e(0.0), e(0.0), e(0.0), e(1.0)],
        ],
        d,
    )
}

fn scale3d(s: &Tensor, d: Device) -> Tensor {
    let e = |v: f64| E::C(v);
    matrix(
        vec![
            [s.shallow_clone().into(), e(0.0), e(0.0), e(0.0)],
            [e(0.0), s.shallow_clone().into(), e(0.0), e(0.0)],
            [e(0.0), e(0.0), s.shallow_clone().into(), e(0.0)],
            [e(0.0), e(0.0), e(0.0), e(1.0)],
        ],
        d,
    )
}

/// Rotation by `theta` `[B]` about the unit axis `v` (`[4]`, its first three entries).
fn rotate3d(v: &Tensor, theta: &Tensor, d: Device) -> Tensor {
    let (vx, vy, vz) = (v.get(0), v.get(1), v.get(2));
    let (s, c) = (theta.sin(), theta.cos());
    let cc = 1.0 - &c;
    let t = |x: Tensor| E::T(x);
    let z = || E::C(0.0);
    matrix(
        vec![
            [t(&vx * &vx * &cc + &c), t(&vx * &vy * &cc - &vz * &s), t(&vx * &vz * &cc + &vy * &s), z()],
            [t(&vy * &vx * &cc + &vz * &s), t(&vy * &vy * &cc + &c), t(&vy * &vz * &cc - &vx * &s), z()],
            [t(&vz * &vx * &cc - &vy * &s), t(&vz * &vy * &cc + &vx * &s), t(&vz * &vz * &cc + &c), z()],
            [z(), z(), z(), E::C(1.0)],
        ],
        d,
    )
}

/// `setup_filter` of 12 taps (≥ 8: separable, kept 1-D), normalised to sum 1.
fn separable_filter(taps: &[f64], d: Device) -> Tensor {
    let f = Tensor::from_slice(taps).to_kind(Kind::Float).to_device(d);
    &f / f.sum(Kind::Float)
}

/// `_upfirdn2d_ref` with a separable 1-D filter `f`: upsample by `up` (zeros), pad by
/// `[x0, x1, y0, y1]` (negative crops), filter along x then along y (each pass × √gain;
/// correlation when `flip_filter`, else convolution), keep every `down`-th pixel.
fn upfirdn2d(
    x: &Tensor,
    f: &Tensor,
    up: i64,
    down: i64,
    pad: [i64; 4],
    flip_filter: bool,
    gain: f64,
) -> Tensor {
    let (n, c, h, w) = x.size4().expect("[N, C, H, W]");
    let mut x = x.reshape([n, c, h, 1, w, 1]).constant_pad_nd([0, up - 1, 0, 0, 0, up - 1]).reshape([
        n,
        c,
        h * up,
        w * up,
    ]);
    let [px0, px1, py0, py1] = pad;
    x = x.constant_pad_nd([px0.max(0), px1.max(0), py0.max(0), py1.max(0)]);
    let (hh, ww) = (x.size()[2], x.size()[3]);
    x = x.slice(2, (-py0).max(0), hh - (-py1).max(0), 1).slice(3, (-px0).max(0), ww - (-px1).max(0), 1);
    let f = f * gain.sqrt();
    let f = if flip_filter { f } else { f.flip([0]) };
    let taps = f.size()[0];
    let f = f.view([1, 1, taps]).repeat([c, 1, 1]);
    x = x.conv2d(&f.unsqueeze(2), None::<Tensor>, [1, 1], [0, 0], [1, 1], c);
    x = x.conv2d(&f.unsqueeze(3), None::<Tensor>, [1, 1], [0, 0], [1, 1], c);
    x.slice(2, 0, None, down).slice(3, 0, None, down)
}

/// Their `Hz_fbank`: four band-pass filters (43 taps) from the `sym2` wavelet, in f64 as numpy
/// builds it, then float32.
fn filter_bank(d: Device) -> Tensor {
    let lo = SYM2;
    let hi: Vec<f64> = lo.iter().enumerate().map(|(i, v)| if i % 2 == 0 { *v } else { -v }).collect();
    // np.convolve(h, h[::-1]) / 2: out[k] = Σ_i h[i] · h[n − 1 − (k − i)] / 2.
    let autocorr = |h: &[f64]| -> Vec<f64> {
        let n = h.len();
        (0..2 * n - 1)
            .map(|k| {
                (0..n)
                    .filter_map(|i| k.checked_sub(i).filter(|j| *j < n).map(|j| h[i] * h[n - 1 - j]))
                    .sum::<f64>()
                    / 2.0
            })
            .collect()
    };
    let lo2 = autocorr(&lo);
    let hi2 = autocorr(&hi);
    let mut bank: Vec<Vec<f64>> = (0..4).map(|i| vec![if i == 0 { 1.0 } else { 0.0 }]).collect();
    for i in 1..4 {
        for row in bank.iter_mut() {
            // Interleave zeros: [a, 0, b, 0, …, z] (the last zero dropped).
            let up: Vec<f64> = row.iter().flat_map(|v| [*v, 0.0]).take(2 * row.len() - 1).collect();
            // Full convolution with lo2.
            let mut out = vec![0.0; up.len() + lo2.len() - 1];
            for (a, x) in up.iter().enumerate() {
                for (b, y) in lo2.iter().enumerate() {
                    out[a + b] += x * y;
                }
            }
            *row = out;
        }
        let len = bank[i].len();
        let start = (len - hi2.len()) / 2;
        for (k, v) in hi2.iter().enumerate() {
            bank[i][start + k] += v;
        }
    }
    let taps = bank[0].len() as i64;
    let flat: Vec<f32> = bank.iter().flatten().map(|v| *v as f32).collect();
    Tensor::from_slice(&flat).to_device(d).reshape([4, taps])
}

impl AugmentPipe {
    /// The transforms of `spec` on (multiplier 1), their default strengths.
    pub fn from_spec(spec: Spec) -> Self {
        let mut p = AugmentPipe::default();
        let blit = |p: &mut AugmentPipe| (p.xflip, p.rotate90, p.xint) = (1.0, 1.0, 1.0);
        let geom = |p: &mut AugmentPipe| (p.scale, p.rotate, p.aniso, p.xfrac) = (1.0, 1.0, 1.0, 1.0);
        let color = |p: &mut AugmentPipe| {
            (p.brightness, p.contrast, p.lumaflip, p.hue, p.saturation) = (1.0, 1.0, 1.0, 1.0, 1.0)
        };
        match spec {
            Spec::Blit => blit(&mut p),
            Spec::Geom => geom(&mut p),
            Spec::Color => color(&mut p),
            Spec::Filter => p.imgfilter = 1.0,
            Spec::Noise => p.noise = 1.0,
            Spec::Cutout => p.cutout = 1.0,
            Spec::Bg | Spec::Bgc | Spec::Bgcf | Spec::Bgcfn | Spec::Bgcfnc => {
                blit(&mut p);
                geom(&mut p);
                if spec != Spec::Bg {
                    color(&mut p);
                }
                if matches!(spec, Spec::Bgcf | Spec::Bgcfn | Spec::Bgcfnc) {
                    p.imgfilter = 1.0;
                }
                if matches!(spec, Spec::Bgcfn | Spec::Bgcfnc) {
                    p.noise = 1.0;
                }
                if spec == Spec::Bgcfnc {
                    p.cutout = 1.0;
                }
            }
        }
        p
    }

    /// Whether a transform of the geometric stage is on.
    fn geometric(&self) -> bool {
        [self.xflip, self.rotate90, self.xint, self.scale, self.rotate, self.aniso, self.xfrac]
            .iter()
            .any(|m| *m > 0.0)
    }

    /// `images` `[N, C, H, W]` (C = 1 or 3; float) augmented with overall probability `p`,
    /// differentiably in `images`, drawing from libtorch's generator as their `forward` does.
    // `x = x op y`, not `x op= y`: tch's assignment operators work in place, which would write
    // through to the caller's tensor when no stage before has made a new one.
    #[allow(clippy::assign_op_pattern)]
    pub fn apply(&self, images: &Tensor, p: f64) -> Tensor {
        let (b, c, h, w) = images.size4().expect("AugmentPipe takes [N, C, H, W] images");
        let d = images.device();
        let opts = (Kind::Float, d);
        let rand = |shape: &[i64]| parallel::rand(shape, opts);
        let randn = |shape: &[i64]| parallel::randn(shape, opts);
        let p = Tensor::from(p as f32).to_device(d);
        // `rand(shape) < multiplier · p`, their coin for each transform.
        let coin = |shape: &[i64], mult: f64| rand(shape).lt_tensor(&(&p * mult));
        let zeros = |t: &Tensor| t.zeros_like();
        let ones = |t: &Tensor| t.ones_like();
        let mut images = images.shallow_clone();

        // Pixel blitting and general geometry: G_inv @ pixel_out = pixel_in.
        let eye3 = Tensor::eye(3, opts);
        let mut g_inv = eye3.shallow_clone();
        if self.xflip > 0.0 {
            let i = (rand(&[b]) * 2.0).floor();
            let i = i.where_self(&coin(&[b], self.xflip), &zeros(&i));
            g_inv = g_inv.matmul(&scale2d(1.0 / (1.0 - 2.0 * &i), 1.0, d)); // scale2d_inv(1 − 2i, 1)
        }
        if self.rotate90 > 0.0 {
            let i = (rand(&[b]) * 4.0).floor();
            let i = i.where_self(&coin(&[b], self.rotate90), &zeros(&i));
            let theta = -PI / 2.0 * &i;
            g_inv = g_inv.matmul(&rotate2d(&-theta, d));
        }
        if self.xint > 0.0 {
            let t = (rand(&[b, 2]) * 2.0 - 1.0) * self.xint_max;
            let t = t.where_self(&coin(&[b, 1], self.xint), &zeros(&t));
            let (tx, ty) = ((t.select(1, 0) * w as f64).round(), (t.select(1, 1) * h as f64).round());
            g_inv = g_inv.matmul(&translate2d(-tx, -ty, d));
        }
        if self.scale > 0.0 {
            let s = (randn(&[b]) * self.scale_std).exp2();
            let s = s.where_self(&coin(&[b], self.scale), &ones(&s));
            g_inv = g_inv.matmul(&scale2d(1.0 / &s, 1.0 / &s, d));
        }
        let rp: Tensor = &p * self.rotate;
        let p_rot: Tensor = 1.0f64 - (1.0f64 - rp).clamp(0.0, 1.0).sqrt();
        let rotation = |g_inv: Tensor| {
            let theta = (rand(&[b]) * 2.0 - 1.0) * PI * self.rotate_max;
            let theta = theta.where_self(&rand(&[b]).lt_tensor(&p_rot), &zeros(&theta));
            let minus = -theta;
            g_inv.matmul(&rotate2d(&-minus, d))
        };
        if self.rotate > 0.0 {
            g_inv = rotation(g_inv);
        }
        if self.aniso > 0.0 {
            let s = (randn(&[b]) * self.aniso_std).exp2();
            let s = s.where_self(&coin(&[b], self.aniso), &ones(&s));
            g_inv = g_inv.matmul(&scale2d(1.0 / &s, 1.0 / (1.0 / &s), d));
        }
        if self.rotate > 0.0 {
            g_inv = rotation(g_inv);
        }
        if self.xfrac > 0.0 {
            let t = randn(&[b, 2]) * self.xfrac_std;
            let t = t.where_self(&coin(&[b, 1], self.xfrac), &zeros(&t));
            g_inv = g_inv.matmul(&translate2d(-(t.select(1, 0) * w as f64), -(t.select(1, 1) * h as f64), d));
        }

        if self.geometric() {
            let f = separable_filter(&SYM6, d);
            let (cx, cy) = ((w - 1) as f64 / 2.0, (h - 1) as f64 / 2.0);
            let e = |v: f64| E::C(v);
            let cp = matrix(
                vec![
                    [e(-cx), e(-cy), e(1.0)],
                    [e(cx), e(-cy), e(1.0)],
                    [e(cx), e(cy), e(1.0)],
                    [e(-cx), e(cy), e(1.0)],
                ],
                d,
            );
            let cp = g_inv.matmul(&cp.tr()); // [B, xyz, idx]
            let hz_pad = SYM6.len() as i64 / 4;
            let margin = cp.narrow(1, 0, 2).permute([1, 0, 2]).flatten(1, -1);
            let margin = Tensor::cat(&[-&margin, margin], 0).amax([1], false);
            let pad2 = (hz_pad * 2) as f64;
            let off = Tensor::from_slice(&[
                (pad2 - cx) as f32,
                (pad2 - cy) as f32,
                (pad2 - cx) as f32,
                (pad2 - cy) as f32,
            ])
            .to_device(d);
            let lo = Tensor::zeros([4], opts);
            let hi = Tensor::from_slice(&[(w - 1) as f32, (h - 1) as f32, (w - 1) as f32, (h - 1) as f32])
                .to_device(d);
            let margin = (margin + off).maximum(&lo).minimum(&hi).ceil().to_kind(Kind::Int);
            let m: Vec<i64> = Vec::<i32>::try_from(margin.to_device(Device::Cpu))
                .expect("4 margins")
                .into_iter()
                .map(i64::from)
                .collect();
            let (mx0, my0, mx1, my1) = (m[0], m[1], m[2], m[3]);

            images = images.reflection_pad2d([mx0, mx1, my0, my1]);
            // (mx0 − mx1) / 2 of int32 tensors: a float32 value.
            g_inv = translate2d(((mx0 - mx1) as f32 / 2.0) as f64, ((my0 - my1) as f32 / 2.0) as f64, d)
                .matmul(&g_inv);

            let fw = SYM6.len() as i64;
            images = upfirdn2d(
                &images,
                &f,
                2,
                1,
                [(fw + 1) / 2, (fw - 2) / 2, (fw + 1) / 2, (fw - 2) / 2],
                false,
                4.0,
            );
            g_inv = scale2d(2.0, 2.0, d).matmul(&g_inv).matmul(&scale2d(1.0 / 2.0, 1.0 / 2.0, d));
            g_inv = translate2d(-0.5, -0.5, d).matmul(&g_inv).matmul(&translate2d(0.5, 0.5, d));

            let shape = [b, c, (h + hz_pad * 2) * 2, (w + hz_pad * 2) * 2];
            let (ih, iw) = (images.size()[2], images.size()[3]);
            let (sx, sy) = (2.0 / shape[3] as f64, 2.0 / shape[2] as f64);
            g_inv = scale2d(2.0 / iw as f64, 2.0 / ih as f64, d).matmul(&g_inv).matmul(&scale2d(
                1.0 / sx,
                1.0 / sy,
                d,
            ));
            let grid = Tensor::affine_grid_generator(&g_inv.narrow(1, 0, 2), shape, false);
            // Bilinear, zeros outside, align_corners = false: torch.nn.functional.grid_sample's defaults.
            images = images.grid_sampler(&grid, 0, 0, false);

            let pad = -hz_pad * 2;
            let (px0, px1) = (pad + (fw - 2 + 1) / 2, pad + (fw - 2) / 2);
            images = upfirdn2d(&images, &f, 1, 2, [px0, px1, px0, px1], true, 1.0);
        }

        // Colour: C @ colour_in = colour_out.
        let eye4 = Tensor::eye(4, opts);
        let mut cm = eye4.shallow_clone();
        let mut colour = false;
        if self.brightness > 0.0 {
            let bb = randn(&[b]) * self.brightness_std;
            let bb = bb.where_self(&coin(&[b], self.brightness), &zeros(&bb));
            cm = translate3d(&bb, d).matmul(&cm);
            colour = true;
        }
        if self.contrast > 0.0 {
            let cc = (randn(&[b]) * self.contrast_std).exp2();
            let cc = cc.where_self(&coin(&[b], self.contrast), &ones(&cc));
            cm = scale3d(&cc, d).matmul(&cm);
            colour = true;
        }
        let third = 1.0 / 3f64.sqrt();
        let v = Tensor::from_slice(&[third as f32, third as f32, third as f32, 0.0]).to_device(d);
        let vv = v.outer(&v);
        if self.lumaflip > 0.0 {
            let i = (rand(&[b, 1, 1]) * 2.0).floor();
            let i = i.where_self(&coin(&[b, 1, 1], self.lumaflip), &zeros(&i));
            let flip: Tensor = &vv * 2.0 * &i;
            cm = (&eye4 - flip).matmul(&cm);
            colour = true;
        }
        if self.hue > 0.0 && c > 1 {
            let theta = (rand(&[b]) * 2.0 - 1.0) * PI * self.hue_max;
            let theta = theta.where_self(&coin(&[b], self.hue), &zeros(&theta));
            cm = rotate3d(&v, &theta, d).matmul(&cm);
            colour = true;
        }
        if self.saturation > 0.0 && c > 1 {
            let s = (randn(&[b, 1, 1]) * self.saturation_std).exp2();
            let s = s.where_self(&coin(&[b, 1, 1], self.saturation), &ones(&s));
            cm = (&vv + (&eye4 - &vv) * &s).matmul(&cm);
            colour = true;
        }
        if colour {
            let flat = images.reshape([b, c, h * w]);
            let out = match c {
                3 => cm.narrow(1, 0, 3).narrow(2, 0, 3).matmul(&flat) + cm.narrow(1, 0, 3).narrow(2, 3, 1),
                1 => {
                    let cm = cm.narrow(1, 0, 3).mean_dim(1, true, Kind::Float);
                    flat * cm.narrow(2, 0, 3).sum_dim_intlist(2, true, Kind::Float) + cm.narrow(2, 3, 1)
                }
                _ => panic!("AugmentPipe's colour transforms take 1 or 3 channels, found {c}"),
            };
            images = out.reshape([b, c, h, w]);
        }

        // Their reflect padding of 21 pixels needs images of at least 22: smaller ones (ProGAN's
        // first stages) skip the filtering stage, where theirs would stop with an error.
        if self.imgfilter > 0.0 && h > 21 && w > 21 {
            let bank = filter_bank(d);
            let bands = bank.size()[0];
            let expected =
                Tensor::from_slice(&[10.0f32 / 13.0, 1.0 / 13.0, 1.0 / 13.0, 1.0 / 13.0]).to_device(d);
            let mut g = Tensor::ones([b, bands], opts);
            for (i, strength) in self.imgfilter_bands.iter().enumerate() {
                let t_i = (randn(&[b]) * self.imgfilter_std).exp2();
                let t_i =
                    t_i.where_self(&rand(&[b]).lt_tensor(&(&p * self.imgfilter * *strength)), &ones(&t_i));
                let t = Tensor::ones([b, bands], opts);
                t.narrow(1, i as i64, 1).copy_(&t_i.unsqueeze(1));
                let t = &t / (&expected * t.square()).sum_dim_intlist(-1, true, Kind::Float).sqrt();
                g = g * t;
            }
            let hz = g.matmul(&bank).unsqueeze(1).repeat([1, c, 1]).reshape([b * c, 1, -1]);
            let pp = bank.size()[1] / 2;
            let x = images.reshape([1, b * c, h, w]).reflection_pad2d([pp, pp, pp, pp]);
            let x = x.conv2d(&hz.unsqueeze(2), None::<Tensor>, [1, 1], [0, 0], [1, 1], b * c);
            let x = x.conv2d(&hz.unsqueeze(3), None::<Tensor>, [1, 1], [0, 0], [1, 1], b * c);
            images = x.reshape([b, c, h, w]);
        }

        if self.noise > 0.0 {
            let sigma = randn(&[b, 1, 1, 1]).abs() * self.noise_std;
            let sigma = sigma.where_self(&coin(&[b, 1, 1, 1], self.noise), &zeros(&sigma));
            images = images + randn(&[b, c, h, w]) * sigma;
        }

        if self.cutout > 0.0 {
            let size = Tensor::full([b, 2, 1, 1, 1], self.cutout_size, opts);
            let size = size.where_self(&coin(&[b, 1, 1, 1, 1], self.cutout), &zeros(&size));
            let center = rand(&[b, 2, 1, 1, 1]);
            let coord_x = Tensor::arange(w, (Kind::Int64, d)).reshape([1, 1, 1, -1]);
            let coord_y = Tensor::arange(h, (Kind::Int64, d)).reshape([1, 1, -1, 1]);
            let mask_x = ((coord_x.to_kind(Kind::Float) + 0.5) / w as f64 - center.select(1, 0))
                .abs()
                .ge_tensor(&(size.select(1, 0) / 2.0));
            let mask_y = ((coord_y.to_kind(Kind::Float) + 0.5) / h as f64 - center.select(1, 1))
                .abs()
                .ge_tensor(&(size.select(1, 1) / 2.0));
            images = images * mask_x.logical_or(&mask_y).to_kind(Kind::Float);
        }
        images
    }
}

/// StyleGAN2-ADA's adaptive p (`training_loop.py`'s ADA heuristic): every `interval` D steps,
/// r_t = the mean of sign(D(real)) over them, and p += sign(r_t − target) · (images those steps
/// saw) / (`kimg` · 1000), never below 0 (p may pass 1, as theirs may). p is a float32 value as
/// their buffer is; the running sums are what a checkpoint must hold to resume exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Adaptive {
    /// The r_t it steers to (their 0.6).
    pub target: f64,
    /// D steps between adjustments (their 4).
    pub interval: u64,
    /// Thousands of images for p to move by 1 (their 500).
    pub kimg: f64,
    /// The current probability.
    pub p: f32,
    /// Σ sign(D(real)) since the last adjustment.
    pub sign_sum: f64,
    /// Scores summed in `sign_sum`.
    pub sign_count: f64,
    /// D steps since the last adjustment.
    pub steps: u64,
    /// The r_t of the last adjustment (NaN before the first).
    pub last_rt: f64,
}

impl Adaptive {
    /// Starting from p = `p0`.
    pub fn new(target: f64, interval: u64, kimg: f64, p0: f32) -> Self {
        Adaptive {
            target,
            interval,
            kimg,
            p: p0,
            sign_sum: 0.0,
            sign_count: 0.0,
            steps: 0,
            last_rt: f64::NAN,
        }
    }

    /// Records D's scores of a real batch (the signs' sum and count, already summed over ranks
    /// by the caller where there are several).
    pub fn observe(&mut self, sign_sum: f64, count: f64) {
        self.sign_sum += sign_sum;
        self.sign_count += count;
    }

    /// Ends a D step of `batch` images (the whole batch, every rank's); adjusts p when
    /// `interval` steps have passed. Returns the r_t it adjusted on, if it did.
    pub fn step(&mut self, batch: u64) -> Option<f64> {
        self.steps += 1;
        if self.steps < self.interval {
            return None;
        }
        let rt = if self.sign_count > 0.0 { self.sign_sum / self.sign_count } else { f64::NAN };
        let sign = if rt.is_nan() {
            0.0
        } else {
            (rt - self.target).signum() * f64::from(u8::from(rt != self.target))
        };
        let adjust = sign * (batch * self.interval) as f64 / (self.kimg * 1000.0);
        self.p = (self.p + adjust as f32).max(0.0);
        self.last_rt = rt;
        (self.sign_sum, self.sign_count, self.steps) = (0.0, 0.0, 0);
        Some(rt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_by_their_names() {
        for s in Spec::ALL {
            assert_eq!(s.name().parse::<Spec>().unwrap(), s);
        }
        assert!("bgcx".parse::<Spec>().unwrap_err().contains("not an augmentation pipe"));
        let bgc = AugmentPipe::from_spec(Spec::Bgc);
        assert_eq!((bgc.xflip, bgc.saturation, bgc.imgfilter, bgc.cutout), (1.0, 1.0, 0.0, 0.0));
    }

    #[test]
    fn p_rises_when_d_is_sure_of_the_reals_and_falls_otherwise() {
        let mut a = Adaptive::new(0.6, 4, 500.0, 0.0);
        for _ in 0..3 {
            a.observe(64.0, 64.0);
            assert_eq!(a.step(64), None);
        }
        a.observe(64.0, 64.0);
        assert_eq!(a.step(64), Some(1.0));
        assert_eq!(a.p, (4.0 * 64.0 / 500_000.0) as f32);
        for _ in 0..4 {
            a.observe(-64.0, 64.0);
            a.step(64);
        }
        assert_eq!(a.p, 0.0, "down by the same step, and never below 0");
        for _ in 0..4 {
            a.observe(-64.0, 64.0);
            a.step(64);
        }
        assert_eq!(a.p, 0.0);
    }
}

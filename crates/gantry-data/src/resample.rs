//! Pillow's resampling (`Image.resize`), reproduced exactly: the same filters, the same
//! coefficients (support scaled by the reduction factor, so shrinking is antialiased), the same
//! two passes (horizontal, then vertical, each rounding to 8 bits) and the same fixed-point
//! arithmetic (coefficients in 22 fractional bits). An 8-bit image resized here equals Pillow's
//! result byte for byte (`tests/prepare.rs` checks it on fixtures Pillow made) — which is what
//! StyleGAN2-ADA's `dataset_tool.py` (Lanczos) and torchvision's PIL path compute. Float images
//! resize as Pillow's mode `F` does ([`resize_f32`]): what clean-fid's `mode="clean"` computes.

use std::str::FromStr;

/// Bits of the fractional part of Pillow's 8-bit coefficients (`PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// A resampling filter, as Pillow names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    /// Each output pixel averages the input pixels under it (`Image.BOX`).
    Box,
    /// Triangle, support 1 (`Image.BILINEAR`).
    Bilinear,
    /// Hamming-windowed sinc, support 1 (`Image.HAMMING`).
    Hamming,
    /// Keys' cubic with a = −0.5, support 2 (`Image.BICUBIC`; clean-fid's choice).
    Bicubic,
    /// Lanczos-windowed sinc, support 3 (`Image.LANCZOS`; StyleGAN2-ADA's dataset tool default).
    #[default]
    Lanczos,
}

impl Filter {
    /// Every filter, in Pillow's order of quality.
    pub const ALL: [Filter; 5] =
        [Filter::Box, Filter::Bilinear, Filter::Hamming, Filter::Bicubic, Filter::Lanczos];

    /// Its name as [`FromStr`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Filter::Box => "box",
            Filter::Bilinear => "bilinear",
            Filter::Hamming => "hamming",
            Filter::Bicubic => "bicubic",
            Filter::Lanczos => "lanczos",
        }
    }

    fn support(self) -> f64 {
        match self {
            Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        fn sinc(x: f64) -> f64 {
            if x == 0.0 {
                1.0
            } else {
                let x = x * std::f64::consts::PI;
                x.sin() / x
            }
        }
        match self {
            Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => (1.0 - x.abs()).max(0.0),
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let px = x * std::f64::consts::PI;
                    // Pillow's constants are C floats: 0.54f, 0.46f.
                    px.sin() / px * (0.54f32 as f64 + 0.46f32 as f64 * px.cos())
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Filter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Filter::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            let names: Vec<_> = Filter::ALL.iter().map(|f| f.name()).collect();
            format!("unknown filter {s:?} (expected one of {})", names.join(", "))
        })
    }
}

/// One axis's coefficients: for each output index, its first input index, and its weights.
struct Coeffs {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    /// `ksize` fixed-point weights per output index (the 8-bit path).
    kk: Vec<i32>,
    /// The same weights normalised in f64 (the float path, Pillow's mode `F`).
    kf: Vec<f64>,
}

/// Pillow's `precompute_coeffs` over the input span [0, `in_size`) and, for the 8-bit path,
/// `normalize_coeffs_8bpc`.
fn coeffs(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut kk = vec![0i32; out_size * ksize];
    let mut kf = vec![0f64; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        // C's `(int)` truncates towards zero, then clamps.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
        let mut ww = 0.0;
        for (x, w) in k.iter_mut().enumerate().take(xmax) {
            *w = filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss);
            ww += *w;
        }
        for x in 0..xmax {
            let w = if ww != 0.0 { k[x] / ww } else { k[x] };
            kf[xx * ksize + x] = w;
            let fixed = w * (1i64 << PRECISION_BITS) as f64;
            kk[xx * ksize + x] = if w < 0.0 { (fixed - 0.5) as i32 } else { (fixed + 0.5) as i32 };
        }
        bounds.push((xmin, xmax));
    }
    Coeffs { ksize, bounds, kk, kf }
}

/// Pillow's `clip8`: a fixed-point sum back to 8 bits.
fn clip8(v: i64) -> u8 {
    if v >= (1i64 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// A pixel type Pillow resamples: `u8` (fixed-point sums, rounded and clipped to 8 bits per
/// pass) or `f32` (mode `F`: f64 sums of f32 pixels times f64 weights, stored as f32).
trait Sample: Copy + Default {
    type Weight: Copy;
    type Acc: Copy;
    /// The weights of this path.
    fn weights(k: &Coeffs) -> &[Self::Weight];
    fn start() -> Self::Acc;
    fn add(acc: Self::Acc, v: Self, w: Self::Weight) -> Self::Acc;
    fn finish(acc: Self::Acc) -> Self;
}

impl Sample for u8 {
    type Weight = i32;
    type Acc = i64;
    fn weights(k: &Coeffs) -> &[i32] {
        &k.kk
    }
    fn start() -> i64 {
        1i64 << (PRECISION_BITS - 1)
    }
    fn add(acc: i64, v: u8, w: i32) -> i64 {
        acc + v as i64 * w as i64
    }
    fn finish(acc: i64) -> u8 {
        clip8(acc)
    }
}

impl Sample for f32 {
    type Weight = f64;
    type Acc = f64;
    fn weights(k: &Coeffs) -> &[f64] {
        &k.kf
    }
    fn start() -> f64 {
        0.0
    }
    fn add(acc: f64, v: f32, w: f64) -> f64 {
        acc + v as f64 * w
    }
    fn finish(acc: f64) -> f32 {
        acc as f32
    }
}

/// Pillow's horizontal pass over `rows` rows of `src` (`w` wide) from row `first`.
fn horizontal<T: Sample>(src: &[T], c: usize, w: usize, [first, rows]: [usize; 2], k: &Coeffs) -> Vec<T> {
    let out_w = k.bounds.len();
    let mut out = vec![T::default(); rows * out_w * c];
    for y in 0..rows {
        let line = &src[(y + first) * w * c..(y + first + 1) * w * c];
        for (xx, &(xmin, n)) in k.bounds.iter().enumerate() {
            let kx = &T::weights(k)[xx * k.ksize..xx * k.ksize + n];
            for ch in 0..c {
                let mut ss = T::start();
                for (x, &w) in kx.iter().enumerate() {
                    ss = T::add(ss, line[(x + xmin) * c + ch], w);
                }
                out[(y * out_w + xx) * c + ch] = T::finish(ss);
            }
        }
    }
    out
}

/// Pillow's vertical pass over `src` (rows of `row` values), its bounds shifted up by `shift`.
fn vertical<T: Sample>(src: &[T], row: usize, shift: usize, k: &Coeffs) -> Vec<T> {
    let mut out = vec![T::default(); k.bounds.len() * row];
    for (yy, &(ymin, n)) in k.bounds.iter().enumerate() {
        let ky = &T::weights(k)[yy * k.ksize..yy * k.ksize + n];
        let ymin = ymin - shift;
        for i in 0..row {
            let mut ss = T::start();
            for (y, &w) in ky.iter().enumerate() {
                ss = T::add(ss, src[(ymin + y) * row + i], w);
            }
            out[yy * row + i] = T::finish(ss);
        }
    }
    out
}

/// Resizes `px`, an interleaved 8-bit image of `w`×`h` pixels with `c` channels (row-major, as
/// the `image` crate and Pillow hold them), to `out_w`×`out_h` with `filter`, as Pillow 13's
/// `Image.resize((out_w, out_h), filter)` does. Sizes must be ≥ 1.
///
/// The order of the passes is Pillow 13's: vertical first when the height shrinks by more than
/// twice as many pixels as the width does, else horizontal first (the horizontal pass then
/// covers only the rows the vertical one reads). Pillow ≤ 12 always went horizontal first; the
/// two differ (by one level, in some pixels) only in that first case — never for a square
/// image resized to a square, which is what `prepare`'s centre crop does.
pub fn resize_u8(px: &[u8], c: usize, size: [usize; 2], out: [usize; 2], filter: Filter) -> Vec<u8> {
    resize(px, c, size, out, filter)
}

/// [`resize_u8`] for float pixels, as Pillow resizes a mode `F` image: the same coefficients
/// unquantised, f64 sums, f32 between and after the passes, nothing rounded or clipped.
/// clean-fid's `mode="clean"` resizes each channel of a u8 image this way (bicubic, to 299×299).
pub fn resize_f32(px: &[f32], c: usize, size: [usize; 2], out: [usize; 2], filter: Filter) -> Vec<f32> {
    resize(px, c, size, out, filter)
}

fn resize<T: Sample>(
    px: &[T],
    c: usize,
    [w, h]: [usize; 2],
    [out_w, out_h]: [usize; 2],
    filter: Filter,
) -> Vec<T> {
    assert_eq!(px.len(), w * h * c, "resize: {w}x{h}x{c} pixels expected");
    assert!(w > 0 && h > 0 && out_w > 0 && out_h > 0, "resize: empty image");
    let (need_h, need_v) = (out_w != w, out_h != h);
    if !need_h && !need_v {
        return px.to_vec();
    }
    let (dh, dw) = (h as i64 - out_h as i64, w as i64 - out_w as i64);
    let horizontal_first = !(dh > 0 && dh > dw * 2);
    let vert = coeffs(h, out_h, filter);
    let horiz = coeffs(w, out_w, filter);
    if horizontal_first {
        if !need_h {
            return vertical(px, w * c, 0, &vert);
        }
        let first = vert.bounds[0].0;
        let (last, n) = vert.bounds[out_h - 1];
        let tmp = horizontal(px, c, w, [first, last + n - first], &horiz);
        if need_v {
            vertical(&tmp, out_w * c, first, &vert)
        } else {
            tmp
        }
    } else {
        let tmp = vertical(px, w * c, 0, &vert);
        if need_h {
            horizontal(&tmp, c, w, [0, out_h], &horiz)
        } else {
            tmp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_by_name_and_refuse_others() {
        for f in Filter::ALL {
            assert_eq!(f.name().parse::<Filter>().unwrap(), f);
        }
        let e = "nearest".parse::<Filter>().unwrap_err();
        assert!(e.contains("nearest") && e.contains("lanczos"), "{e}");
    }

    #[test]
    fn a_constant_image_stays_constant_and_weights_sum_to_one() {
        for f in Filter::ALL {
            for (w, out) in [(37, 16), (16, 37), (5, 1), (1, 9)] {
                let c = coeffs(w, out, f);
                for (xx, &(_, n)) in c.bounds.iter().enumerate() {
                    let s: i64 = c.kk[xx * c.ksize..xx * c.ksize + n].iter().map(|&k| k as i64).sum();
                    assert!((s - (1 << PRECISION_BITS)).abs() <= n as i64, "{f} {w}->{out}: {s}");
                }
            }
            let px = vec![200u8; 37 * 23 * 3];
            let out = resize_u8(&px, 3, [37, 23], [16, 40], f);
            assert!(out.iter().all(|&v| v == 200), "{f}");
        }
    }
}

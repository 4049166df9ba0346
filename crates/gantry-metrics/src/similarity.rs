//! Full-reference image similarity: how close an output is to its target, pixel by pixel (PSNR)
//! and in local structure (SSIM). Translation models are measured with both beside FID: L1
//! training maximises the first, a sharp realistic output the others.
//!
//! ```text
//! PSNR = 10·log10(L² / MSE)                                  L: the data range (255 for u8)
//! SSIM(x, y) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))
//!              C1 = (0.01 L)², C2 = (0.03 L)², local statistics under an 11×11 Gaussian window
//!              of σ = 1.5 (Wang et al. 2004), averaged over the positions where the window fits
//!              and over channels
//! ```
//!
//! SSIM is scikit-image's `structural_similarity(…, gaussian_weights=True, sigma=1.5,
//! use_sample_covariance=False, data_range=255)` (the paper's setting; its window is truncated at
//! 3.5σ, radius 5, and its mean skips a 5-pixel border), checked against scikit-image on fixtures
//! (`tests/fixtures/make_similarity.py`).

use tch::{Kind, Tensor};

use crate::{MetricError, Result};

fn check(a: &Tensor, b: &Tensor) -> Result<()> {
    let (sa, sb) = (a.size(), b.size());
    if sa.len() != 4 || sa != sb || sa[0] == 0 {
        return Err(MetricError::Invalid(format!(
            "image similarity compares two batches [N, C, H, W] of the same shape, found {sa:?} and {sb:?}"
        )));
    }
    Ok(())
}

/// PSNR in dB of each image pair of `a`, `b` `[N, C, H, W]` (any kind; values on a scale of
/// `data_range`): `[N]` f64, +∞ for identical images.
pub fn psnr(a: &Tensor, b: &Tensor, data_range: f64) -> Result<Tensor> {
    check(a, b)?;
    let mse = (a.to_kind(Kind::Double) - b.to_kind(Kind::Double)).square().mean_dim(
        [1i64, 2, 3].as_slice(),
        false,
        Kind::Double,
    );
    Ok((mse.reciprocal() * (data_range * data_range)).log10() * 10.0)
}

/// The 1-D Gaussian window scikit-image (scipy's `gaussian_filter`) uses for σ: taps within
/// `int(3.5·σ + 0.5)` of the centre, normalised.
fn gaussian_window(sigma: f64) -> Vec<f64> {
    let r = (3.5 * sigma + 0.5) as i64;
    let w: Vec<f64> = (-r..=r).map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|v| v / s).collect()
}

/// Mean SSIM of each image pair of `a`, `b` `[N, C, H, W]` (values on a scale of `data_range`):
/// `[N]` f64. Images must be at least 11×11.
pub fn ssim(a: &Tensor, b: &Tensor, data_range: f64) -> Result<Tensor> {
    check(a, b)?;
    let s = a.size();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let win = gaussian_window(1.5);
    let k = win.len() as i64;
    if h < k || w < k {
        return Err(MetricError::Invalid(format!("SSIM needs images of at least {k}×{k}, found {h}×{w}")));
    }
    let g = Tensor::from_slice(&win).to_device(a.device());
    let kernel = g.view([k, 1]).matmul(&g.view([1, k])).view([1, 1, k, k]); // separable, outer product
                                                                            // Each channel filtered alone ("valid": the mean skips the border where the window hangs out).
    let filt =
        |x: &Tensor| x.reshape([n * c, 1, h, w]).conv2d(&kernel, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1);
    let (x, y) = (a.to_kind(Kind::Double), b.to_kind(Kind::Double));
    let (mx, my) = (filt(&x), filt(&y));
    let (sxx, syy, sxy) =
        (filt(&(&x * &x)) - &mx * &mx, filt(&(&y * &y)) - &my * &my, filt(&(&x * &y)) - &mx * &my);
    let (c1, c2) = ((0.01 * data_range).powi(2), (0.03 * data_range).powi(2));
    let num = (&mx * &my * 2.0 + c1) * (sxy * 2.0 + c2);
    let den = (mx.square() + my.square() + c1) * (sxx + syy + c2);
    Ok((num / den).reshape([n, -1]).mean_dim([1i64].as_slice(), false, Kind::Double))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn psnr_by_hand() {
        let a = Tensor::zeros([2, 1, 4, 4], (Kind::Uint8, Device::Cpu));
        let b = a.copy();
        let _ = b.get(1).fill_(10);
        let p: Vec<f64> = Vec::try_from(psnr(&a, &b, 255.0).unwrap()).unwrap();
        assert!(p[0].is_infinite());
        assert!((p[1] - 10.0 * (255.0f64 * 255.0 / 100.0).log10()).abs() < 1e-12);
    }

    #[test]
    fn ssim_is_one_for_equal_images_and_falls_with_noise() {
        let x = Tensor::rand([2, 3, 32, 32], (Kind::Double, Device::Cpu)) * 255.0;
        let s: Vec<f64> = Vec::try_from(ssim(&x, &x, 255.0).unwrap()).unwrap();
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12), "{s:?}");
        let noisy = &x + Tensor::randn([2, 3, 32, 32], (Kind::Double, Device::Cpu)) * 40.0;
        let t: Vec<f64> = Vec::try_from(ssim(&x, &noisy, 255.0).unwrap()).unwrap();
        assert!(t.iter().all(|&v| v < 0.9), "{t:?}");
        // Symmetric, and a constant offset on a flat image barely matters when it is small.
        let u: Vec<f64> = Vec::try_from(ssim(&noisy, &x, 255.0).unwrap()).unwrap();
        assert!(t.iter().zip(&u).all(|(a, b)| (a - b).abs() < 1e-12));
        assert_eq!(gaussian_window(1.5).len(), 11);
        assert!(ssim(&x.narrow(2, 0, 8), &x.narrow(2, 0, 8), 255.0).is_err());
    }
}

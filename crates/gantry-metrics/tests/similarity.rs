//! PSNR and SSIM against scikit-image on fixtures written by `fixtures/make_similarity.py`.

use gantry_metrics::similarity::{psnr, ssim};
use tch::Tensor;

/// The fixture script's image: round(127.5 + 120·sin(a·y + b·x + phase + 0.9·ch)·cos(0.05·x·y)).
fn image([c, h, w]: [i64; 3], p: &[f64]) -> Tensor {
    let mut v = Vec::with_capacity((c * h * w) as usize);
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let (xf, yf) = (x as f64, y as f64);
                let s = (p[0] * yf + p[1] * xf + p[2] + 0.9 * ch as f64).sin() * (0.05 * xf * yf).cos();
                v.push((127.5 + 120.0 * s).round_ties_even().clamp(0.0, 255.0) as u8);
            }
        }
    }
    Tensor::from_slice(&v).view([1, c, h, w])
}

#[test]
fn psnr_and_ssim_match_scikit_image() {
    let r: serde_json::Value = serde_json::from_str(include_str!("fixtures/similarity.json")).unwrap();
    for case in r["cases"].as_array().unwrap() {
        let f = |k: &str| -> Vec<f64> {
            case[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
        };
        let s = f("shape");
        let shape = [s[0] as i64, s[1] as i64, s[2] as i64];
        let (x, y) = (image(shape, &f("a")), image(shape, &f("b")));
        let got_ssim = ssim(&x, &y, 255.0).unwrap().double_value(&[0]);
        let got_psnr = psnr(&x, &y, 255.0).unwrap().double_value(&[0]);
        let (want_ssim, want_psnr) = (case["ssim"].as_f64().unwrap(), case["psnr"].as_f64().unwrap());
        eprintln!(
            "{shape:?}: SSIM {got_ssim:.12} vs {want_ssim:.12}, PSNR {got_psnr:.12} vs {want_psnr:.12}"
        );
        assert!(
            (got_ssim - want_ssim).abs() < 1e-9,
            "SSIM {shape:?}: {got_ssim} vs scikit-image {want_ssim}"
        );
        assert!(
            (got_psnr - want_psnr).abs() < 1e-9,
            "PSNR {shape:?}: {got_psnr} vs scikit-image {want_psnr}"
        );
    }
    // A batch scores each pair on its own.
    let (a, b) = (image([1, 28, 28], &[0.31, 0.17, 0.0]), image([1, 28, 28], &[0.29, 0.19, 0.3]));
    let batch = ssim(&Tensor::cat(&[&a, &a], 0), &Tensor::cat(&[&b, &a], 0), 255.0).unwrap();
    assert_eq!(batch.size(), vec![2]);
    assert!((batch.double_value(&[1]) - 1.0).abs() < 1e-12);
}

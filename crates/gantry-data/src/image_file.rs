//! Single image files (PNG, JPEG, PGM, …) as model inputs, fitted as datasets are.

use std::path::Path;

use tch::{Kind, Tensor};

use crate::dataset::{fit_pixels, Fit};
use crate::Result;

/// An image file as `[1, channels, size, size]` in [−1, 1] (fitted as datasets are: pad or
/// centre-crop and resize; colour ↔ grey by BT.601).
pub fn read(path: &Path, size: i64, channels: i64, fit: Fit) -> Result<Tensor> {
    let img = crate::decode::open(path)?;
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (px, c) = crate::dataset::planar(&img, None);
    let fitted = fit_pixels(&px, [c, h, w], size, channels, fit)?;
    Ok(Tensor::from_slice(&fitted).view([1, channels, size, size]).to_kind(Kind::Float) / 127.5 - 1.0)
}

/// An image file at its own size as `[1, channels, H, W]` in [−1, 1] (colour ↔ grey by BT.601).
pub fn read_native(path: &Path, channels: i64) -> Result<Tensor> {
    let img = crate::decode::open(path)?;
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (px, c) = crate::dataset::planar(&img, None);
    let px = crate::dataset::convert_channels(&px, c, channels, (h * w) as usize)?;
    Ok(Tensor::from_slice(&px).view([1, channels, h, w]).to_kind(Kind::Float) / 127.5 - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_fits_one_image() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.png");
        image::RgbImage::from_fn(6, 4, |x, _| image::Rgb([if x < 3 { 255 } else { 0 }, 0, 0]))
            .save(&p)
            .unwrap();
        let t = read(&p, 4, 3, Fit::Resize).unwrap();
        assert_eq!(t.size(), vec![1, 3, 4, 4]);
        assert_eq!(t.double_value(&[0, 0, 0, 0]), 1.0);
        assert_eq!(t.double_value(&[0, 1, 0, 0]), -1.0);
        let grey = read(&p, 8, 1, Fit::Pad).unwrap();
        assert_eq!(grey.size(), vec![1, 1, 8, 8]);
        let native = read_native(&p, 1).unwrap();
        assert_eq!(native.size(), vec![1, 1, 4, 6], "H × W as the file has it");
        // Red (255, 0, 0) in BT.601 luma: round(0.299 · 255) = 76.
        assert!((native.double_value(&[0, 0, 0, 0]) - (76.0 / 127.5 - 1.0)).abs() < 1e-6);
        assert_eq!(native.double_value(&[0, 0, 0, 5]), -1.0);
        std::fs::write(d.path().join("bad.png"), b"no").unwrap();
        let e = read(&d.path().join("bad.png"), 4, 1, Fit::Auto).unwrap_err().to_string();
        assert!(e.contains("bad.png"), "{e}");
    }
}

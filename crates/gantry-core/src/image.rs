//! Tensors <-> images. gantry's convention: images are NCHW float tensors in [-1, 1]; this module is
//! the one place that converts them to and from u8 pixels, tiles them into grids and writes PNGs.

use std::path::Path;

use tch::{Kind, Tensor};

use crate::{fs::write_atomic, CoreError, Result};

/// u8 pixels (any shape) -> float in [-1, 1]: `x / 127.5 - 1`, on the input's device.
pub fn from_u8(pixels: &Tensor) -> Tensor {
    pixels.to_kind(Kind::Float) / 127.5 - 1.0
}

/// Float images in [-1, 1] (any shape) -> u8 pixels: `round((x + 1) * 127.5)` clamped to 0..=255.
pub fn to_u8(images: &Tensor) -> Tensor {
    ((images.to_kind(Kind::Float) + 1.0) * 127.5).round().clamp(0.0, 255.0).to_kind(Kind::Uint8)
}

/// Tiles `images` `[N, C, H, W]` (float in [-1, 1]) into one u8 image `[C, rows*(H+pad)+pad,
/// nrow*(W+pad)+pad]`, `nrow` images per row, separated by `pad` grey pixels.
pub fn make_grid(images: &Tensor, nrow: usize, pad: i64) -> Result<Tensor> {
    let size = images.size();
    if size.len() != 4 || !(size[1] == 1 || size[1] == 3) || size[0] == 0 {
        return Err(CoreError::Image(format!("make_grid expects [N, 1|3, H, W] with N > 0, found {size:?}")));
    }
    let (n, c, h, w) = (size[0], size[1], size[2], size[3]);
    let ncol = (nrow.max(1) as i64).min(n);
    let nrows = (n + ncol - 1) / ncol;
    let pixels = to_u8(&images.to_device(tch::Device::Cpu));
    let grid = Tensor::full(
        [c, nrows * (h + pad) + pad, ncol * (w + pad) + pad],
        128,
        (Kind::Uint8, tch::Device::Cpu),
    );
    for i in 0..n {
        let (r, col) = (i / ncol, i % ncol);
        grid.narrow(1, pad + r * (h + pad), h).narrow(2, pad + col * (w + pad), w).copy_(&pixels.get(i));
    }
    Ok(grid)
}

/// Encodes u8 pixels `[C, H, W]` (C = 1 or 3) as PNG bytes.
pub fn encode_png(pixels: &Tensor) -> Result<Vec<u8>> {
    let size = pixels.size();
    if size.len() != 3 || !(size[0] == 1 || size[0] == 3) || pixels.kind() != Kind::Uint8 {
        return Err(CoreError::Image(format!(
            "encode_png expects u8 [1|3, H, W], found {:?} {size:?}",
            pixels.kind()
        )));
    }
    let (c, h, w) = (size[0] as usize, size[1] as u32, size[2] as u32);
    let hwc = pixels.permute([1, 2, 0]).contiguous().to_device(tch::Device::Cpu);
    let mut data = vec![0u8; c * h as usize * w as usize];
    let numel = data.len();
    hwc.f_copy_data_u8(&mut data, numel)?;
    let color = if c == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
    let mut out = Vec::new();
    image::ImageEncoder::write_image(image::codecs::png::PngEncoder::new(&mut out), &data, w, h, color)
        .map_err(|e| CoreError::Image(e.to_string()))?;
    Ok(out)
}

/// Writes u8 pixels `[C, H, W]` to `path` as a PNG, atomically.
pub fn save_png(pixels: &Tensor, path: &Path) -> Result<()> {
    write_atomic(path, &encode_png(pixels)?)
}

/// Tiles `images` `[N, C, H, W]` in [-1, 1] into a grid (see [`make_grid`]) and writes it as a PNG.
pub fn save_grid(images: &Tensor, nrow: usize, path: &Path) -> Result<()> {
    save_png(&make_grid(images, nrow, 2)?, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extremes_map_to_0_and_255() {
        let x = Tensor::from_slice(&[-1.0f32, 0.0, 1.0, -3.0, 7.0]);
        let u: Vec<u8> = Vec::try_from(to_u8(&x)).unwrap();
        assert_eq!(u, vec![0, 128, 255, 0, 255]);
    }

    proptest! {
        #[test]
        fn u8_round_trips_exactly(px in proptest::collection::vec(any::<u8>(), 1..64)) {
            let t = Tensor::from_slice(&px);
            let back: Vec<u8> = Vec::try_from(to_u8(&from_u8(&t))).unwrap();
            prop_assert_eq!(back, px);
        }
    }

    #[test]
    fn grid_places_each_image() {
        // 3 images 1x2x2, values -1 (0), 0 (128 after rounding 127.5), 1 (255); 2 per row, pad 1.
        let imgs = Tensor::cat(
            &[
                Tensor::full([1, 1, 2, 2], -1.0, tch::kind::FLOAT_CPU),
                Tensor::full([1, 1, 2, 2], 1.0, tch::kind::FLOAT_CPU),
                Tensor::full([1, 1, 2, 2], 1.0, tch::kind::FLOAT_CPU),
            ],
            0,
        );
        let g = make_grid(&imgs, 2, 1).unwrap();
        assert_eq!(g.size(), vec![1, 7, 7]);
        assert_eq!(g.int64_value(&[0, 1, 1]), 0);
        assert_eq!(g.int64_value(&[0, 1, 4]), 255);
        assert_eq!(g.int64_value(&[0, 4, 1]), 255);
        assert_eq!(g.int64_value(&[0, 4, 4]), 128); // the empty cell stays padding
        assert_eq!(g.int64_value(&[0, 0, 0]), 128);
    }

    #[test]
    fn png_round_trips_through_the_image_crate() {
        let px = Tensor::arange(3 * 4 * 5, (Kind::Int64, tch::Device::Cpu))
            .remainder(256)
            .to_kind(Kind::Uint8)
            .reshape([3, 4, 5]);
        let bytes = encode_png(&px).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (5, 4));
        assert_eq!(img.get_pixel(2, 1).0, [7, 27, 47]);
        assert!(encode_png(&Tensor::zeros([2, 4, 4], (Kind::Uint8, tch::Device::Cpu))).is_err());
    }
}

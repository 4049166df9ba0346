//! Image decoding. JPEG goes through libjpeg-turbo's decoder (as the `mozjpeg` crate builds it
//! from C; no system library), with its defaults — the accurate integer IDCT (`JDCT_ISLOW`) and
//! "fancy" (triangle-filter) chroma upsampling — which is what PIL does, and so what clean-fid,
//! pytorch-fid and StyleGAN2-ADA's dataset tool see: FID on a JPEG folder then agrees with theirs.
//! Every other format goes through the `image` crate.

use std::path::Path;

use image::{DynamicImage, ImageFormat};

use crate::{DataError, Result};

/// The most pixels an image may have: PIL's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`
/// × 2, past which PIL raises `DecompressionBombError`). A header claiming more is one line
/// before any pixel is decoded.
pub const MAX_PIXELS: u64 = 2 * 89_478_485;

/// Refuses a `w`×`h` image of `channels` × `bytes_per_sample` before decoding: past
/// [`MAX_PIXELS`], or more than the available memory holds (its pixels, and the float tensor
/// they become).
fn check_size(w: u64, h: u64, samples: u64) -> std::result::Result<(), String> {
    let px = w * h;
    if px > MAX_PIXELS {
        return Err(format!(
            "{w}x{h} is {px} pixels, over the limit of {MAX_PIXELS} (PIL's decompression-bomb limit): split or shrink it first"
        ));
    }
    // Only a large image asks the OS for the available memory (not every file of a folder).
    let bytes = px as u128 * samples as u128 * 5;
    if bytes < 256 << 20 {
        return Ok(());
    }
    gantry_core::mem::ensure_fits(&format!("decoding {w}x{h}"), bytes, "").map_err(|e| e.to_string())
}

/// Decodes `bytes` of `format`; `shown` names the file in errors. The header's size is checked
/// first ([`MAX_PIXELS`], available memory), so a decompression bomb is one line.
pub fn decode(bytes: &[u8], format: ImageFormat, shown: &str) -> Result<DynamicImage> {
    let err = |message: String| DataError::Decode { path: shown.to_string(), message };
    if format == ImageFormat::Jpeg {
        return decode_jpeg(bytes).map_err(err);
    }
    let reader = || image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let (w, h) = reader().into_dimensions().map_err(|e| err(e.to_string()))?;
    // 4 channels of 16 bits: the most any decoder here gives per pixel.
    check_size(w as u64, h as u64, 8).map_err(err)?;
    let mut r = reader();
    let mut limits = image::Limits::default();
    limits.max_alloc = Some((w as u64 * h as u64 * 16).max(512 << 20));
    r.limits(limits);
    r.decode().map_err(|e| err(e.to_string()))
}

/// Reads and decodes the image file at `path` (its format from its extension, else its bytes).
pub fn open(path: &Path) -> Result<DynamicImage> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let format = ImageFormat::from_path(path)
        .ok()
        .or_else(|| image::guess_format(&bytes).ok())
        .ok_or_else(|| DataError::Decode { path: shown.clone(), message: "unknown image format".into() })?;
    decode(&bytes, format, &shown)
}

/// Whether a JPEG stream ends with its EOI marker after its last scan (libjpeg only warns about a
/// truncated file, and fills the missing rows with grey).
fn complete(bytes: &[u8]) -> bool {
    let last = |m: [u8; 2]| bytes.windows(2).rposition(|w| w == m);
    matches!((last([0xFF, 0xDA]), last([0xFF, 0xD9])), (Some(sos), Some(eoi)) if eoi > sos)
}

/// Pillow's `cmyk2rgb` (Convert.c): each of R, G, B is (255 − k) − c·(255 − k)/255, with its
/// integer rounding.
fn cmyk_to_rgb([c, m, y, k]: [u8; 4]) -> [u8; 3] {
    let nk = 255 - k as i32;
    let muldiv255 = |a: i32| {
        let t = a * nk + 128;
        ((t >> 8) + t) >> 8
    };
    [c, m, y].map(|v| (nk - muldiv255(v as i32)).clamp(0, 255) as u8)
}

/// The EXIF orientation `bytes` of `format` declare (none when they declare none or cannot be
/// read): how the image must be turned to be seen as the camera saw it. Pillow's `Image.open`
/// (and so FID tools) ignores it; `gantry dataset prepare` applies it.
pub fn orientation(bytes: &[u8], format: ImageFormat) -> image::metadata::Orientation {
    use image::ImageDecoder;
    let read = || -> image::ImageResult<image::metadata::Orientation> {
        if format == ImageFormat::Jpeg {
            image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes))?.orientation()
        } else {
            image::ImageReader::with_format(std::io::Cursor::new(bytes), format).into_decoder()?.orientation()
        }
    };
    read().unwrap_or(image::metadata::Orientation::NoTransforms)
}

/// libjpeg-turbo's pixels: 8-bit grey for one-component files, RGB otherwise (CMYK converted as
/// Pillow does).
fn decode_jpeg(bytes: &[u8]) -> std::result::Result<DynamicImage, String> {
    if !complete(bytes) {
        return Err("truncated JPEG (no end-of-image marker after the last scan)".into());
    }
    // libjpeg reports errors by unwinding (`resume_unwind`: no panic message), so catch them.
    let decoded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> std::io::Result<DynamicImage> {
            let mut d = mozjpeg::Decompress::new_mem(bytes)?;
            d.dct_method(mozjpeg::DctMethod::IntegerSlow);
            d.do_fancy_upsampling(true);
            let (w, h) = (d.width() as u32, d.height() as u32);
            check_size(w as u64, h as u64, 3).map_err(std::io::Error::other)?;
            let space = d.color_space();
            let grey = matches!(space, mozjpeg::ColorSpace::JCS_GRAYSCALE);
            let cmyk = matches!(space, mozjpeg::ColorSpace::JCS_CMYK | mozjpeg::ColorSpace::JCS_YCCK);
            let img = if cmyk {
                // libjpeg gives CMYK (YCCK converted) as stored; Pillow reads CMYK JPEGs as Adobe's
                // inverted CMYK and converts to RGB with its `cmyk2rgb`, which this repeats.
                let mut s = d.to_colorspace(mozjpeg::ColorSpace::JCS_CMYK)?;
                let px: Vec<[u8; 4]> = s.read_scanlines()?;
                s.finish()?;
                let rgb = px.iter().flat_map(|&p| cmyk_to_rgb(p.map(|v| 255 - v))).collect();
                image::RgbImage::from_raw(w, h, rgb).map(DynamicImage::ImageRgb8)
            } else if grey {
                let mut s = d.grayscale()?;
                let px: Vec<u8> = s.read_scanlines()?;
                s.finish()?;
                image::GrayImage::from_raw(w, h, px).map(DynamicImage::ImageLuma8)
            } else {
                let mut s = d.rgb()?;
                let px: Vec<u8> = s.read_scanlines()?;
                s.finish()?;
                image::RgbImage::from_raw(w, h, px).map(DynamicImage::ImageRgb8)
            };
            img.ok_or_else(|| std::io::Error::other("libjpeg returned fewer pixels than the image holds"))
        }));
    match decoded {
        Ok(Ok(img)) => Ok(img),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "libjpeg failed".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(img: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Jpeg).unwrap();
        out
    }

    #[test]
    fn colour_and_grey_jpegs_decode_close_to_their_source() {
        let rgb = image::RgbImage::from_fn(33, 17, |x, y| image::Rgb([(x * 7) as u8, (y * 13) as u8, 128]));
        let img = decode(&jpeg(&DynamicImage::ImageRgb8(rgb.clone())), ImageFormat::Jpeg, "a.jpg").unwrap();
        let back = img.as_rgb8().expect("RGB");
        assert_eq!(back.dimensions(), (33, 17));
        let err = rgb.as_raw().iter().zip(back.as_raw()).map(|(a, b)| (*a as i32 - *b as i32).abs()).max();
        assert!(err.unwrap() < 40, "{err:?}");
        let grey = image::GrayImage::from_fn(8, 9, |x, _| image::Luma([(x * 30) as u8]));
        let g = decode(&jpeg(&DynamicImage::ImageLuma8(grey)), ImageFormat::Jpeg, "g.jpg").unwrap();
        assert!(g.as_luma8().is_some(), "one-component JPEGs stay grey");
    }

    #[test]
    fn truncated_and_corrupt_jpegs_are_one_line_naming_the_file() {
        let bytes = jpeg(&DynamicImage::ImageRgb8(image::RgbImage::new(16, 16)));
        let e = decode(&bytes[..bytes.len() - 40], ImageFormat::Jpeg, "cut.jpg").unwrap_err().to_string();
        assert!(e.contains("cut.jpg") && e.contains("truncated"), "{e}");
        let mut bad = bytes.clone();
        let sof = bad.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bad[sof + 5..sof + 9].fill(0); // height and width 0: libjpeg's error, caught
        let e = decode(&bad, ImageFormat::Jpeg, "bad.jpg").unwrap_err().to_string();
        assert!(e.contains("bad.jpg") && !e.contains('\n'), "{e}");
    }
}

//! An in-memory image dataset (u8 pixels) and how it is fitted to a model's size and channels.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::{DataError, Result};

/// Which part of a dataset to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// The training part (the default).
    #[default]
    Train,
    /// The held-out test part.
    Test,
    /// Train and test together.
    All,
}

impl std::str::FromStr for Split {
    type Err = DataError;

    /// `train`, `test` or `all`.
    fn from_str(s: &str) -> Result<Self> {
        [Split::Train, Split::Test, Split::All]
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| DataError::Spec(format!("unknown split '{s}' (expected train, test or all)")))
    }
}

impl Split {
    /// The split's name in configs and on the command line: `train`, `test` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::All => "all",
        }
    }
}

/// How images of another size are brought to the model's size S×S.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Fit {
    /// `pad` when the image fits in S×S and S ≤ 1.25 × its longer side (MNIST 28 → 32), else `resize`.
    #[default]
    Auto,
    /// Centre the image on a black S×S canvas (pixels 0, i.e. −1 after scaling).
    Pad,
    /// Centre-crop to a square, then resize to S×S (bilinear, antialiased when shrinking).
    Resize,
}

/// Images as u8 pixels `[N, C, H, W]` on the CPU, with optional integer labels `[N]`.
#[derive(Debug)]
pub struct ImageDataset {
    /// What it was loaded from (for logs).
    pub name: String,
    /// u8 `[N, C, H, W]`.
    pub images: Tensor,
    /// i64 `[N]`, class indices into `classes`.
    pub labels: Option<Tensor>,
    /// Class names (empty when unlabelled).
    pub classes: Vec<String>,
    /// Files of the folder or archive that were not loaded, each with why.
    pub skipped: Vec<Skipped>,
}

/// A file of a folder or archive that was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file, as errors name it.
    pub file: String,
    /// Why it was left out.
    pub why: SkipReason,
}

/// Why a file was left out of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Its extension is not an image's (README, LICENSE, a `.txt` of captions, …).
    NotAnImage,
    /// An image file whose bytes do not decode (the decoder's words: truncated, corrupt, over
    /// the pixel limit).
    Undecodable(String),
    /// An image smaller than asked for (its size and the limit, in words).
    TooSmall(String),
    /// The same pixels as an earlier file (named).
    Duplicate(String),
    /// No label for it where labels were asked for (why, in words).
    Unlabelled(String),
}

impl SkipReason {
    /// A short name of the kind of reason ("undecodable", "duplicate", …), for summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            SkipReason::NotAnImage => "not an image",
            SkipReason::Undecodable(_) => "undecodable",
            SkipReason::TooSmall(_) => "too small",
            SkipReason::Duplicate(_) => "duplicate",
            SkipReason::Unlabelled(_) => "unlabelled",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::NotAnImage => f.write_str("not an image"),
            SkipReason::Undecodable(why) => write!(f, "undecodable: {why}"),
            SkipReason::TooSmall(why) => write!(f, "too small: {why}"),
            SkipReason::Duplicate(of) => write!(f, "duplicate of {of}"),
            SkipReason::Unlabelled(why) => write!(f, "unlabelled: {why}"),
        }
    }
}

/// One line on `skipped` (None when it is empty): how many files, by reason, naming the first
/// file of each reason other than "not an image".
pub fn skipped_summary(skipped: &[Skipped]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut kinds: Vec<(&'static str, Vec<&Skipped>)> = Vec::new();
    for s in skipped {
        match kinds.iter_mut().find(|(k, _)| *k == s.why.kind()) {
            Some((_, v)) => v.push(s),
            None => kinds.push((s.why.kind(), vec![s])),
        }
    }
    // Reasons that say something about an image first; "not an image" last.
    kinds.sort_by_key(|(k, _)| *k == SkipReason::NotAnImage.kind());
    let parts: Vec<String> = kinds
        .iter()
        .map(|(kind, files)| {
            let n = files.len();
            if *kind == SkipReason::NotAnImage.kind() {
                return format!("{n} not {}", if n == 1 { "an image" } else { "images" });
            }
            let first = files[0];
            let more = if n > 1 { format!(" and {} more", n - 1) } else { String::new() };
            let detail = match &first.why {
                SkipReason::Undecodable(why) | SkipReason::TooSmall(why) | SkipReason::Unlabelled(why) => {
                    format!("{}: {why}", first.file)
                }
                SkipReason::Duplicate(of) => format!("{} of {of}", first.file),
                SkipReason::NotAnImage => unreachable!("handled above"),
            };
            format!("{n} {kind} ({detail}{more})")
        })
        .collect();
    Some(format!("skipped {} files: {}", skipped.len(), parts.join(", ")))
}

impl ImageDataset {
    /// Builds a dataset from u8 CHW pixels of `n` images; refuses an empty one.
    pub fn from_pixels(
        name: impl Into<String>,
        pixels: Vec<u8>,
        shape: [usize; 4],
        labels: Option<Vec<i64>>,
        classes: Vec<String>,
    ) -> Result<Self> {
        let name = name.into();
        let [n, c, h, w] = shape;
        if n == 0 {
            return Err(DataError::Empty(format!("{name}: the dataset is empty (no images found)")));
        }
        if pixels.len() != n * c * h * w {
            return Err(DataError::format(
                &name,
                format!("expected {} pixel bytes, found {}", n * c * h * w, pixels.len()),
            ));
        }
        let images = Tensor::from_slice(&pixels).reshape([n as i64, c as i64, h as i64, w as i64]);
        let labels = match labels {
            Some(l) if l.len() != n => {
                return Err(DataError::format(&name, format!("{n} images but {} labels", l.len())));
            }
            Some(l) => Some(Tensor::from_slice(&l)),
            None => None,
        };
        Ok(Self { name, images, labels, classes, skipped: Vec::new() })
    }

    /// The number of images, N.
    pub fn len(&self) -> usize {
        self.images.size()[0] as usize
    }

    /// Whether the dataset holds no images ([`ImageDataset::from_pixels`] refuses to build one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[C, H, W]`.
    pub fn image_shape(&self) -> [i64; 3] {
        let s = self.images.size();
        [s[1], s[2], s[3]]
    }

    /// Brings every image to `channels` (None: keep) and `size` × `size` (None: keep H × W); see
    /// [`Fit`] and [`fit_pixels`].
    pub fn fit(self, size: Option<i64>, channels: Option<i64>, fit: Fit) -> Result<Self> {
        let [c, h, w] = self.image_shape();
        let channels = channels.unwrap_or(c);
        if c == channels && size.is_none_or(|s| h == s && w == s) {
            return Ok(self);
        }
        let (out_h, out_w) = size.map_or((h, w), |s| (s, s));
        let n = self.len();
        let flat: Vec<u8> = Vec::try_from(self.images.flatten(0, -1))?;
        let per = (c * h * w) as usize;
        let mut out = Vec::with_capacity(n * (channels * out_h * out_w) as usize);
        for i in 0..n {
            let px = &flat[i * per..(i + 1) * per];
            match size {
                Some(s) => out.extend(fit_pixels(px, [c, h, w], s, channels, fit)?),
                None => out.extend(convert_channels(px, c, channels, (h * w) as usize)?),
            }
        }
        let images = Tensor::from_slice(&out).reshape([n as i64, channels, out_h, out_w]);
        Ok(Self { images, ..self })
    }
}

/// Converts one CHW u8 image to `channels` (1 → 3 replicates; 3 → 1 is ITU-R BT.601 luma,
/// `(299 R + 587 G + 114 B) / 1000` rounded, as PIL's `convert("L")`), then to `size`×`size`.
/// `px` is `[c, h, w]`; the result `[channels, size, size]`.
pub fn fit_pixels(px: &[u8], [c, h, w]: [i64; 3], size: i64, channels: i64, fit: Fit) -> Result<Vec<u8>> {
    let plane = (h * w) as usize;
    let px = convert_channels(px, c, channels, plane)?;
    let c = channels;
    if h == size && w == size {
        return Ok(px);
    }
    let fit = match fit {
        Fit::Auto if h <= size && w <= size && 4 * size <= 5 * h.max(w) => Fit::Pad,
        Fit::Auto => Fit::Resize,
        f => f,
    };
    match fit {
        Fit::Pad => {
            if h > size || w > size {
                return Err(DataError::Spec(format!(
                    "cannot pad {h}x{w} images to {size}x{size}: they are larger (use fit = \"resize\")"
                )));
            }
            let (top, left) = ((size - h) / 2, (size - w) / 2);
            let s = size as usize;
            let mut out = vec![0u8; (c * size * size) as usize];
            for ch in 0..c as usize {
                for y in 0..h as usize {
                    let src = ch * plane + y * w as usize;
                    let dst = ch * s * s + (y + top as usize) * s + left as usize;
                    out[dst..dst + w as usize].copy_from_slice(&px[src..src + w as usize]);
                }
            }
            Ok(out)
        }
        _ => {
            let m = h.min(w);
            let (top, left) = ((h - m) / 2, (w - m) / 2);
            let s = size as u32;
            let mut out = Vec::with_capacity((c * size * size) as usize);
            for ch in 0..c as usize {
                let crop: Vec<u8> = (0..m as usize)
                    .flat_map(|y| {
                        let start = ch * plane + (y + top as usize) * w as usize + left as usize;
                        px[start..start + m as usize].iter().copied()
                    })
                    .collect();
                let img = image::GrayImage::from_raw(m as u32, m as u32, crop).expect("crop has m*m pixels");
                let resized = image::imageops::resize(&img, s, s, image::imageops::FilterType::Triangle);
                out.extend_from_slice(resized.as_raw());
            }
            Ok(out)
        }
    }
}

/// The u8 CHW pixels of a decoded image with `channels` channels (1: luma, 3: RGB planes), or
/// with its own (`None`: 1 for grey images, 3 for colour ones); and that channel count.
pub fn planar(img: &image::DynamicImage, channels: Option<i64>) -> (Vec<u8>, i64) {
    let c = channels.unwrap_or(if img.color().has_color() { 3 } else { 1 });
    if c == 1 {
        return (img.to_luma8().into_raw(), 1);
    }
    let rgb = img.to_rgb8();
    let raw = rgb.as_raw();
    let plane = raw.len() / 3;
    ((0..3).flat_map(|ch| (0..plane).map(move |i| raw[3 * i + ch])).collect(), 3)
}

/// Converts the CHW u8 pixels of one image (`plane` = H·W) from `c` to `channels` channels.
pub(crate) fn convert_channels(px: &[u8], c: i64, channels: i64, plane: usize) -> Result<Vec<u8>> {
    Ok(match (c, channels) {
        (a, b) if a == b => px.to_vec(),
        (1, 3) => px.repeat(3),
        (3, 1) => (0..plane)
            .map(|i| {
                let (r, g, b) = (px[i] as u32, px[plane + i] as u32, px[2 * plane + i] as u32);
                ((299 * r + 587 * g + 114 * b + 500) / 1000) as u8
            })
            .collect(),
        (a, b) => {
            return Err(DataError::Spec(format!(
                "cannot convert {a}-channel images to {b} channels (1 and 3 are supported)"
            )))
        }
    })
}

/// Joins datasets of the same image shape (e.g. train and test); labels only if all have them.
pub fn concat(parts: Vec<ImageDataset>, name: impl Into<String>) -> Result<ImageDataset> {
    let name = name.into();
    let first = parts.first().ok_or_else(|| DataError::Empty(format!("{name}: nothing to join")))?;
    let shape = first.image_shape();
    if let Some(p) = parts.iter().find(|p| p.image_shape() != shape) {
        return Err(DataError::format(
            &name,
            format!("parts differ in image shape: {:?} vs {:?}", shape, p.image_shape()),
        ));
    }
    let classes = first.classes.clone();
    let images = Tensor::cat(&parts.iter().map(|p| p.images.shallow_clone()).collect::<Vec<_>>(), 0);
    let labels = if parts.iter().all(|p| p.labels.is_some()) {
        Some(Tensor::cat(
            &parts.iter().map(|p| p.labels.as_ref().unwrap().shallow_clone()).collect::<Vec<_>>(),
            0,
        ))
    } else {
        None
    };
    let skipped = parts.iter().flat_map(|p| p.skipped.iter().cloned()).collect();
    Ok(ImageDataset { name, images, labels, classes, skipped })
}

/// The largest label + 1 as class names "0", "1", … (for formats without class names).
pub(crate) fn numeric_classes(labels: &[i64]) -> Vec<String> {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    (0..k).map(|i| i.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_28_to_32_centred_with_black() {
        let px = vec![200u8; 28 * 28];
        let out = fit_pixels(&px, [1, 28, 28], 32, 1, Fit::Auto).unwrap();
        assert_eq!(out.len(), 32 * 32);
        assert_eq!(out[0], 0);
        assert_eq!(out[2 * 32 + 2], 200);
        assert_eq!(out[29 * 32 + 29], 200);
        assert_eq!(out[30 * 32 + 30], 0);
        assert_eq!(out.iter().filter(|&&p| p == 200).count(), 28 * 28);
    }

    #[test]
    fn resizes_by_centre_crop() {
        // 2 wide x 4 high: rows 0 and 3 are cropped away; a constant image stays constant.
        let px = vec![9u8, 9, 50, 50, 50, 50, 9, 9];
        let out = fit_pixels(&px, [1, 4, 2], 2, 1, Fit::Resize).unwrap();
        assert_eq!(out, vec![50, 50, 50, 50]);
        let big = vec![77u8; 3 * 92 * 112];
        let out = fit_pixels(&big, [3, 112, 92], 64, 3, Fit::Auto).unwrap();
        assert_eq!(out.len(), 3 * 64 * 64);
        assert!(out.iter().all(|&p| p == 77));
    }

    #[test]
    fn converts_channels() {
        // 2x2 RGB: pixel 0 red, pixel 1 green, the rest black -> BT.601 luma.
        let g = fit_pixels(&[255u8, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0], [3, 2, 2], 2, 1, Fit::Pad).unwrap();
        assert_eq!(g, vec![76, 150, 0, 0]);
        let back = fit_pixels(&[7u8, 8, 9, 10], [1, 2, 2], 2, 3, Fit::Auto).unwrap();
        assert_eq!(back, vec![7, 8, 9, 10, 7, 8, 9, 10, 7, 8, 9, 10]);
    }

    #[test]
    fn empty_datasets_are_refused() {
        let e = ImageDataset::from_pixels("x", vec![], [0, 1, 2, 2], None, vec![]).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }
}

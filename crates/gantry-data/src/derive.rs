//! gantry-made paired datasets, from real images available offline, in the pix2pix authors'
//! layout (`train/NNNNN.png`, `test/NNNNN.png`, each `A|B`):
//!
//! - `edges2fashion`: Canny edges of each Fashion-MNIST garment (black lines on white, as
//!   edges2shoes draws them) → the garment; 60k train, 10k test, 28×28 halves. Shoes and bags
//!   included: edges2shoes' and edges2handbags' small cousin.
//! - `colorize-cifar`: the grey (ITU-R BT.601 luma) CIFAR-10 image → the colour one; 50k train,
//!   10k test, 32×32 (from the `cifar10-jpg` mirror). The paper's colourisation task.
//!
//! - `digits2mnist` (unpaired): the UCI 8×8 optical digits, upscaled to 20×20 (bilinear) and
//!   padded to 28×28 as MNIST frames its digits (1,497 train, 300 test), ↔ MNIST (60k, 10k); each
//!   domain in class folders, so whether a translation keeps the digit is measurable. The
//!   MNIST↔USPS domain-adaptation task's small cousin.
//! - `horse2deer` (unpaired): CIFAR-10's horses ↔ its deer (5,000 + 1,000 each, 32×32);
//!   horse2zebra's small cousin.
//!
//! The files are deterministic (same pixels, same PNG bytes for the same `image` crate), so a
//! manifest records their tree hash; `cargo xtask datasets derive NAME` writes and verifies them.

use std::path::Path;

use image::{GrayImage, RgbImage};
use tch::Tensor;

use crate::dataset::{ImageDataset, Split};
use crate::source::LoadOptions;
use crate::{DataError, Result};

/// The gantry-made paired sets: (name, what it is made from, one line).
pub const DERIVED: &[(&str, &str, &str)] = &[
    ("edges2fashion", "fashion-mnist", "Canny edges → Fashion-MNIST garments, 28×28"),
    ("colorize-cifar", "cifar10-jpg", "grey → colour CIFAR-10, 32×32"),
    ("digits2mnist", "digits", "UCI 8×8 digits (upscaled) ↔ MNIST digits, 28×28, unpaired"),
    ("horse2deer", "cifar10-jpg", "CIFAR-10 horses ↔ deer, 32×32, unpaired"),
];

/// Canny's thresholds on the Sobel gradient magnitude of 0–255 pixels (after imageproc's
/// Gaussian blur, σ = 1.4) for 28×28 garments: the outline and the strong inner edges.
const CANNY_LOW: f32 = 40.0;
const CANNY_HIGH: f32 = 100.0;

/// Black-on-white Canny edges of a grey image.
pub fn edges(img: &GrayImage) -> GrayImage {
    let mut e = imageproc::edges::canny(img, CANNY_LOW, CANNY_HIGH);
    image::imageops::invert(&mut e);
    e
}

/// BT.601 luma of a colour image, `(299 R + 587 G + 114 B) / 1000` rounded (as gantry converts
/// colour to grey everywhere), repeated in three channels.
pub fn grey(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        let [r, g, b] = p.0.map(u32::from);
        let y = ((299 * r + 587 * g + 114 * b + 500) / 1000) as u8;
        p.0 = [y, y, y];
    }
    out
}

/// Two images of the same size side by side (`A|B`).
pub fn side_by_side<P: image::Pixel>(
    a: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    b: &image::ImageBuffer<P, Vec<P::Subpixel>>,
) -> image::ImageBuffer<P, Vec<P::Subpixel>> {
    let (w, h) = a.dimensions();
    let mut out = image::ImageBuffer::new(2 * w, h);
    image::imageops::replace(&mut out, a, 0, 0);
    image::imageops::replace(&mut out, b, w as i64, 0);
    out
}

/// Image `i` of a u8 dataset as a grey or RGB image.
fn image_at(ds: &ImageDataset, i: usize) -> Result<(Vec<u8>, [i64; 3])> {
    let [c, h, w] = ds.image_shape();
    let px: Vec<u8> = Vec::try_from(ds.images.get(i as i64).flatten(0, -1))?;
    Ok((px, [c, h, w]))
}

fn to_rgb(px: &[u8], [c, h, w]: [i64; 3]) -> RgbImage {
    let plane = (h * w) as usize;
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = (y as i64 * w + x as i64) as usize;
        if c == 3 {
            image::Rgb([px[i], px[plane + i], px[2 * plane + i]])
        } else {
            image::Rgb([px[i]; 3])
        }
    })
}

/// Writes `n` pairs made by `pair(i)` as `dir/NNNNN.png` (1-based, five digits).
fn write_pairs(dir: &Path, n: usize, pair: impl Fn(usize) -> Result<Vec<u8>>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    for i in 0..n {
        let path = dir.join(format!("{:05}.png", i + 1));
        let bytes = pair(i)?;
        std::fs::write(&path, bytes).map_err(|e| DataError::io(&path, e))?;
    }
    Ok(())
}

fn png<P: image::PixelWithColorType<Subpixel = u8>>(img: &image::ImageBuffer<P, Vec<u8>>) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| DataError::Spec(format!("cannot encode a PNG ({e})")))?;
    Ok(out.into_inner())
}

/// Writes every image of `ds` as `dir/[<class>/]NNNNN.png` (class folders when `by_class` and the
/// dataset is labelled), numbered in dataset order from 1.
pub fn write_images(ds: &ImageDataset, dir: &Path, by_class: bool) -> Result<()> {
    let labels: Option<Vec<i64>> = match (&ds.labels, by_class) {
        (Some(l), true) => Some(Vec::try_from(l)?),
        _ => None,
    };
    write_pairs(dir, ds.len(), |i| {
        let (px, shape) = image_at(ds, i)?;
        let [c, h, w] = shape;
        let bytes = match c {
            1 => png(&GrayImage::from_raw(w as u32, h as u32, px).expect("h·w pixels"))?,
            _ => png(&to_rgb(&px, shape))?,
        };
        Ok(bytes)
    })?;
    // Move each file into its class folder (numbers stay those of the dataset order).
    if let Some(labels) = labels {
        for (i, &l) in labels.iter().enumerate() {
            let class = ds.classes.get(l as usize).cloned().unwrap_or_else(|| l.to_string());
            let from = dir.join(format!("{:05}.png", i + 1));
            let to_dir = dir.join(class);
            std::fs::create_dir_all(&to_dir).map_err(|e| DataError::io(&to_dir, e))?;
            std::fs::rename(&from, to_dir.join(format!("{:05}.png", i + 1)))
                .map_err(|e| DataError::io(&from, e))?;
        }
    }
    Ok(())
}

/// The UCI 8×8 digits brought to MNIST's framing: bilinear to 20×20, centred on 28×28 black.
pub fn mnist_framed(uci: &ImageDataset) -> Result<ImageDataset> {
    let mid = ImageDataset {
        images: uci.images.shallow_clone(),
        labels: None,
        name: uci.name.clone(),
        classes: vec![],
        skipped: Vec::new(),
    }
    .fit(Some(20), Some(1), crate::Fit::Resize)?;
    let framed = mid.fit(Some(28), Some(1), crate::Fit::Pad)?;
    Ok(ImageDataset {
        images: framed.images,
        labels: uci.labels.as_ref().map(|l| l.shallow_clone()),
        classes: uci.classes.clone(),
        ..framed
    })
}

/// The images of `ds` whose class is named `class`.
fn of_class(ds: &ImageDataset, class: &str) -> Result<ImageDataset> {
    let Some(k) = ds.classes.iter().position(|c| c == class) else {
        return Err(DataError::Spec(format!("{} has no class '{class}' ({:?})", ds.name, ds.classes)));
    };
    let labels = ds.labels.as_ref().ok_or_else(|| DataError::Spec(format!("{} is unlabelled", ds.name)))?;
    let idx = labels.eq(k as i64).nonzero().squeeze_dim(1);
    Ok(ImageDataset {
        name: format!("{} ({class})", ds.name),
        images: ds.images.index_select(0, &idx),
        labels: None,
        classes: vec![],
        skipped: Vec::new(),
    })
}

/// The first `n` images (and labels) of `ds`, or those from `from` on.
fn part(ds: &ImageDataset, from: i64, n: i64) -> ImageDataset {
    ImageDataset {
        name: ds.name.clone(),
        images: ds.images.narrow(0, from, n),
        labels: ds.labels.as_ref().map(|l| l.narrow(0, from, n)),
        classes: ds.classes.clone(),
        skipped: Vec::new(),
    }
}

/// Writes the edges → image pairs of a grey dataset into `dir` (`edges2fashion`'s recipe).
pub fn write_edges(ds: &ImageDataset, dir: &Path) -> Result<()> {
    write_pairs(dir, ds.len(), |i| {
        let (px, [c, h, w]) = image_at(ds, i)?;
        if c != 1 {
            return Err(DataError::Spec(format!(
                "edges are drawn from grey images, {} has {c} channels",
                ds.name
            )));
        }
        let b = GrayImage::from_raw(w as u32, h as u32, px).expect("h·w pixels");
        png(&side_by_side(&edges(&b), &b))
    })
}

/// Writes the grey → colour pairs of a colour dataset into `dir` (`colorize-cifar`'s recipe).
pub fn write_grey(ds: &ImageDataset, dir: &Path) -> Result<()> {
    write_pairs(dir, ds.len(), |i| {
        let (px, shape) = image_at(ds, i)?;
        let b = to_rgb(&px, shape);
        png(&side_by_side(&grey(&b), &b))
    })
}

/// A small edges → digits paired set from the embedded MNIST digits, in the authors' layout:
/// `train/` from the first `train` digits, `test/` from the next `test` (for tests and the
/// figures' `--check` runs, which must not need a download).
pub fn edges_of_digits(root: &Path, train: i64, test: i64) -> Result<()> {
    let ds = crate::load(crate::source::EMBEDDED, &LoadOptions::default())?;
    for (split, from, n) in [("train", 0, train), ("test", train, test)] {
        let part = ImageDataset {
            images: ds.images.narrow(0, from, n),
            labels: None,
            name: format!("{} ({split})", ds.name),
            classes: vec![],
            skipped: Vec::new(),
        };
        write_edges(&part, &root.join(split))?;
    }
    Ok(())
}

/// A small unpaired set from the embedded MNIST digits, in the authors' layout with class folders:
/// domain A inverted digits (black on white), domain B digits as they are, from disjoint images
/// (`train` and `test` of each). For tests and the figures' `--check` runs.
pub fn inverted_digits(root: &Path, train: i64, test: i64) -> Result<()> {
    let ds = crate::load(crate::source::EMBEDDED, &LoadOptions::default())?;
    // The embedded digits are sorted by class: a seeded order mixes them.
    let order =
        Tensor::from_slice(&crate::Batcher::new(ds.len(), 1, crate::LastBatch::Keep, 0, false)?.order(0));
    let ds = ImageDataset {
        images: ds.images.index_select(0, &order),
        labels: ds.labels.as_ref().map(|l| l.index_select(0, &order)),
        ..ds
    };
    let mut from = 0;
    for (phase, n) in [("train", train), ("test", test)] {
        let a = part(&ds, from, n);
        let a = ImageDataset { images: a.images.bitwise_not(), ..a };
        write_images(&a, &root.join(format!("{phase}A")), true)?;
        write_images(&part(&ds, from + n, n), &root.join(format!("{phase}B")), true)?;
        from += 2 * n;
    }
    Ok(())
}

/// Derives the paired set `name` (see [`DERIVED`]) into `out` (`out/train/`, `out/test/`), from its
/// source dataset. `out` must not exist: the set is written into a temporary folder beside it and
/// renamed into place when complete.
pub fn derive(name: &str, out: &Path) -> Result<()> {
    let Some(&(_, source, _)) = DERIVED.iter().find(|d| d.0 == name) else {
        return Err(DataError::Spec(format!(
            "unknown derived dataset '{name}': expected one of {}",
            DERIVED.iter().map(|d| d.0).collect::<Vec<_>>().join(", ")
        )));
    };
    if out.exists() {
        return Err(DataError::Spec(format!("{} exists; remove it to derive {name} again", out.display())));
    }
    let parent = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let load = |source: &str, split| crate::load(source, &LoadOptions { split, ..Default::default() });
        match name {
            "digits2mnist" => {
                let uci = mnist_framed(&load("digits", Split::Train)?)?;
                let n = uci.len() as i64;
                write_images(&part(&uci, 0, n - 300), &tmp.join("trainA"), true)?;
                write_images(&part(&uci, n - 300, 300), &tmp.join("testA"), true)?;
                write_images(&load("mnist", Split::Train)?, &tmp.join("trainB"), true)?;
                write_images(&load("mnist", Split::Test)?, &tmp.join("testB"), true)?;
            }
            "horse2deer" => {
                for (split, phase) in [(Split::Train, "train"), (Split::Test, "test")] {
                    let ds = load(source, split)?;
                    write_images(&of_class(&ds, "horse")?, &tmp.join(format!("{phase}A")), false)?;
                    write_images(&of_class(&ds, "deer")?, &tmp.join(format!("{phase}B")), false)?;
                }
            }
            _ => {
                for split in [Split::Train, Split::Test] {
                    let ds = load(source, split)?;
                    let dir = tmp.join(split.name());
                    match name {
                        "edges2fashion" => write_edges(&ds, &dir)?,
                        _ => write_grey(&ds, &dir)?,
                    }
                }
            }
        }
        std::fs::rename(&tmp, out).map_err(|e| DataError::io(out, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_outline_a_filled_shape() {
        // A bright square on black: edges along its border, nothing in its middle or far outside.
        let img = GrayImage::from_fn(28, 28, |x, y| {
            image::Luma([if (8..20).contains(&x) && (8..20).contains(&y) { 220 } else { 0 }])
        });
        let e = edges(&img);
        assert_eq!(e.get_pixel(14, 14).0, [255], "inside: white");
        assert_eq!(e.get_pixel(2, 2).0, [255], "outside: white");
        let border = (6..22).filter(|&x| e.get_pixel(x, 8).0 == [0] || e.get_pixel(x, 7).0 == [0]).count();
        assert!(border >= 8, "the top edge is drawn ({border} pixels)");
    }

    #[test]
    fn grey_is_bt601_and_pairs_sit_side_by_side() {
        let c = RgbImage::from_pixel(2, 2, image::Rgb([200, 100, 50]));
        let g = grey(&c);
        assert_eq!(g.get_pixel(0, 0).0, [124, 124, 124]); // (59800 + 58700 + 5700 + 500) / 1000
        let p = side_by_side(&g, &c);
        assert_eq!(p.dimensions(), (4, 2));
        assert_eq!((p.get_pixel(1, 1).0, p.get_pixel(2, 1).0), ([124; 3], [200, 100, 50]));
    }

    #[test]
    fn unpaired_digits_load_back_with_their_labels() {
        let d = tempfile::tempdir().unwrap();
        inverted_digits(d.path(), 40, 10).unwrap();
        let o = crate::unpaired::UnpairedOptions {
            split: Split::Train,
            size: 28,
            channels: (1, 1),
            fit: crate::Fit::Auto,
        };
        let (a, b) = crate::unpaired::load(d.path(), &o).unwrap();
        assert_eq!((a.len(), b.len()), (40, 40));
        assert_eq!(
            a.classes,
            (0..10).map(|k| k.to_string()).collect::<Vec<_>>(),
            "every digit in 40 mixed ones"
        );
        // A is inverted: mostly white; B mostly black.
        assert!(a.images.to_kind(tch::Kind::Float).mean(tch::Kind::Float).double_value(&[]) > 200.0);
        assert!(b.images.to_kind(tch::Kind::Float).mean(tch::Kind::Float).double_value(&[]) < 60.0);
        let (ta, _) =
            crate::unpaired::load(d.path(), &crate::unpaired::UnpairedOptions { split: Split::Test, ..o })
                .unwrap();
        assert_eq!(ta.len(), 10);
    }

    #[test]
    fn uci_digits_are_framed_as_mnist() {
        let px: Vec<u8> = (0..2).flat_map(|_| vec![255u8; 64]).collect();
        let uci = ImageDataset::from_pixels("u", px, [2, 1, 8, 8], Some(vec![3, 5]), vec![]).unwrap();
        let m = mnist_framed(&uci).unwrap();
        assert_eq!(m.image_shape(), [1, 28, 28]);
        assert_eq!(m.images.int64_value(&[0, 0, 3, 14]), 0, "a 4-pixel black margin");
        assert_eq!(m.images.int64_value(&[0, 0, 14, 14]), 255);
        assert_eq!(Vec::<i64>::try_from(m.labels.unwrap()).unwrap(), vec![3, 5]);
    }

    #[test]
    fn derived_pairs_load_back_as_paired_data() {
        let d = tempfile::tempdir().unwrap();
        let ds = crate::load("mnist-5k", &LoadOptions::default()).unwrap();
        let few = ImageDataset { images: ds.images.narrow(0, 0, 6), labels: None, ..ds };
        write_edges(&few, &d.path().join("train")).unwrap();
        let opts = crate::paired::PairedOptions {
            split: Split::Train,
            size: 28,
            channels: (1, 1),
            fit: crate::Fit::Auto,
            a_to_b: true,
        };
        let (a, b) = crate::paired::load(d.path(), &opts).unwrap();
        assert_eq!(a.len(), 6);
        assert!(b.images.equal(&few.images), "targets are the images, bit for bit");
        assert!(a.images.max().int64_value(&[]) == 255 && a.images.min().int64_value(&[]) == 0);
        assert!(derive("edges2nothing", &d.path().join("x"))
            .unwrap_err()
            .to_string()
            .contains("edges2fashion"));
    }
}

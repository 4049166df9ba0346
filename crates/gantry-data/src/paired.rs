//! Paired images in the pix2pix authors' layout (`datasets/combine_A_and_B.py`): each file holds
//! the input A and the target B side by side (`A|B`, width 2·W), in split folders `train/`,
//! `val/`, `test/`. Facades, edges2shoes, maps and gantry's own paired sets
//! (`cargo xtask datasets derive edges2fashion`) all load this way.

use std::path::Path;

use crate::dataset::{Fit, ImageDataset, Split};
use crate::folder::{self, Target};
use crate::{DataError, Result};

/// How the halves are brought to the model.
#[derive(Debug, Clone, Copy)]
pub struct PairedOptions {
    /// Which split folders to read (see [`load`]).
    pub split: Split,
    /// Each half is brought to `size`×`size` ...
    pub size: i64,
    /// ... with these channels (A, then B) ...
    pub channels: (i64, i64),
    /// ... by this fit.
    pub fit: Fit,
    /// false: the left half is the target (the authors' `--direction BtoA`).
    pub a_to_b: bool,
}

/// (inputs, targets): the two halves of every image of the `split` folder of `root`, aligned.
/// `Split::Test` reads `test/`, or `val/` when there is no `test/`; `Split::All` reads every
/// split folder present.
pub fn load(root: &Path, opts: &PairedOptions) -> Result<(ImageDataset, ImageDataset)> {
    if !root.is_dir() {
        return Err(DataError::Spec(format!(
            "{}: expected a folder of A|B images in train/ (and val/ or test/) folders, as the pix2pix datasets",
            root.display()
        )));
    }
    let folders: Vec<&str> = match opts.split {
        Split::Train => vec!["train"],
        Split::Test if root.join("test").is_dir() => vec!["test"],
        Split::Test => vec!["val"],
        Split::All => ["train", "val", "test"].into_iter().filter(|f| root.join(f).is_dir()).collect(),
    };
    let mut parts = Vec::new();
    for f in &folders {
        let dir = root.join(f);
        if !dir.is_dir() {
            return Err(DataError::Spec(format!(
                "{}: no {f}/ folder (a paired dataset has train/ and val/ or test/ folders of A|B images)",
                root.display()
            )));
        }
        parts.push(load_dir(&dir, opts)?);
    }
    let (a, b): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    let name = format!("{} ({})", root.display(), folders.join("+"));
    let (a, b) = if a.len() == 1 {
        (a.into_iter().next().expect("one"), b.into_iter().next().expect("one"))
    } else {
        (crate::dataset::concat(a, format!("{name} A"))?, crate::dataset::concat(b, format!("{name} B"))?)
    };
    Ok((
        ImageDataset { name: format!("{name} inputs"), ..a },
        ImageDataset { name: format!("{name} targets"), ..b },
    ))
}

/// (inputs, targets) of one folder of A|B images (no split folders), or of one A|B image file.
pub fn load_dir(path: &Path, opts: &PairedOptions) -> Result<(ImageDataset, ImageDataset)> {
    // Whole A|B images at their own size and channels (grey files stay grey); each half is then
    // fitted, colour → grey by BT.601 as everywhere in gantry.
    let whole = if path.is_dir() {
        folder::load(path, Split::Train, Target { size: None, channels: None, fit: opts.fit })?
    } else {
        let img = crate::decode::open(path)?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (px, c) = crate::dataset::planar(&img, None);
        ImageDataset::from_pixels(path.display().to_string(), px, [1, c as usize, h, w], None, vec![])?
    };
    split_halves(whole, opts, path)
}

/// Cuts every `[C, H, 2W]` image of `whole` (read from `dir`) into its halves, (inputs,
/// targets), and fits each to the model: what [`load_dir`] does after reading, for a caller that
/// reads a folder a batch at a time ([`crate::folder::Listing::batches`]).
pub fn split_halves(
    whole: ImageDataset,
    opts: &PairedOptions,
    dir: &Path,
) -> Result<(ImageDataset, ImageDataset)> {
    let [_, h, w2] = whole.image_shape();
    if w2 % 2 != 0 || w2 < 2 {
        return Err(DataError::format(
            dir.display(),
            format!("paired images must be two halves side by side (even width), found {w2}x{h}"),
        ));
    }
    let w = w2 / 2;
    let (left, right) =
        (whole.images.narrow(3, 0, w).contiguous(), whole.images.narrow(3, w, w).contiguous());
    let (a, b) = if opts.a_to_b { (left, right) } else { (right, left) };
    let half = |images: tch::Tensor, channels: i64, side: &str| -> Result<ImageDataset> {
        ImageDataset {
            name: format!("{} {side}", dir.display()),
            images,
            labels: None,
            classes: vec![],
            skipped: Vec::new(),
        }
        .fit(Some(opts.size), Some(channels), opts.fit)
    };
    Ok((half(a, opts.channels.0, "A")?, half(b, opts.channels.1, "B")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, rel: &str, a: u8, b: u8) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let img =
            image::RgbImage::from_fn(
                8,
                4,
                |x, _| if x < 4 { image::Rgb([a, a, a]) } else { image::Rgb([b, 0, 0]) },
            );
        img.save(&p).unwrap();
    }

    #[test]
    fn halves_splits_and_direction() {
        let d = tempfile::tempdir().unwrap();
        pair(d.path(), "train/1.png", 10, 200);
        pair(d.path(), "train/2.png", 20, 100);
        pair(d.path(), "val/1.png", 30, 50);
        let o =
            PairedOptions { split: Split::Train, size: 4, channels: (1, 3), fit: Fit::Auto, a_to_b: true };
        let (a, b) = load(d.path(), &o).unwrap();
        assert_eq!((a.len(), a.image_shape(), b.image_shape()), (2, [1, 4, 4], [3, 4, 4]));
        assert_eq!(a.images.int64_value(&[1, 0, 2, 2]), 20);
        assert_eq!((b.images.int64_value(&[0, 0, 0, 0]), b.images.int64_value(&[0, 1, 0, 0])), (200, 0));
        // No test/: the test split reads val/.
        let (ta, _) = load(d.path(), &PairedOptions { split: Split::Test, ..o }).unwrap();
        assert_eq!((ta.len(), ta.images.int64_value(&[0, 0, 0, 0])), (1, 30));
        assert_eq!(load(d.path(), &PairedOptions { split: Split::All, ..o }).unwrap().0.len(), 3);
        // BtoA swaps the halves (A is now the red one, made grey by BT.601: 0.299·200).
        let (sa, sb) = load(d.path(), &PairedOptions { a_to_b: false, channels: (1, 1), ..o }).unwrap();
        assert_eq!((sa.images.int64_value(&[0, 0, 0, 0]), sb.images.int64_value(&[0, 0, 0, 0])), (60, 10));
        // Upscaled halves.
        assert_eq!(load(d.path(), &PairedOptions { size: 8, ..o }).unwrap().1.image_shape(), [3, 8, 8]);
        // One A|B file alone.
        let (fa, fb) = load_dir(&d.path().join("train/2.png"), &o).unwrap();
        assert_eq!(
            (fa.len(), fa.images.int64_value(&[0, 0, 1, 1]), fb.images.int64_value(&[0, 0, 1, 1])),
            (1, 20, 100)
        );
    }

    #[test]
    fn odd_widths_and_missing_folders_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let o =
            PairedOptions { split: Split::Train, size: 4, channels: (3, 3), fit: Fit::Auto, a_to_b: true };
        let e = load(d.path(), &o).unwrap_err().to_string();
        assert!(e.contains("train/"), "{e}");
        let p = d.path().join("train/x.png");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::GrayImage::new(7, 4).save(&p).unwrap();
        let e = load(d.path(), &o).unwrap_err().to_string();
        assert!(e.contains("even width") && e.contains("7x4"), "{e}");
        assert!(load(&d.path().join("nope"), &o).unwrap_err().to_string().contains("A|B"));
    }
}

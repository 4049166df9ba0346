//! Two unpaired image domains in the CycleGAN authors' layout (`datasets/horse2zebra`): folders
//! `trainA/`, `trainB/`, `testA/`, `testB/` of images with no correspondence between A and B.
//! Class subfolders inside a domain (`trainA/3/…`, as gantry's `digits2mnist` has) are labels,
//! so whether a translation keeps the class can be measured; the authors' loader, which walks
//! the folders recursively, reads the same files.

use std::path::Path;

use crate::dataset::{concat, Fit, ImageDataset, Split};
use crate::folder::{self, Target};
use crate::{DataError, Result};

/// How each domain is brought to the model.
#[derive(Debug, Clone, Copy)]
pub struct UnpairedOptions {
    /// Which folders to read: `trainA/` and `trainB/`, `testA/` and `testB/`, or both pairs.
    pub split: Split,
    /// Both domains are brought to `size`×`size` ...
    pub size: i64,
    /// ... with these channels (A, then B) ...
    pub channels: (i64, i64),
    /// ... by this fit.
    pub fit: Fit,
}

/// The domains (A, B) of the `split` folders of `root` (`Split::All`: train and test together).
pub fn load(root: &Path, opts: &UnpairedOptions) -> Result<(ImageDataset, ImageDataset)> {
    if !root.is_dir() {
        return Err(DataError::Spec(format!(
            "{}: expected a folder with trainA/ and trainB/ (and testA/, testB/), as the CycleGAN datasets",
            root.display()
        )));
    }
    let phases: &[&str] = match opts.split {
        Split::Train => &["train"],
        Split::Test => &["test"],
        Split::All => &["train", "test"],
    };
    let domain = |side: &str, channels: i64| -> Result<ImageDataset> {
        let mut parts = Vec::new();
        for phase in phases {
            let dir = root.join(format!("{phase}{side}"));
            if !dir.is_dir() {
                return Err(DataError::Spec(format!(
                    "{}: no {phase}{side}/ folder (an unpaired dataset has trainA/, trainB/, testA/, testB/)",
                    root.display()
                )));
            }
            let target = Target { size: Some(opts.size), channels: Some(channels), fit: opts.fit };
            parts.push(folder::load(&dir, Split::Train, target)?);
        }
        let name = format!("{} ({} {side})", root.display(), phases.join("+"));
        match parts.len() {
            1 => Ok(ImageDataset { name, ..parts.remove(0) }),
            _ => concat(parts, name),
        }
    };
    Ok((domain("A", opts.channels.0)?, domain("B", opts.channels.1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(dir: &Path, rel: &str, v: u8) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(4, 4, image::Luma([v])).save(&p).unwrap();
    }

    #[test]
    fn domains_splits_and_labels() {
        let d = tempfile::tempdir().unwrap();
        png(d.path(), "trainA/3/1.png", 30);
        png(d.path(), "trainA/7/1.png", 70);
        png(d.path(), "trainB/1.png", 1);
        png(d.path(), "trainB/2.png", 2);
        png(d.path(), "trainB/3.png", 3);
        png(d.path(), "testA/3/1.png", 31);
        png(d.path(), "testB/1.png", 4);
        let o = UnpairedOptions { split: Split::Train, size: 8, channels: (1, 3), fit: Fit::Auto };
        let (a, b) = load(d.path(), &o).unwrap();
        assert_eq!((a.len(), b.len(), a.image_shape(), b.image_shape()), (2, 3, [1, 8, 8], [3, 8, 8]));
        assert_eq!(a.classes, vec!["3", "7"]);
        assert!(b.labels.is_none());
        let (ta, tb) = load(d.path(), &UnpairedOptions { split: Split::Test, ..o }).unwrap();
        assert_eq!((ta.len(), tb.len(), ta.images.int64_value(&[0, 0, 4, 4])), (1, 1, 31));
        assert_eq!(load(d.path(), &UnpairedOptions { split: Split::All, ..o }).unwrap().1.len(), 4);
        std::fs::remove_dir_all(d.path().join("testB")).unwrap();
        let e = load(d.path(), &UnpairedOptions { split: Split::Test, ..o }).unwrap_err().to_string();
        assert!(e.contains("testB/"), "{e}");
    }
}

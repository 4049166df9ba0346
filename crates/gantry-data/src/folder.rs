//! Image folders and `.tar.gz` archives of PNG, JPEG, WebP, BMP, TIFF and PGM/PPM files.
//!
//! Labels come from class folders: `<class>/<file>`, optionally under split folders
//! (`train/<class>/<file>`, `test/<class>/<file>`). An image file that does not decode (truncated,
//! corrupt, over the pixel limit) is left out, as is any other file (README, LICENSE, …); each is
//! listed with why in [`ImageDataset::skipped`], and a folder where no image decodes is one error
//! line. Classes and files are ordered naturally (`s2` before `s10`), so a folder always loads in
//! the same order.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::dataset::{fit_pixels, skipped_summary, Fit, ImageDataset, SkipReason, Skipped, Split};
use crate::{DataError, Result};

/// Extensions decoded as images.
pub const IMAGE_EXTENSIONS: &[&str] =
    &["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "pgm", "ppm", "pbm", "pnm"];

/// The size and channels images are brought to. `None` keeps what the files have (then every
/// image must have the same size).
#[derive(Debug, Clone, Copy, Default)]
pub struct Target {
    /// Side S of the square S×S output in pixels (`None`: keep each image's H × W).
    pub size: Option<i64>,
    /// 1 (grey) or 3 (RGB) (`None`: 1 when every image is grey, else 3).
    pub channels: Option<i64>,
    /// How images of another size are brought to S×S (ignored when `size` is `None`).
    pub fit: Fit,
}

pub(crate) enum Bytes {
    File(PathBuf),
    Mem(Vec<u8>),
}

/// A file of a folder or archive.
pub(crate) struct Member {
    /// Path relative to the folder or archive root, `/`-separated.
    pub(crate) rel: String,
    /// How errors name it.
    pub(crate) shown: String,
    pub(crate) bytes: Bytes,
}

impl Member {
    /// Its bytes (read now for a file of a folder).
    pub(crate) fn read(&self) -> Result<std::borrow::Cow<'_, [u8]>> {
        Ok(match &self.bytes {
            Bytes::Mem(b) => std::borrow::Cow::Borrowed(b.as_slice()),
            Bytes::File(p) => std::borrow::Cow::Owned(std::fs::read(p).map_err(|e| DataError::io(p, e))?),
        })
    }

    /// Its extension, lower-cased ("" when it has none).
    pub(crate) fn ext(&self) -> String {
        let name = self.rel.rsplit('/').next().unwrap_or_default();
        name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
    }
}

/// Files at the root of a folder or archive that describe the dataset rather than hold it:
/// StyleGAN2-ADA's `dataset.json` (labels) and the manifest `gantry dataset prepare` writes.
pub const METADATA_FILES: &[&str] = &["dataset.json", crate::prepare::MANIFEST];

/// The files of a folder, or the members of a `.tar`/`.tar.gz` archive.
pub(crate) fn members(path: &Path) -> Result<Vec<Member>> {
    if path.is_dir() {
        list_folder(path)
    } else if is_archive(path) {
        list_archive(path)
    } else if !path.exists() {
        Err(DataError::Spec(format!("{}: no such folder or archive", path.display())))
    } else {
        Err(DataError::Spec(format!("{}: expected a folder or a .tar.gz archive of images", path.display())))
    }
}

/// A sort key that orders digit runs by value: `s2` < `s10`.
pub fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            if !digits.is_empty() {
                out.push((std::mem::take(&mut text), digits.parse().unwrap_or(u64::MAX)));
                digits.clear();
            }
            text.push(ch);
        }
    }
    out.push((text, digits.parse().unwrap_or(0)));
    out
}

fn list_folder(root: &Path) -> Result<Vec<Member>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| DataError::io(&dir, e))? {
            let p = e.map_err(|e| DataError::io(&dir, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                let rel = p.strip_prefix(root).expect("below root").to_string_lossy().replace('\\', "/");
                out.push(Member { rel, shown: p.display().to_string(), bytes: Bytes::File(p) });
            }
        }
    }
    Ok(out)
}

fn list_archive(path: &Path) -> Result<Vec<Member>> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader: Box<dyn Read> = if path.to_string_lossy().ends_with(".tar") {
        Box::new(std::io::BufReader::new(file))
    } else {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    };
    let mut archive = tar::Archive::new(reader);
    let bad =
        |e: std::io::Error| DataError::format(path.display(), format!("corrupt or truncated archive ({e})"));
    let mut out = Vec::new();
    let limit = crate::error::expand_limit(); // asked once, not per member
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let rel = entry.path().map_err(bad)?.to_string_lossy().trim_start_matches("./").to_string();
        let shown = format!("{}!{rel}", path.display());
        if entry.size() > limit {
            return Err(crate::error::too_large(&shown, "the member its tar header claims", limit));
        }
        let buf = crate::error::read_bounded(&mut entry, limit, &shown, "archive member")?;
        out.push(Member { shown: format!("{}!{rel}", path.display()), rel, bytes: Bytes::Mem(buf) });
    }
    Ok(out)
}

/// Whether `path` names a `.tar`, `.tar.gz` or `.tgz` archive.
pub(crate) fn is_archive(path: &Path) -> bool {
    let s = path.to_string_lossy();
    s.ends_with(".tar.gz") || s.ends_with(".tgz") || s.ends_with(".tar")
}

/// Loads an image folder or archive (see the module docs).
pub fn load(path: &Path, split: Split, target: Target) -> Result<ImageDataset> {
    let mut listing = list(path, split)?;
    let members = std::mem::take(&mut listing.images);
    let (kept, decoded) = decode_all(members, &mut listing.skipped)?;
    if kept.is_empty() {
        return Err(DataError::Empty(format!(
            "{}: no image decodes ({})",
            path.display(),
            skipped_summary(&listing.skipped).unwrap_or_default()
        )));
    }
    let mut ds = assemble(listing.name(), &kept, &decoded, target, true)?;
    ds.skipped = listing.skipped;
    Ok(ds)
}

/// The image files of a folder or archive, in the order [`load`] reads them, not yet decoded:
/// for reading a folder of any size a batch at a time ([`Listing::batches`]).
pub struct Listing {
    path: PathBuf,
    split: Split,
    has_splits: bool,
    images: Vec<Member>,
    /// Files left out: those that are not images, and (once read) images that did not decode.
    pub skipped: Vec<Skipped>,
}

/// Lists the images of `path`'s `split` as [`load`] would read them (split folders, natural
/// order, files that are not images left out and listed); an empty one is the same error.
pub fn list(path: &Path, split: Split) -> Result<Listing> {
    let mut members = members(path)?;
    members.retain(|m| !METADATA_FILES.contains(&m.rel.as_str()));
    let is_image = |m: &Member| IMAGE_EXTENSIONS.contains(&m.ext().as_str());

    // Split folders: train/ and test/ at the top.
    let has_splits = members
        .iter()
        .any(|m| is_image(m) && m.rel.contains('/') && ["train", "test"].contains(&top(&m.rel).as_str()));
    if has_splits {
        let keep: &[&str] = match split {
            Split::Train => &["train"],
            Split::Test => &["test"],
            Split::All => &["train", "test"],
        };
        let total = members.len();
        members.retain(|m| keep.contains(&top(&m.rel).as_str()) || !is_image(m));
        if !members.iter().any(is_image) {
            return Err(DataError::Empty(format!(
                "{}: no images under {}/ ({total} files in all)",
                path.display(),
                keep.join("/, ")
            )));
        }
        for m in &mut members {
            if is_image(m) && m.rel.contains('/') {
                m.rel = m.rel.split_once('/').map(|(_, r)| r.to_string()).unwrap_or_default();
            }
        }
    } else if split == Split::Test {
        return Err(DataError::Spec(format!(
            "{}: has no test/ split folder (use split = \"train\" or \"all\")",
            path.display()
        )));
    }

    let (mut images, others): (Vec<Member>, Vec<Member>) = members.into_iter().partition(is_image);
    images.sort_by_cached_key(|m| natural_key(&m.rel));
    let skipped: Vec<Skipped> =
        others.iter().map(|m| Skipped { file: m.shown.clone(), why: SkipReason::NotAnImage }).collect();
    if images.is_empty() {
        return Err(DataError::Empty(format!(
            "{}: the dataset is empty: no image files ({}) among {} files",
            path.display(),
            IMAGE_EXTENSIONS.join(", "),
            skipped.len()
        )));
    }
    Ok(Listing { path: path.to_path_buf(), split, has_splits, images, skipped })
}

impl Listing {
    /// The number of image files listed (some may not decode).
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether no image file is listed (never, for a listing [`list`] returned).
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    fn name(&self) -> String {
        format!("{} ({})", self.path.display(), if self.has_splits { self.split.name() } else { "all files" })
    }

    /// The images in order, `batch` at a time, each batch a dataset without labels brought to
    /// `target` as [`load`] brings the whole: every batch holds `batch` images but the last, the
    /// files that do not decode being left out (and added to [`Batches::skipped`]), so the batches
    /// are the rows of what [`load`] gives. Memory holds one batch of decoded images (and, for an
    /// archive, its members' bytes). With `target.size` None the images of one batch must share
    /// a size, and with `target.channels` None each batch is grey when its images all are.
    pub fn batches(self, batch: usize, target: Target) -> Batches {
        let name = self.name();
        let Listing { path, images, skipped, .. } = self;
        Batches {
            path,
            name,
            pending: images.into_iter(),
            batch: batch.max(1),
            target,
            skipped,
            decoded: 0,
            said_empty: false,
        }
    }
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listing")
            .field("name", &self.name())
            .field("images", &self.images.len())
            .field("skipped", &self.skipped.len())
            .finish()
    }
}

/// The batches of a [`Listing`] (see [`Listing::batches`]).
pub struct Batches {
    path: PathBuf,
    name: String,
    pending: std::vec::IntoIter<Member>,
    batch: usize,
    target: Target,
    skipped: Vec<Skipped>,
    decoded: usize,
    /// Whether "no image decodes" was returned (once).
    said_empty: bool,
}

impl Batches {
    /// The files left out so far: not images, and images read so far that did not decode.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("name", &self.name)
            .field("pending", &self.pending.len())
            .field("batch", &self.batch)
            .field("decoded", &self.decoded)
            .finish()
    }
}

impl Iterator for Batches {
    type Item = Result<ImageDataset>;

    fn next(&mut self) -> Option<Self::Item> {
        let (mut kept, mut decoded) = (Vec::new(), Vec::new());
        while kept.len() < self.batch {
            let Some(m) = self.pending.next() else { break };
            if let Err(e) = decode_into(m, &mut kept, &mut decoded, &mut self.skipped) {
                return Some(Err(e));
            }
        }
        if kept.is_empty() {
            if self.decoded == 0 && !self.said_empty {
                self.said_empty = true;
                return Some(Err(DataError::Empty(format!(
                    "{}: no image decodes ({})",
                    self.path.display(),
                    skipped_summary(&self.skipped).unwrap_or_default()
                ))));
            }
            return None;
        }
        self.decoded += kept.len();
        Some(assemble(self.name.clone(), &kept, &decoded, self.target, false))
    }
}

fn top(rel: &str) -> String {
    rel.split('/').next().unwrap_or_default().to_string()
}

/// Decodes `m` into `kept`/`decoded`, or lists it in `skipped` when it does not decode.
fn decode_into(
    m: Member,
    kept: &mut Vec<Member>,
    decoded: &mut Vec<image::DynamicImage>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    let bytes = m.read()?;
    let format = image::ImageFormat::from_extension(m.ext())
        .ok_or_else(|| DataError::Decode { path: m.shown.clone(), message: "unknown image format".into() });
    match format.and_then(|f| crate::decode::decode(&bytes, f, &m.shown)) {
        Ok(img) => {
            drop(bytes);
            decoded.push(img);
            kept.push(m);
        }
        Err(DataError::Decode { message, .. }) => {
            skipped.push(Skipped { file: m.shown.clone(), why: SkipReason::Undecodable(message) })
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Every image decoded; one that does not is listed in `skipped` and left out.
fn decode_all(
    images: Vec<Member>,
    skipped: &mut Vec<Skipped>,
) -> Result<(Vec<Member>, Vec<image::DynamicImage>)> {
    let (mut kept, mut decoded) = (Vec::with_capacity(images.len()), Vec::with_capacity(images.len()));
    for m in images {
        decode_into(m, &mut kept, &mut decoded, skipped)?;
    }
    Ok((kept, decoded))
}

/// Decoded images (at least one) as a dataset brought to `target`; with `labelled`, classes
/// from their first folders when every image has one.
fn assemble(
    name: String,
    images: &[Member],
    decoded: &[image::DynamicImage],
    target: Target,
    labelled: bool,
) -> Result<ImageDataset> {
    // Class = first folder of the (split-relative) path, when every image has one.
    let labelled = labelled && images.iter().all(|m| m.rel.contains('/'));
    let mut classes: Vec<String> = Vec::new();
    if labelled {
        classes = images.iter().map(|m| top(&m.rel)).collect();
        classes.sort_by_cached_key(|c| natural_key(c));
        classes.dedup();
    }
    let channels = target.channels.unwrap_or_else(|| {
        let grey = decoded.iter().all(|i| {
            matches!(
                i.color(),
                image::ColorType::L8 | image::ColorType::La8 | image::ColorType::L16 | image::ColorType::La16
            )
        });
        if grey {
            1
        } else {
            3
        }
    });
    let (h0, w0) = (decoded[0].height() as i64, decoded[0].width() as i64);
    if target.size.is_none() {
        if let Some((m, i)) =
            images.iter().zip(decoded).find(|(_, i)| (i.height() as i64, i.width() as i64) != (h0, w0))
        {
            return Err(DataError::format(
                &m.shown,
                format!(
                    "image is {}x{}, but {} is {w0}x{h0}; images of mixed sizes need a target size",
                    i.width(),
                    i.height(),
                    images[0].shown
                ),
            ));
        }
    }
    let (out_h, out_w) = match target.size {
        Some(s) => (s, s),
        None => (h0, w0),
    };
    let mut pixels = Vec::with_capacity(decoded.len() * (channels * out_h * out_w) as usize);
    for img in decoded {
        let (h, w) = (img.height() as i64, img.width() as i64);
        let (chw, _) = crate::dataset::planar(img, Some(channels));
        match target.size {
            Some(s) => pixels.extend(fit_pixels(&chw, [channels, h, w], s, channels, target.fit)?),
            None => pixels.extend(chw),
        }
    }
    let labels = labelled.then(|| {
        images
            .iter()
            .map(|m| classes.iter().position(|c| *c == top(&m.rel)).expect("class listed") as i64)
            .collect()
    });
    ImageDataset::from_pixels(
        name,
        pixels,
        [decoded.len(), channels as usize, out_h as usize, out_w as usize],
        labels,
        classes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    fn png(dir: &Path, rel: &str, v: u8, size: u32) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(size, size, image::Luma([v])).save(&p).unwrap();
    }

    #[test]
    fn class_folders_natural_order_and_skipped_files() {
        let d = tempfile::tempdir().unwrap();
        png(d.path(), "s10/1.png", 10, 4);
        png(d.path(), "s2/1.png", 2, 4);
        png(d.path(), "s2/10.png", 3, 4);
        png(d.path(), "s2/9.png", 4, 4);
        std::fs::write(d.path().join("README"), "hi").unwrap();
        let ds = load(d.path(), Split::Train, Target::default()).unwrap();
        assert_eq!(ds.classes, vec!["s2", "s10"]);
        let readme = d.path().join("README").display().to_string();
        assert_eq!(ds.skipped, vec![Skipped { file: readme, why: SkipReason::NotAnImage }]);
        assert_eq!(ds.image_shape(), [1, 4, 4]);
        let firsts: Vec<i64> = (0..4).map(|i| ds.images.int64_value(&[i, 0, 0, 0])).collect();
        assert_eq!(firsts, vec![2, 4, 3, 10], "s2/1 < s2/9 < s2/10 < s10/1");
        let labels: Vec<i64> = Vec::try_from(ds.labels.unwrap()).unwrap();
        assert_eq!(labels, vec![0, 0, 0, 1]);
        assert!(load(d.path(), Split::Test, Target::default()).unwrap_err().to_string().contains("no test/"));
    }

    #[test]
    fn splits_targets_and_bad_images() {
        let d = tempfile::tempdir().unwrap();
        png(d.path(), "train/cat/a.png", 1, 4);
        png(d.path(), "train/dog/b.png", 2, 6);
        png(d.path(), "test/dog/c.png", 3, 4);
        let t = Target { size: Some(8), channels: Some(3), fit: Fit::Resize };
        let train = load(d.path(), Split::Train, t).unwrap();
        assert_eq!((train.len(), train.image_shape()), (2, [3, 8, 8]));
        assert_eq!(train.classes, vec!["cat", "dog"]);
        let test = load(d.path(), Split::Test, t).unwrap();
        assert_eq!(test.len(), 1);
        assert_eq!(load(d.path(), Split::All, t).unwrap().len(), 3);
        let e = load(d.path(), Split::Train, Target::default()).unwrap_err().to_string();
        assert!(e.contains("mixed sizes"), "{e}");
        // A file that does not decode is left out and listed, with the decoder's words.
        std::fs::write(d.path().join("train/cat/broken.png"), b"not a png").unwrap();
        let train = load(d.path(), Split::Train, t).unwrap();
        assert_eq!(train.len(), 2);
        assert_eq!(train.skipped.len(), 1);
        assert!(train.skipped[0].file.ends_with("broken.png"), "{:?}", train.skipped);
        let line = skipped_summary(&train.skipped).unwrap();
        assert!(
            line.starts_with("skipped 1 files: 1 undecodable (") && line.contains("broken.png: "),
            "{line}"
        );
        // Nothing decodes: one line, no dataset.
        std::fs::remove_file(d.path().join("train/cat/a.png")).unwrap();
        std::fs::remove_file(d.path().join("train/dog/b.png")).unwrap();
        let e = load(d.path(), Split::Train, t).unwrap_err().to_string();
        assert!(e.contains("no image decodes") && e.contains("broken.png"), "{e}");
    }

    #[test]
    fn png_jpeg_webp_bmp_tiff_16_bit_and_rgba_files_all_load() {
        let d = tempfile::tempdir().unwrap();
        let rgb = image::RgbImage::from_fn(6, 6, |x, y| image::Rgb([(x * 40) as u8, (y * 40) as u8, 90]));
        std::fs::create_dir_all(d.path().join("a")).unwrap();
        for ext in ["png", "jpg", "webp", "bmp", "tif"] {
            image::DynamicImage::ImageRgb8(rgb.clone())
                .save(d.path().join(format!("a/{ext}.{ext}")))
                .unwrap();
        }
        let deep = image::ImageBuffer::<image::Luma<u16>, _>::from_pixel(6, 6, image::Luma([40_000u16]));
        std::fs::create_dir_all(d.path().join("b")).unwrap();
        deep.save(d.path().join("b/deep.png")).unwrap();
        let rgba = image::RgbaImage::from_pixel(6, 6, image::Rgba([10, 20, 30, 128]));
        rgba.save(d.path().join("b/alpha.png")).unwrap();
        let ds = load(d.path(), Split::Train, Target::default()).unwrap();
        assert_eq!((ds.len(), ds.image_shape()), (7, [3, 6, 6]), "skipped: {:?}", ds.skipped);
        assert!(ds.skipped.is_empty());
        assert_eq!(ds.classes, vec!["a", "b"]);
        // In name order a/ holds bmp, jpg, png, tif, webp: the lossless ones give the same pixels;
        // 16-bit grey (b/deep.png, after b/alpha.png) keeps its top byte.
        let px = |i: i64, c: i64, y: i64, x: i64| ds.images.int64_value(&[i, c, y, x]);
        for i in [0, 2, 3, 4] {
            assert_eq!((px(i, 0, 2, 3), px(i, 1, 2, 3), px(i, 2, 2, 3)), (120, 80, 90), "image {i}");
        }
        assert_eq!(px(6, 0, 0, 0), (40_000 >> 8) as i64);
    }

    #[test]
    fn batches_are_the_rows_of_load_a_batch_at_a_time() {
        let d = tempfile::tempdir().unwrap();
        for i in 1..=11u8 {
            png(d.path(), &format!("x/{i}.png"), i * 10, 4 + (i as u32 % 3));
        }
        // Left out as load leaves them out, without shifting the batches.
        std::fs::write(d.path().join("x/5b.png"), b"truncated").unwrap();
        std::fs::write(d.path().join("notes.txt"), b"hi").unwrap();
        let t = Target { size: Some(4), channels: Some(3), fit: Fit::Resize };
        let whole = load(d.path(), Split::Train, t).unwrap();
        let listing = list(d.path(), Split::Train).unwrap();
        assert_eq!(listing.len(), 12);
        let mut batches = listing.batches(4, t);
        let parts: Vec<ImageDataset> = batches.by_ref().map(|b| b.unwrap()).collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![4, 4, 3]);
        assert!(parts.iter().all(|p| p.labels.is_none()));
        let rows = Tensor::cat(&parts.iter().map(|p| p.images.shallow_clone()).collect::<Vec<_>>(), 0);
        assert!(rows.equal(&whole.images));
        assert_eq!(batches.skipped(), whole.skipped.as_slice());
        assert_eq!(batches.skipped().len(), 2);
        // Nothing decodes: the same one line as load's, once.
        let e = tempfile::tempdir().unwrap();
        std::fs::write(e.path().join("a.png"), b"no").unwrap();
        let mut b = list(e.path(), Split::Train).unwrap().batches(4, t);
        let err = b.next().unwrap().unwrap_err().to_string();
        assert!(err.contains("no image decodes") && err.contains("a.png"), "{err}");
        assert!(b.next().is_none());
    }

    #[test]
    fn empty_folders_and_archives() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("LICENSE"), "x").unwrap();
        let e = load(d.path(), Split::Train, Target::default()).unwrap_err().to_string();
        assert!(e.contains("empty") && e.contains("1 files"), "{e}");
        // A tar.gz of the same layout as a folder loads the same.
        png(d.path(), "src/a/1.png", 5, 4);
        png(d.path(), "src/b/1.png", 6, 4);
        let tgz = d.path().join("x.tar.gz");
        let f = std::fs::File::create(&tgz).unwrap();
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(f, flate2::Compression::fast()));
        b.append_dir_all(".", d.path().join("src")).unwrap();
        b.into_inner().unwrap().finish().unwrap();
        let ds = load(&tgz, Split::Train, Target::default()).unwrap();
        assert_eq!(ds.classes, vec!["a", "b"]);
        assert_eq!(ds.images.int64_value(&[1, 0, 0, 0]), 6);
        std::fs::write(&tgz, b"\x1f\x8b\x08\x00garbage").unwrap();
        assert!(load(&tgz, Split::Train, Target::default()).unwrap_err().to_string().contains("corrupt"));
    }
}

//! CIFAR-10 binary version (Krizhevsky 2009; <https://www.cs.toronto.edu/~kriz/cifar.html>).
//!
//! Each of `data_batch_{1..5}.bin` (train) and `test_batch.bin` (test) holds 10,000 records of
//! 3,073 bytes: one label byte (0–9), then 1,024 red, 1,024 green and 1,024 blue bytes (row-major
//! 32×32). The files may sit in a folder (directly or under `cifar-10-batches-bin/`) or inside
//! `cifar-10-binary.tar.gz`.

use std::path::Path;

use crate::dataset::{ImageDataset, Split};
use crate::{DataError, Result};

/// Bytes in one record.
pub const RECORD: usize = 1 + 3 * 32 * 32;
/// CIFAR-10's class names, in label order.
pub const CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

fn batch_names(split: Split) -> Vec<&'static str> {
    let train =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
    match split {
        Split::Train => train.to_vec(),
        Split::Test => vec!["test_batch.bin"],
        Split::All => train.iter().copied().chain(["test_batch.bin"]).collect(),
    }
}

/// Parses one batch file: CHW pixels of each record and the labels.
pub fn parse_batch(bytes: &[u8], origin: &str) -> Result<(Vec<u8>, Vec<i64>)> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::format(
            origin,
            format!(
                "truncated or corrupt CIFAR batch: {} bytes is not a positive multiple of the {RECORD}-byte record ({} whole records and {} bytes over)",
                bytes.len(),
                bytes.len() / RECORD,
                bytes.len() % RECORD
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    let mut pixels = Vec::with_capacity(n * (RECORD - 1));
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(DataError::format(
                origin,
                format!("record {i}: label {} out of range 0..=9", rec[0]),
            ));
        }
        labels.push(rec[0] as i64);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok((pixels, labels))
}

/// Encodes CHW u8 images (3×32×32 each) and labels as a batch file.
pub fn encode_batch(pixels: &[u8], labels: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(labels.len() * RECORD);
    for (img, &l) in pixels.chunks_exact(RECORD - 1).zip(labels) {
        out.push(l as u8);
        out.extend_from_slice(img);
    }
    out
}

/// Loads a split from a folder or a `.tar.gz` holding the batch files.
pub fn load(path: &Path, split: Split) -> Result<ImageDataset> {
    let wanted = batch_names(split);
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    if path.is_dir() {
        for name in &wanted {
            let direct = path.join(name);
            let nested = path.join("cifar-10-batches-bin").join(name);
            let file = if direct.exists() { direct } else { nested };
            if !file.exists() {
                return Err(DataError::format(path.display(), format!("missing CIFAR-10 batch {name}")));
            }
            found.push((
                file.display().to_string(),
                std::fs::read(&file).map_err(|e| DataError::io(&file, e))?,
            ));
        }
    } else {
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
        let entries = archive
            .entries()
            .map_err(|e| DataError::format(path.display(), format!("not a tar.gz archive ({e})")))?;
        let limit = crate::error::expand_limit(); // asked once, not per member
        for entry in entries {
            let mut entry =
                entry.map_err(|e| DataError::format(path.display(), format!("corrupt archive ({e})")))?;
            let member = entry.path().map(|p| p.to_string_lossy().to_string()).unwrap_or_default();
            let base = member.rsplit('/').next().unwrap_or_default().to_string();
            if wanted.contains(&base.as_str()) {
                let shown = format!("{}!{member}", path.display());
                if entry.size() > limit {
                    return Err(crate::error::too_large(&shown, "the member its tar header claims", limit));
                }
                let buf = crate::error::read_bounded(&mut entry, limit, &shown, "archive member")?;
                found.push((format!("{}!{member}", path.display()), buf));
            }
        }
        if let Some(missing) = wanted.iter().find(|w| !found.iter().any(|(m, _)| m.ends_with(*w))) {
            return Err(DataError::format(
                path.display(),
                format!("archive has no CIFAR-10 batch {missing}"),
            ));
        }
        // Archive order is arbitrary: put the batches in their canonical order.
        found.sort_by_key(|(m, _)| wanted.iter().position(|w| m.ends_with(w)));
    }
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (origin, bytes) in &found {
        let (p, l) = parse_batch(bytes, origin)?;
        pixels.extend(p);
        labels.extend(l);
    }
    let n = labels.len();
    ImageDataset::from_pixels(
        format!("{} ({})", path.display(), split.name()),
        pixels,
        [n, 3, 32, 32],
        Some(labels),
        CLASSES.iter().map(|s| s.to_string()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_sizes_are_named() {
        let pixels: Vec<u8> = (0..2 * 3072).map(|i| (i % 251) as u8).collect();
        let bytes = encode_batch(&pixels, &[3, 9]);
        assert_eq!(bytes.len(), 2 * RECORD);
        let (p, l) = parse_batch(&bytes, "b.bin").unwrap();
        assert_eq!((p, l), (pixels, vec![3, 9]));
        let e = parse_batch(&bytes[..RECORD + 5], "b.bin").unwrap_err().to_string();
        assert!(e.contains("b.bin") && e.contains("1 whole records and 5 bytes over"), "{e}");
        let mut bad = bytes.clone();
        bad[RECORD] = 12;
        assert!(parse_batch(&bad, "b").unwrap_err().to_string().contains("record 1: label 12"));
    }
}

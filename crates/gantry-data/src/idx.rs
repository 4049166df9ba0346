//! The IDX format of MNIST and Fashion-MNIST (LeCun et al.; <http://yann.lecun.com/exdb/mnist/>).
//!
//! ```text
//! magic   : 0x00 0x00 <type> <ndims>     type 0x08 = unsigned byte (the only type gantry reads)
//! dims    : ndims × u32, big-endian      images: [N, rows, cols]; labels: [N]
//! payload : N·rows·cols bytes            exactly; truncated or trailing bytes are errors
//! ```
//! Files may be gzip-compressed (`.gz`).

use std::path::Path;

use crate::error::read_maybe_gz;
use crate::{DataError, Result};

/// A parsed IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// The dimensions from the header, outermost first: `[N, rows, cols]` for images, `[N]` for labels.
    pub dims: Vec<usize>,
    /// The payload, row-major: exactly the product of `dims` bytes.
    pub data: Vec<u8>,
}

/// Parses IDX bytes; `origin` names the file in errors.
pub fn parse(bytes: &[u8], origin: &str) -> Result<Idx> {
    if bytes.len() < 4 {
        return Err(DataError::format(
            origin,
            format!("truncated IDX header: expected at least 4 bytes, found {}", bytes.len()),
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::format(
            origin,
            format!("bad IDX magic number: expected 0x000008NN, found 0x{magic:08X} (not an IDX file?)"),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(DataError::format(
            origin,
            format!("unsupported IDX element type 0x{:02X} (magic 0x{magic:08X}): gantry reads unsigned-byte IDX (0x08)", bytes[2]),
        ));
    }
    let nd = bytes[3] as usize;
    if nd == 0 || nd > 4 {
        return Err(DataError::format(
            origin,
            format!("bad IDX magic number 0x{magic:08X}: {nd} dimensions (expected 1 to 4)"),
        ));
    }
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(DataError::format(
            origin,
            format!("truncated IDX header: expected {header} bytes, found {}", bytes.len()),
        ));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize)
        .collect();
    let want = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let found = bytes.len() - header;
    match want {
        Some(w) if w == found => Ok(Idx { dims, data: bytes[header..].to_vec() }),
        Some(w) if found < w => Err(DataError::format(
            origin,
            format!("truncated IDX payload: dims {dims:?} need {w} bytes after the header, found {found}"),
        )),
        Some(w) => Err(DataError::format(
            origin,
            format!("{} unexpected trailing bytes after the IDX payload of dims {dims:?}", found - w),
        )),
        None => Err(DataError::format(origin, format!("IDX dims {dims:?} overflow"))),
    }
}

/// Reads an IDX file (raw or `.gz`). A gzipped file's header is read first: dims claiming more
/// than the memory allows are one line before the payload is decompressed.
pub fn read(path: &Path) -> Result<Idx> {
    let shown = path.display().to_string();
    if path.extension().is_none_or(|e| e != "gz") {
        return parse(&read_maybe_gz(path)?, &shown);
    }
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut gz = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    let bad =
        |e: std::io::Error| DataError::format(&shown, format!("corrupt or truncated gzip stream ({e})"));
    let limit = crate::error::expand_limit();
    let mut head = [0u8; 20];
    let mut have = read_up_to(&mut gz, &mut head[..4]).map_err(bad)?;
    if have == 4 && head[0] == 0 && head[1] == 0 && (1..=4).contains(&head[3]) {
        let nd = head[3] as usize;
        have += read_up_to(&mut gz, &mut head[4..4 + 4 * nd]).map_err(bad)?;
        if have == 4 + 4 * nd {
            let dims: Vec<u64> = head[4..have]
                .chunks(4)
                .map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")) as u64)
                .collect();
            if dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).is_none_or(|w| w > limit) {
                return Err(crate::error::too_large(
                    &shown,
                    &format!("the payload its IDX header claims (dims {dims:?})"),
                    limit,
                ));
            }
        }
    }
    let mut bytes = head[..have].to_vec();
    bytes.extend(crate::error::read_bounded(gz, limit, &shown, "gzip stream")?);
    parse(&bytes, &shown)
}

/// Reads until `buf` is full or the stream ends; the bytes read.
fn read_up_to(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads an image file `[N, rows, cols]` and its label file `[N]`; checks both and that the counts
/// agree. Returns the pixels (N·rows·cols bytes), `[N, rows, cols]`, and the labels.
pub fn read_pair(images: &Path, labels: &Path) -> Result<(Vec<u8>, [usize; 3], Vec<i64>)> {
    let im = read(images)?;
    if im.dims.len() != 3 {
        return Err(DataError::format(
            images.display(),
            format!(
                "expected an IDX image file (3 dimensions, magic 0x00000803), found {} dimensions",
                im.dims.len()
            ),
        ));
    }
    let lb = read(labels)?;
    if lb.dims.len() != 1 {
        return Err(DataError::format(
            labels.display(),
            format!(
                "expected an IDX label file (1 dimension, magic 0x00000801), found {} dimensions",
                lb.dims.len()
            ),
        ));
    }
    if im.dims[0] != lb.dims[0] {
        return Err(DataError::format(
            labels.display(),
            format!(
                "image/label count mismatch: {} has {} images, this file {} labels",
                images.display(),
                im.dims[0],
                lb.dims[0]
            ),
        ));
    }
    let labels = lb.data.iter().map(|&l| l as i64).collect();
    Ok((im.data, [im.dims[0], im.dims[1], im.dims[2]], labels))
}

/// Encodes unsigned bytes as IDX (used by tests and tools that write MNIST-format files).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_rejects_by_name() {
        let ok = encode(&[2, 2, 3], &[1; 12]);
        assert_eq!(parse(&ok, "f").unwrap().dims, vec![2, 2, 3]);
        let e = parse(&ok[..ok.len() - 1], "f.idx").unwrap_err().to_string();
        assert!(
            e.contains("f.idx") && e.contains("truncated") && e.contains("need 12") && e.contains("found 11"),
            "{e}"
        );
        let mut bad = ok.clone();
        bad[0] = 0x1f;
        let e = parse(&bad, "f").unwrap_err().to_string();
        assert!(e.contains("bad IDX magic") && e.contains("0x1F000803"), "{e}");
        let mut float = ok.clone();
        float[2] = 0x0D;
        assert!(parse(&float, "f").unwrap_err().to_string().contains("element type 0x0D"));
        let mut extra = ok.clone();
        extra.push(0);
        assert!(parse(&extra, "f").unwrap_err().to_string().contains("1 unexpected trailing"));
        assert!(parse(&ok[..6], "f").unwrap_err().to_string().contains("truncated IDX header"));
    }

    proptest! {
        #[test]
        fn round_trips(dims in proptest::collection::vec(1usize..5, 1..4), seed in any::<u8>()) {
            let n: usize = dims.iter().product();
            let data: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(seed)).collect();
            let idx = parse(&encode(&dims, &data), "p").unwrap();
            prop_assert_eq!(idx, Idx { dims, data });
        }

        #[test]
        fn any_truncation_is_an_error_never_a_panic(cut in 0usize..40) {
            let ok = encode(&[3, 2, 5], &[7; 30]);
            let cut = cut.min(ok.len() - 1);
            prop_assert!(parse(&ok[..cut], "p").is_err());
        }
    }
}

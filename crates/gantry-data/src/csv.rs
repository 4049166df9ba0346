//! One image per CSV row: `H·W` pixel values (row-major) then the label, no header — the layout
//! of `mnist_5k.csv` (784 pixels of 0–255 + label in column 785) and of the UCI optical digits
//! (`digits.csv`: 64 values of 0–16 + label). Optionally gzip-compressed.

use crate::dataset::{numeric_classes, ImageDataset};
use crate::{DataError, Result};

/// The largest class label a CSV row may carry (classes are numbered 0..=label).
pub const MAX_LABEL: u32 = 99_999;

/// Parses CSV text of square grey images of side `side` (28 for MNIST), pixels 0–255.
pub fn parse(text: &str, side: usize, origin: &str) -> Result<ImageDataset> {
    parse_scaled(text, side, 255, origin)
}

/// Parses CSV text of square grey images of side `side` whose pixels run 0..=`max` (16 for the
/// UCI digits), scaled to 0–255 as `round(v·255/max)`.
pub fn parse_scaled(text: &str, side: usize, max: u32, origin: &str) -> Result<ImageDataset> {
    let cols = side * side + 1;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut count = 0;
        for (j, field) in line.split(',').enumerate() {
            count += 1;
            if j >= cols {
                continue;
            }
            let v: u32 = field.trim().parse().map_err(|_| {
                DataError::format(
                    origin,
                    format!("line {}, column {}: expected an integer, found {field:?}", i + 1, j + 1),
                )
            })?;
            if j + 1 < cols {
                if v > max {
                    return Err(DataError::format(
                        origin,
                        format!("line {}, column {}: pixel {v} out of range 0..={max}", i + 1, j + 1),
                    ));
                }
                pixels.push(((v * 255 + max / 2) / max) as u8);
            } else {
                // Each label up to the largest becomes a class: a huge one would be an allocation
                // bomb (found by fuzzing: `crates/gantry-fuzz/regressions/csv/`).
                if v > MAX_LABEL {
                    return Err(DataError::format(
                        origin,
                        format!("line {}, column {}: label {v} out of range 0..={MAX_LABEL}", i + 1, j + 1),
                    ));
                }
                labels.push(v as i64);
            }
        }
        if count != cols {
            return Err(DataError::format(
                origin,
                format!(
                    "line {}: expected {cols} values ({} pixels + label), found {count}",
                    i + 1,
                    cols - 1
                ),
            ));
        }
    }
    let n = labels.len();
    let classes = numeric_classes(&labels);
    ImageDataset::from_pixels(origin, pixels, [n, 1, side, side], Some(labels), classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_names_bad_lines() {
        let row = |label: u8| {
            let mut v: Vec<String> = (0..4).map(|i| (i * 60).to_string()).collect();
            v.push(label.to_string());
            v.join(",")
        };
        let ds = parse(&format!("{}\n{}\n", row(1), row(0)), 2, "t.csv").unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.image_shape(), [1, 2, 2]);
        assert_eq!(ds.classes, vec!["0", "1"]);
        assert_eq!(ds.images.int64_value(&[0, 0, 1, 1]), 180);
        let e = parse("1,2,3,4,100000\n", 2, "t.csv").unwrap_err().to_string();
        assert!(e.contains("line 1, column 5: label 100000 out of range 0..=99999"), "{e}");
        let e = parse("1,2,3,4\n", 2, "t.csv").unwrap_err().to_string();
        assert!(e.contains("t.csv") && e.contains("line 1") && e.contains("found 4"), "{e}");
        let e = parse("1,2,x,4,5\n", 2, "t.csv").unwrap_err().to_string();
        assert!(e.contains("column 3"), "{e}");
        assert!(parse("1,2,300,4,5\n", 2, "t.csv").unwrap_err().to_string().contains("out of range"));
        assert!(parse("\n", 2, "t.csv").unwrap_err().to_string().contains("empty"));
        // The UCI digits' 0–16 scale.
        let d = parse_scaled("0,8,16,1,3\n", 2, 16, "d.csv").unwrap();
        let px: Vec<u8> = Vec::try_from(d.images.flatten(0, -1)).unwrap();
        assert_eq!(px, vec![0, 128, 255, 16]);
        assert!(parse_scaled("0,17,1,1,3\n", 2, 16, "d.csv").unwrap_err().to_string().contains("0..=16"));
    }
}

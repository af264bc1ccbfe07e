//! IDX files (MNIST, Fashion-MNIST): big-endian header, then u8 pixels or labels.

/// Images of one IDX file: `count` images of `rows` x `cols` u8 pixels, row-major.
#[derive(Debug, PartialEq)]
pub struct IdxImages {
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

impl IdxImages {
    pub fn count(&self) -> usize {
        self.pixels.len() / (self.rows * self.cols)
    }
}

const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;

/// Parses an uncompressed IDX3 image file. The error says what is wrong, for a message that
/// names the file.
pub fn parse_images(bytes: &[u8]) -> Result<IdxImages, String> {
    let header = header(bytes, IMAGES_MAGIC, 16, "images (idx3)")?;
    let [count, rows, cols] = [header[0], header[1], header[2]];
    if rows == 0 || cols == 0 {
        return Err(format!("image size {rows}x{cols} is empty"));
    }
    let body = &bytes[16..];
    let expected = count
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(cols))
        .ok_or_else(|| format!("header size {count}x{rows}x{cols} overflows"))?;
    if body.len() != expected {
        return Err(format!(
            "header says {count} images of {rows}x{cols} ({expected} bytes) but the file holds {} \
             bytes of pixels (truncated or wrong file)",
            body.len()
        ));
    }
    Ok(IdxImages { rows, cols, pixels: body.to_vec() })
}

/// Parses an uncompressed IDX1 label file; every label must be a class 0-9.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let count = header(bytes, LABELS_MAGIC, 8, "labels (idx1)")?[0];
    let body = &bytes[8..];
    if body.len() != count {
        return Err(format!("header says {count} labels but the file holds {} (truncated or wrong file)", body.len()));
    }
    check_labels(body)?;
    Ok(body.to_vec())
}

/// Every label must name one of the 10 classes.
pub fn check_labels(labels: &[u8]) -> Result<(), String> {
    match labels.iter().position(|&l| l > 9) {
        Some(i) => Err(format!("label {} at record {i} is not a class 0-9", labels[i])),
        None => Ok(()),
    }
}

/// Checks the magic number and returns the dimension fields after it.
fn header(bytes: &[u8], magic: u32, len: usize, what: &str) -> Result<Vec<usize>, String> {
    if bytes.len() < len {
        return Err(format!("too short for an IDX {what} header ({} bytes, need {len})", bytes.len()));
    }
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let found = word(0);
    if found != magic {
        return Err(format!("magic number {found} is not {magic}: not an IDX {what} file"));
    }
    Ok((4..len).step_by(4).map(|i| word(i) as usize).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An IDX3 file of `count` images filled with `fill(i)`.
    pub fn images(count: usize, rows: usize, cols: usize, fill: impl Fn(usize) -> u8) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [IMAGES_MAGIC, count as u32, rows as u32, cols as u32] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        for i in 0..count {
            out.extend(std::iter::repeat_n(fill(i), rows * cols));
        }
        out
    }

    pub fn labels(values: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [LABELS_MAGIC, values.len() as u32] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(values);
        out
    }

    #[test]
    fn parses_generated_files() {
        let parsed = parse_images(&images(3, 2, 4, |i| i as u8)).unwrap();
        assert_eq!((parsed.count(), parsed.rows, parsed.cols), (3, 2, 4));
        assert_eq!(&parsed.pixels[8..16], &[1; 8]);
        assert_eq!(parse_labels(&labels(&[0, 9, 3])).unwrap(), vec![0, 9, 3]);
    }

    #[test]
    fn rejects_corrupt_files_with_a_reason() {
        let wrong_magic = labels(&[1; 20]);
        assert!(parse_images(&wrong_magic).unwrap_err().contains("magic number 2049 is not 2051"));
        assert!(parse_labels(&images(1, 1, 1, |_| 0)).unwrap_err().contains("magic number 2051"));
        let mut truncated = images(3, 2, 2, |_| 0);
        truncated.pop();
        assert!(parse_images(&truncated).unwrap_err().contains("truncated"));
        assert!(parse_images(&[0, 0, 8]).unwrap_err().contains("too short"));
        assert!(parse_labels(&labels(&[1, 10])).unwrap_err().contains("label 10 at record 1"));
        let mut short = labels(&[1, 2]);
        short.truncate(9);
        assert!(parse_labels(&short).unwrap_err().contains("header says 2 labels"));
        assert!(parse_images(&images(0, 0, 28, |_| 0)).unwrap_err().contains("empty"));
        let mut huge = images(0, 1, 1, |_| 0);
        huge[4..16].copy_from_slice(&[0xff; 12]);
        assert!(parse_images(&huge).is_err());
    }
}

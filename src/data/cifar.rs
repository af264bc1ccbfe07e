//! CIFAR-10 binary records: 1 label byte, then 1024 R, 1024 G, 1024 B bytes (32x32, row-major).

use super::idx::check_labels;

pub const SIDE: usize = crate::catalog::CIFAR_SIDE;
pub const PIXELS: usize = 3 * SIDE * SIDE;
pub const RECORD: usize = 1 + PIXELS;

/// Appends the records of one batch file to `pixels` (CHW per image) and `labels`.
pub fn parse_records(bytes: &[u8], pixels: &mut Vec<u8>, labels: &mut Vec<u8>) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("empty file: no CIFAR-10 records".into());
    }
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(format!(
            "{} bytes is not a whole number of {RECORD}-byte records ({} whole, {} bytes left over): \
             truncated or not a CIFAR-10 binary batch",
            bytes.len(),
            bytes.len() / RECORD,
            bytes.len() % RECORD
        ));
    }
    let (first_label, first_pixel) = (labels.len(), pixels.len());
    pixels.reserve(bytes.len() / RECORD * PIXELS);
    for record in bytes.chunks_exact(RECORD) {
        labels.push(record[0]);
        pixels.extend_from_slice(&record[1..]);
    }
    check_labels(&labels[first_label..]).inspect_err(|_| {
        labels.truncate(first_label);
        pixels.truncate(first_pixel);
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `count` records; record i has label i % 10 and every pixel of channel c equal to i + c.
    pub fn records(count: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(count * RECORD);
        for i in 0..count {
            out.push((i % 10) as u8);
            for c in 0..3 {
                out.extend(std::iter::repeat_n((i + c) as u8, SIDE * SIDE));
            }
        }
        out
    }

    #[test]
    fn parses_records_into_chw_planes() {
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        parse_records(&records(12), &mut pixels, &mut labels).unwrap();
        assert_eq!(labels.len(), 12);
        assert_eq!(labels[11], 1);
        assert_eq!(pixels.len(), 12 * PIXELS);
        assert_eq!(pixels[PIXELS + 1024], 2, "image 1, green plane");
    }

    #[test]
    fn rejects_partial_records_and_bad_labels() {
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        let mut partial = records(2);
        partial.pop();
        assert!(
            parse_records(&partial, &mut pixels, &mut labels).unwrap_err().contains("1 whole, 3072 bytes left over")
        );
        let mut bad = records(2);
        bad[RECORD] = 12;
        assert!(parse_records(&bad, &mut pixels, &mut labels).unwrap_err().contains("label 12 at record 1"));
        assert!(labels.is_empty() && pixels.is_empty(), "nothing kept from a bad file");
        assert!(parse_records(&[], &mut pixels, &mut labels).is_err());
    }

    #[test]
    fn real_test_records_from_shared_data() {
        let Some(path) = crate::data::test_data::optional("cifar10/test_batch_first20.bin") else {
            eprintln!(
                "skipped: real_test_records_from_shared_data needs cifar10/test_batch_first20.bin (20 real CIFAR-10 records) in the test data; the generated-record tests above still ran"
            );
            return;
        };
        let bytes = std::fs::read(&path).unwrap();
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        parse_records(&bytes, &mut pixels, &mut labels).unwrap();
        assert_eq!(labels, [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]);
        assert_eq!(pixels.len(), 20 * PIXELS);
    }
}

//! Decoded pixels on disk: what an image folder or a Hub data set decodes once and every later
//! start reads. A file holds the key it was made for, a JSON header, then the labels and pixels
//! of train and test; anything but a whole file for the same key is decoded again.

use std::path::Path;

use super::{Dataset, ImageShape, Split};
use crate::catalog::DatasetName;

/// The cache's header, after the key: what it holds and in which shape.
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheHeader {
    #[serde(flatten)]
    shape: ImageShape,
    classes: Vec<String>,
    train: usize,
    test: usize,
}

/// Writes `data` for `key` to `path` (atomically, its folder made if needed).
pub fn store(path: &Path, key: &[u8; 32], data: &Dataset) -> std::io::Result<()> {
    let header = CacheHeader {
        shape: data.shape,
        classes: data.classes.clone(),
        train: data.train.len(),
        test: data.test.len(),
    };
    let header = serde_json::to_vec(&header).expect("the header serializes");
    let mut bytes = Vec::with_capacity(
        48 + header.len() + data.train.images.len() + data.test.images.len() + data.train.len() + data.test.len(),
    );
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    for split in [&data.train, &data.test] {
        bytes.extend_from_slice(&split.labels);
        bytes.extend_from_slice(&split.images);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::fs::write_atomically(path, &bytes)
}

/// [`store`], then one line saying so (unless `quiet`); a cache that cannot be written (a
/// read-only data root) costs only the decoding next time, and is a warning.
pub fn store_and_say(
    path: &Path,
    key: &[u8; 32],
    data: &Dataset,
    what: &str,
    started: std::time::Instant,
    quiet: bool,
) {
    match store(path, key, data) {
        Ok(()) if !quiet => eprintln!(
            "{what}: decoded {} images ({}x{}x{}) in {:.1} s, cached in {}",
            data.train.len() + data.test.len(),
            data.shape.channels,
            data.shape.height,
            data.shape.width,
            started.elapsed().as_secs_f64(),
            path.display()
        ),
        Ok(()) => {}
        Err(e) => {
            eprintln!("warning: could not write the pixel cache {}: {e}; decoding again next time", path.display())
        }
    }
}

/// The data set cached at `path` for `key`, if the file holds one whole.
pub fn read(path: &Path, key: &[u8; 32], name: DatasetName) -> Option<Dataset> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(key.as_slice())?;
    let (len, rest) = rest.split_at_checked(8)?;
    let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
    let (header, mut rest) = rest.split_at_checked(len)?;
    let header: CacheHeader = serde_json::from_slice(header).ok()?;
    let mut take = |n: usize| -> Option<Vec<u8>> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head.to_vec())
    };
    let pixels = header.shape.pixels();
    let mut split =
        |n: usize| -> Option<Split> { Some(Split { labels: take(n)?, images: take(n.checked_mul(pixels)?)? }) };
    let (train, test) = (split(header.train)?, split(header.test)?);
    if !rest.is_empty() || train.labels.iter().chain(&test.labels).any(|&l| l as usize >= header.classes.len()) {
        return None;
    }
    Some(Dataset { name, shape: header.shape, train, test, classes: header.classes, files_key: String::new() })
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

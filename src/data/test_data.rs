//! Where the tests find the real data sets (MNIST and Fashion-MNIST, whole): the folder in
//! `RUNNER_TEST_DATA`, else `../shared/data` beside the project, else `data/` in it (where
//! `runner` downloads them), else a cache folder (`~/.cache/runner-test-data`) filled once by the
//! runner's own verified download. Not part of the runner's interface: tests only.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{DatasetName, FetchOptions};

/// The data root holding `mnist/` and `fashion-mnist/`; panics, naming every place it looked,
/// when none has them and they cannot be downloaded.
pub fn root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(find_or_download).clone()
}

/// A file of the test data that not every machine has (e.g. real CIFAR-10 records), or None:
/// the test that needs it then says by name that it was skipped.
pub fn optional(relative: &str) -> Option<PathBuf> {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut places: Vec<PathBuf> = std::env::var_os("RUNNER_TEST_DATA").map(PathBuf::from).into_iter().collect();
    places.extend([project.join("../shared/data"), project.join("data")]);
    places.into_iter().map(|p| p.join(relative)).find(|p| p.is_file())
}

fn candidates() -> Vec<PathBuf> {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut places: Vec<PathBuf> = std::env::var_os("RUNNER_TEST_DATA").map(PathBuf::from).into_iter().collect();
    places.extend([project.join("../shared/data"), project.join("data"), cache()]);
    places
}

fn cache() -> PathBuf {
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    home.join("runner-test-data")
}

/// Whether `root` holds the four IDX files of both data sets (gzipped or not).
fn complete(root: &Path) -> bool {
    let files =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
    ["mnist", "fashion-mnist"].iter().all(|set| {
        files.iter().all(|f| root.join(set).join(f).is_file() || root.join(set).join(format!("{f}.gz")).is_file())
    })
}

fn find_or_download() -> PathBuf {
    let places = candidates();
    if let Some(found) = places.iter().find(|p| complete(p)) {
        return found.clone();
    }
    let cache = cache();
    let fetch = FetchOptions { offline: false, quiet: true, ..FetchOptions::default() };
    let downloaded = [DatasetName::Mnist, DatasetName::FashionMnist]
        .into_iter()
        .try_for_each(|set| super::load(set, &cache, &fetch).map(|_| ()));
    match downloaded {
        Ok(()) => cache,
        Err(e) => panic!(
            "the tests need MNIST and Fashion-MNIST; none of {} has them, and downloading them into {} failed: {e}\n  \
             Put them in one of these (or set RUNNER_TEST_DATA to a folder holding mnist/ and fashion-mnist/).",
            places.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            cache.display()
        ),
    }
}

/// Writes real MNIST digits as an image folder under `dest`: `train/<d>/` and `test/<d>/` for
/// each digit `d` of `digits`, the first `train_per_class` and `test_per_class` images of each,
/// as grayscale PNGs, or tinted RGB ones when `rgb` (red: the digit, blue: its inverse).
pub fn mnist_folder(dest: &Path, digits: &[u8], train_per_class: usize, test_per_class: usize, rgb: bool) {
    let mnist = super::load(DatasetName::Mnist, &root(), &FetchOptions { offline: true, ..FetchOptions::default() })
        .expect("MNIST loads");
    write_folder(&mnist, dest, digits, [train_per_class, test_per_class], rgb).unwrap();
}

/// Writes the classes `labels` of a loaded 1-channel data set as an image folder under `dest`
/// (`train/<class name>/00000.png`, ...), at most `per_class` images of each (train, test).
pub fn write_folder(
    data: &super::Dataset,
    dest: &Path,
    labels: &[u8],
    per_class: [usize; 2],
    rgb: bool,
) -> std::io::Result<usize> {
    let plane = data.shape.pixels();
    let (w, h) = (data.shape.width as u32, data.shape.height as u32);
    let mut written = 0;
    for ((split, name), per_class) in [(&data.train, "train"), (&data.test, "test")].into_iter().zip(per_class) {
        for &label in labels {
            let dir = dest.join(name).join(&data.classes[label as usize]);
            std::fs::create_dir_all(&dir)?;
            let picks = split.labels.iter().enumerate().filter(|(_, l)| **l == label).map(|(i, _)| i).take(per_class);
            for (n, i) in picks.enumerate() {
                let pixels = &split.images[i * plane..(i + 1) * plane];
                let path = dir.join(format!("{n:05}.png"));
                let saved = if rgb {
                    let rgb: Vec<u8> = pixels.iter().flat_map(|&p| [p, p / 2, 255 - p]).collect();
                    image::RgbImage::from_raw(w, h, rgb).expect("sizes agree").save(&path)
                } else {
                    image::GrayImage::from_raw(w, h, pixels.to_vec()).expect("sizes agree").save(&path)
                };
                saved.map_err(std::io::Error::other)?;
                written += 1;
            }
        }
    }
    Ok(written)
}

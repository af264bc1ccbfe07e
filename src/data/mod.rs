//! Data sets in their original formats, held as u8 pixels; converted to floats per batch.

pub mod batch;
mod cache;
pub mod cifar;
mod decode;
pub mod fetch;
pub mod folder;
pub mod hub;
pub mod idx;
pub mod image_file;
mod pixel_cache;
#[doc(hidden)]
pub mod test_data;

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::catalog::{CIFAR_CLASSES, DatasetName};
use crate::error::{Error, Result};

pub use crate::catalog::{ImageSet, ImageShape};
pub use cache::{DataSets, fingerprint_label};
pub use fetch::FetchOptions;

/// Images (CHW per image, u8) and their labels (class indices).
#[derive(Debug, Default)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Images per class (as many entries as the highest label needs), for checks and reports.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.labels.iter().max().map_or(0, |&l| l as usize + 1)];
        for &label in &self.labels {
            counts[label as usize] += 1;
        }
        counts
    }
}

#[derive(Debug)]
pub struct Dataset {
    pub name: DatasetName,
    pub shape: ImageShape,
    pub train: Split,
    pub test: Split,
    pub classes: Vec<String>,
    /// An image folder's file-list key (names, sizes, modification times), hex; empty for a
    /// built-in data set.
    pub files_key: String,
}

impl Dataset {
    /// Its images' shape and its classes, as a model and a trial's record need them.
    pub fn images(&self) -> ImageSet {
        ImageSet { shape: self.shape, classes: self.classes.clone() }
    }
}

/// Where a data set lives under the data root.
pub fn dir(root: &Path, name: &DatasetName) -> PathBuf {
    root.join(name.as_str())
}

/// The data set `spec` trains on: a built-in one from its data root (downloading what is missing
/// unless `fetch.offline`), or its image folder (through the cache under the data root).
pub fn load_for(spec: &crate::spec::Spec, fetch: &FetchOptions) -> Result<Dataset> {
    load_spec(spec, fetch, true)
}

/// [`load_for`], writing nothing unless `write` (a dry run): no download, no decode cache.
pub fn load_spec(spec: &crate::spec::Spec, fetch: &FetchOptions, write: bool) -> Result<Dataset> {
    match &spec.dataset {
        DatasetName::Folder => {
            folder::load(&spec.folder, &spec.image_size, &spec.data_dir.join(FOLDER_CACHE), write, fetch.quiet)
        }
        DatasetName::Hub(_) => {
            let request = hub::HubRequest::of(spec).expect("a Hub data set");
            hub::load(&request, &spec.data_dir, fetch, write)
        }
        builtin => load(builtin.clone(), &spec.data_dir, fetch),
    }
}

/// Where image-folder caches go, under the data root.
pub const FOLDER_CACHE: &str = "folder-cache";

/// Loads a built-in data set from `root`, downloading what is missing unless `fetch.offline`.
pub fn load(name: DatasetName, root: &Path, fetch: &FetchOptions) -> Result<Dataset> {
    fetch::ensure(&name, root, fetch)?;
    let dir = dir(root, &name);
    let official = !fetch.partial_allowed();
    match name {
        DatasetName::Mnist | DatasetName::FashionMnist => load_idx(name, &dir, official),
        DatasetName::Cifar10 => load_cifar(&dir, official),
        DatasetName::Folder | DatasetName::Hub(_) => {
            Err(format_error(root, "an image folder or Hub data set is loaded from its spec (data::load_for)".into()))
        }
    }
}

/// How to get a built-in set's official files again, for the refusal of a copy that is not one.
fn refetch_hint(dir: &Path) -> String {
    format!(
        "delete {} and run again to download the official files (or put them there yourself); \
         small test copies are accepted with {}=1",
        dir.display(),
        fetch::ALLOW_PARTIAL_ENV
    )
}

/// An IDX file checked against the official one: its md5 (of the uncompressed bytes) and its
/// record count.
fn check_official(path: &Path, bytes: &[u8], md5: &str, count: usize, official: usize, dir: &Path) -> Result<()> {
    use md5::{Digest, Md5};
    if count != official {
        return Err(format_error(
            path,
            format!(
                "holds {count} records but the official file holds {official}: an incomplete copy; {}",
                refetch_hint(dir)
            ),
        ));
    }
    let digest = format!("{:x}", Md5::digest(bytes));
    if digest != md5 {
        return Err(format_error(
            path,
            format!("has md5 {digest} but the official file's is {md5}: an altered copy; {}", refetch_hint(dir)),
        ));
    }
    Ok(())
}

fn load_idx(name: DatasetName, dir: &Path, official: bool) -> Result<Dataset> {
    let source = fetch::source(&name);
    let md5_of = |file: &str| source.files.iter().find(|f| f.name.starts_with(file)).map(|f| f.md5).unwrap_or("");
    let split = |prefix: &str| -> Result<(Split, ImageShape)> {
        let expected = if prefix == "train" { 60_000 } else { 10_000 };
        let (images_path, images) = read_present(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let parsed = idx::parse_images(&images).map_err(|m| format_error(&images_path, m))?;
        if official {
            let md5 = md5_of(&format!("{prefix}-images"));
            check_official(&images_path, &images, md5, parsed.count(), expected, dir)?;
        }
        let images = parsed;
        let (labels_path, labels) = read_present(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        let raw_labels = labels;
        let labels = idx::parse_labels(&raw_labels).map_err(|m| format_error(&labels_path, m))?;
        if official {
            let md5 = md5_of(&format!("{prefix}-labels"));
            check_official(&labels_path, &raw_labels, md5, labels.len(), expected, dir)?;
        }
        if images.count() != labels.len() {
            return Err(format_error(
                &labels_path,
                format!("holds {} labels but {} holds {} images", labels.len(), images_path.display(), images.count()),
            ));
        }
        if labels.is_empty() {
            return Err(format_error(&labels_path, "holds no images: nothing to train or test on".into()));
        }
        let shape = ImageShape { channels: 1, height: images.rows, width: images.cols };
        Ok((Split { images: images.pixels, labels }, shape))
    };
    let (train, test) = std::thread::scope(|s| {
        let test = s.spawn(|| split("t10k"));
        let train = split("train");
        (train, test.join().expect("the test-split loader does not panic"))
    });
    let ((train, shape), (test, test_shape)) = (train?, test?);
    if shape != test_shape {
        return Err(format_error(
            dir,
            format!(
                "train images are {}x{} but test images are {}x{}",
                shape.height, shape.width, test_shape.height, test_shape.width
            ),
        ));
    }
    let classes = name.builtin().map(|images| images.classes).unwrap_or_default();
    Ok(Dataset { name, shape, train, test, classes, files_key: String::new() })
}

const CIFAR_TRAIN: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
const CIFAR_TEST: &str = "test_batch.bin";
pub const CIFAR_FOLDER: &str = "cifar-10-batches-bin";
pub const CIFAR_ARCHIVE: &str = "cifar-10-binary.tar.gz";

/// Records in each official CIFAR-10 batch file.
const CIFAR_PER_FILE: usize = 10_000;

/// CIFAR-10 from `cifar-10-batches-bin/` if present, else straight from the original archive
/// (checked against its official md5).
fn load_cifar(dir: &Path, official: bool) -> Result<Dataset> {
    let unpacked = dir.join(CIFAR_FOLDER);
    let mut files: Vec<(String, PathBuf, Vec<u8>)> = Vec::new();
    if unpacked.join(CIFAR_TEST).exists() {
        for name in CIFAR_TRAIN.iter().chain([&CIFAR_TEST]) {
            let path = unpacked.join(name);
            files.push((name.to_string(), path.clone(), read_file(&path)?));
        }
        if let Ok(meta) = std::fs::read_to_string(unpacked.join("batches.meta.txt")) {
            files.push(("batches.meta.txt".into(), unpacked.join("batches.meta.txt"), meta.into_bytes()));
        }
    } else {
        let archive = dir.join(CIFAR_ARCHIVE);
        if official {
            use md5::{Digest, Md5};
            let bytes = std::fs::read(&archive).map_err(|source| Error::DataRead { path: archive.clone(), source })?;
            let md5 = fetch::source(&DatasetName::Cifar10).files[0].md5;
            let digest = format!("{:x}", Md5::digest(&bytes));
            if digest != md5 {
                return Err(format_error(
                    &archive,
                    format!(
                        "has md5 {digest} but the official archive's is {md5}: an altered or incomplete copy; {}",
                        refetch_hint(dir)
                    ),
                ));
            }
        }
        files = read_cifar_archive(&archive)?;
    }
    let mut train = Split::default();
    let mut test = Split::default();
    let mut classes: Vec<String> = CIFAR_CLASSES.iter().map(|c| c.to_string()).collect();
    let mut seen = Vec::new();
    for (name, path, bytes) in &files {
        let split = if name == CIFAR_TEST {
            &mut test
        } else if CIFAR_TRAIN.contains(&name.as_str()) {
            &mut train
        } else {
            if name == "batches.meta.txt" {
                let names: Vec<String> = String::from_utf8_lossy(bytes)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect();
                if names.len() == 10 {
                    classes = names;
                }
            }
            continue;
        };
        let before = split.labels.len();
        cifar::parse_records(bytes, &mut split.images, &mut split.labels).map_err(|m| format_error(path, m))?;
        let count = split.labels.len() - before;
        if official && count != CIFAR_PER_FILE {
            return Err(format_error(
                path,
                format!(
                    "holds {count} records but each official CIFAR-10 batch file holds {CIFAR_PER_FILE}: an incomplete copy; {}",
                    refetch_hint(dir)
                ),
            ));
        }
        seen.push(name.as_str());
    }
    for name in CIFAR_TRAIN.iter().chain([&CIFAR_TEST]) {
        if !seen.contains(name) {
            return Err(format_error(dir, format!("{name} is missing from the CIFAR-10 files")));
        }
    }
    let shape = ImageShape { channels: 3, height: cifar::SIDE, width: cifar::SIDE };
    Ok(Dataset { name: DatasetName::Cifar10, shape, train, test, classes, files_key: String::new() })
}

/// The batch files inside the original `cifar-10-binary.tar.gz`, by file name.
fn read_cifar_archive(archive: &Path) -> Result<Vec<(String, PathBuf, Vec<u8>)>> {
    let file = std::fs::File::open(archive).map_err(|source| Error::DataRead { path: archive.into(), source })?;
    let corrupt = |e: std::io::Error| {
        format_error(archive, format!("corrupt or truncated archive: {e}; delete it to download it again"))
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let mut files = Vec::new();
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(String::from) else { continue };
        if name.ends_with(".bin") || name == "batches.meta.txt" {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(corrupt)?;
            files.push((name, archive.join(&path), bytes));
        }
    }
    Ok(files)
}

/// Reads `<dir>/<name>.gz`, or `<dir>/<name>` if only the uncompressed file is there.
fn read_present(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>)> {
    let gz = dir.join(format!("{name}.gz"));
    let path = if gz.exists() { gz } else { dir.join(name) };
    let bytes = read_file(&path)?;
    Ok((path, bytes))
}

/// Reads a file, gunzipping it when it starts with the gzip magic bytes.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    if path.is_dir() {
        return Err(format_error(path, "is a directory, expected a data file".into()));
    }
    let raw = std::fs::read(path).map_err(|source| Error::DataRead { path: path.into(), source })?;
    gunzip_if_needed(&raw).map_err(|m| format_error(path, m))
}

/// The content of a gzip stream, or the bytes themselves when they are not gzip.
pub fn gunzip_if_needed(raw: &[u8]) -> Result<Vec<u8>, String> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::with_capacity(raw.len() * 5);
    flate2::read::MultiGzDecoder::new(raw).read_to_end(&mut out).map_err(|e| {
        format!("corrupt or truncated gzip data ({e}); replace the file or delete it to download it again")
    })?;
    Ok(out)
}

fn format_error(path: &Path, message: String) -> Error {
    Error::DataFormat { path: path.to_path_buf(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn shared_data() -> PathBuf {
        super::test_data::root()
    }

    fn offline() -> FetchOptions {
        FetchOptions { offline: true, ..FetchOptions::default() }
    }

    /// Offline, and accepting the small fixtures below.
    fn small() -> FetchOptions {
        FetchOptions { allow_partial: true, ..offline() }
    }

    #[test]
    fn real_mnist_from_gz() {
        let data = load(DatasetName::Mnist, &shared_data(), &offline()).unwrap();
        assert_eq!(data.shape, ImageShape { channels: 1, height: 28, width: 28 });
        assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
        assert_eq!(data.train.images.len(), 60_000 * 784);
        assert_eq!(data.train.class_counts(), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
        assert_eq!(data.test.class_counts(), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
        assert_eq!(&data.train.labels[..5], &[5, 0, 4, 1, 9]);
        assert_eq!(&data.test.labels[..5], &[7, 2, 1, 0, 4]);
    }

    #[test]
    fn real_fashion_mnist_from_gz() {
        let data = load(DatasetName::FashionMnist, &shared_data(), &offline()).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
        assert_eq!(data.train.class_counts(), [6000; 10]);
        assert_eq!(data.test.class_counts(), [1000; 10]);
        assert_eq!(&data.train.labels[..3], &[9, 0, 0]);
        assert_eq!(data.classes[9], "Ankle boot");
    }

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// A small MNIST layout: uncompressed train files, gzipped test files.
    pub fn fake_mnist(root: &Path, train: usize, test: usize) {
        let dir = root.join("mnist");
        let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
        write(&dir.join("train-images-idx3-ubyte"), &idx::tests::images(train, 28, 28, |i| (i * 25) as u8));
        write(&dir.join("train-labels-idx1-ubyte"), &idx::tests::labels(&labels(train)));
        write(&dir.join("t10k-images-idx3-ubyte.gz"), &gz(&idx::tests::images(test, 28, 28, |i| i as u8)));
        write(&dir.join("t10k-labels-idx1-ubyte.gz"), &gz(&idx::tests::labels(&labels(test))));
    }

    #[test]
    fn mixed_plain_and_gz_files() {
        let root = tempfile::tempdir().unwrap();
        fake_mnist(root.path(), 30, 20);
        let data = load(DatasetName::Mnist, root.path(), &small()).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (30, 20));
    }

    #[test]
    fn corrupt_files_are_named_in_the_error() {
        let root = tempfile::tempdir().unwrap();
        fake_mnist(root.path(), 30, 20);
        let dir = root.path().join("mnist");
        let check = |needle: &str, file: &str| {
            let err = load(DatasetName::Mnist, root.path(), &small()).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(file), "{err}");
        };

        // Count mismatch between images and labels.
        write(&dir.join("train-labels-idx1-ubyte"), &idx::tests::labels(&[1; 29]));
        check("holds 29 labels but", "train-labels-idx1-ubyte");

        // Truncated gzip.
        write(&dir.join("train-labels-idx1-ubyte"), &idx::tests::labels(&[1; 30]));
        let whole = gz(&idx::tests::images(20, 28, 28, |_| 3));
        write(&dir.join("t10k-images-idx3-ubyte.gz"), &whole[..whole.len() / 2]);
        check("corrupt or truncated gzip", "t10k-images-idx3-ubyte.gz");

        // Wrong dimensions between splits.
        write(&dir.join("t10k-images-idx3-ubyte.gz"), &gz(&idx::tests::images(20, 14, 14, |_| 3)));
        check("train images are 28x28 but test images are 14x14", "mnist");

        // No images at all.
        write(&dir.join("t10k-images-idx3-ubyte.gz"), &gz(&idx::tests::images(0, 28, 28, |_| 3)));
        write(&dir.join("t10k-labels-idx1-ubyte.gz"), &gz(&idx::tests::labels(&[])));
        check("holds no images", "t10k-labels-idx1-ubyte.gz");

        // A directory where a file should be.
        std::fs::remove_file(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
        std::fs::create_dir(dir.join("t10k-images-idx3-ubyte")).unwrap();
        check("is a directory", "t10k-images-idx3-ubyte");
    }

    /// A CIFAR-10 layout of synthetic records, unpacked or as the original archive.
    pub fn fake_cifar(root: &Path, per_batch: usize, archive: bool) {
        let dir = root.join("cifar10");
        let mut files: Vec<(String, Vec<u8>)> =
            CIFAR_TRAIN.iter().map(|n| (n.to_string(), cifar::tests::records(per_batch))).collect();
        files.push((CIFAR_TEST.into(), cifar::tests::records(per_batch)));
        files.push(("batches.meta.txt".into(), CIFAR_CLASSES.join("\n").into_bytes()));
        if archive {
            let mut builder = tar::Builder::new(Vec::new());
            for (name, bytes) in &files {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder.append_data(&mut header, format!("{CIFAR_FOLDER}/{name}"), bytes.as_slice()).unwrap();
            }
            write(&dir.join(CIFAR_ARCHIVE), &gz(&builder.into_inner().unwrap()));
        } else {
            for (name, bytes) in &files {
                write(&dir.join(CIFAR_FOLDER).join(name), bytes);
            }
        }
    }

    #[test]
    fn cifar_unpacked_and_archived_load_the_same() {
        for archive in [false, true] {
            let root = tempfile::tempdir().unwrap();
            fake_cifar(root.path(), 7, archive);
            let data = load(DatasetName::Cifar10, root.path(), &small()).unwrap();
            assert_eq!((data.train.len(), data.test.len()), (35, 7), "archive: {archive}");
            assert_eq!(data.shape.pixels(), 3072);
            assert_eq!(data.classes[0], "airplane");
        }
    }

    #[test]
    fn cifar_partial_record_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        fake_cifar(root.path(), 3, false);
        let path = root.path().join("cifar10").join(CIFAR_FOLDER).join("data_batch_2.bin");
        write(&path, &cifar::tests::records(3)[..3 * cifar::RECORD - 5]);
        let err = load(DatasetName::Cifar10, root.path(), &small()).unwrap_err().to_string();
        assert!(err.contains("data_batch_2.bin") && err.contains("bytes left over"), "{err}");
    }

    #[test]
    fn a_built_in_copy_that_is_not_the_official_one_is_refused_unless_allowed() {
        let root = tempfile::tempdir().unwrap();
        fake_mnist(root.path(), 30, 20);
        let err = load(DatasetName::Mnist, root.path(), &offline()).unwrap_err().to_string();
        assert!(err.contains("train-images-idx3-ubyte: holds 30 records but the official file holds 60000"), "{err}");
        assert!(err.contains("delete") && err.contains(fetch::ALLOW_PARTIAL_ENV), "{err}");
        // The real files with one label changed: right count, wrong md5.
        let real = tempfile::tempdir().unwrap();
        let dir = real.path().join("mnist");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
            std::fs::copy(shared_data().join("mnist").join(name), dir.join(name)).unwrap();
        }
        let mut labels = read_file(&shared_data().join("mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
        labels[100] = (labels[100] + 1) % 10;
        write(&dir.join("t10k-labels-idx1-ubyte"), &labels);
        let err = load(DatasetName::Mnist, real.path(), &offline()).unwrap_err().to_string();
        assert!(
            err.contains("t10k-labels-idx1-ubyte: has md5") && err.contains("27ae3e4e09519cfbb04c329615203637"),
            "{err}"
        );
        // Twenty records per CIFAR-10 batch file, unpacked: refused naming the file.
        let cifar = tempfile::tempdir().unwrap();
        fake_cifar(cifar.path(), 20, false);
        let err = load(DatasetName::Cifar10, cifar.path(), &offline()).unwrap_err().to_string();
        assert!(
            err.contains("data_batch_1.bin: holds 20 records but each official CIFAR-10 batch file holds 10000"),
            "{err}"
        );
        assert!(load(DatasetName::Cifar10, cifar.path(), &small()).is_ok());
    }

    #[test]
    fn offline_cifar_names_both_layouts() {
        let empty = tempfile::tempdir().unwrap();
        let err = load(DatasetName::Cifar10, empty.path(), &offline()).unwrap_err().to_string();
        assert!(
            err.contains(CIFAR_ARCHIVE) && err.contains("cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin"),
            "{err}"
        );
    }
}

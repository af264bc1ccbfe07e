//! `dataset = "folder"`: a user's images laid out as torchvision's `ImageFolder` reads them,
//! `train/<class>/*` and `test/<class>/*` (classes: train's sorted sub-folder names). The folder
//! is decoded once into a cache file under the data root, keyed by its file list with sizes and
//! modification times; every later run, and every other trial of a sweep, reads that instead.

use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::decode::{self, DecodeError, Encoded};
use super::pixel_cache::{self, hex};
use super::{Dataset, image_file};
use crate::catalog::DatasetName;
use crate::error::{Error, Result};

/// Labels are bytes.
const MAX_CLASSES: usize = 256;
/// Bumped whenever the cache's layout or the decoding changes: old caches are then rebuilt.
const CACHE_VERSION: &str = "runner image-folder cache v1";

/// One image of the listing: where it is (relative to the folder), its class and what the
/// cache key holds of it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    relative: PathBuf,
    label: u8,
    size: u64,
    modified_ns: u128,
}

/// The folder's classes and images, in the order they become the splits.
#[derive(Debug)]
struct Listing {
    classes: Vec<String>,
    train: Vec<Entry>,
    test: Vec<Entry>,
}

/// Loads the image folder `folder`, resized to `image_size` (`[height, width]`; empty: the
/// images' own size), through its cache under `cache_dir`. Unless `write_cache` (a dry run writes
/// nothing), a missing cache is neither written nor its folder made.
pub fn load(folder: &Path, image_size: &[u32], cache_dir: &Path, write_cache: bool, quiet: bool) -> Result<Dataset> {
    let listing = list(folder)?;
    let key = cache_key(&listing, image_size);
    let started = Instant::now();
    // What a writer killed mid-write left (a cache is replaced whole, through a temp file).
    if write_cache && cache_dir.is_dir() {
        let _ = crate::fs::remove_dead_temp_files(cache_dir, false);
    }
    let cache = cache_path(folder, image_size, cache_dir);
    if let Some(mut dataset) = pixel_cache::read(&cache, &key, DatasetName::Folder) {
        dataset.files_key = hex(&key);
        if !quiet {
            eprintln!(
                "{}: {} images read from its cache {} in {:.2} s",
                folder.display(),
                dataset.train.len() + dataset.test.len(),
                cache.display(),
                started.elapsed().as_secs_f64()
            );
        }
        return Ok(dataset);
    }
    let count = listing.train.len() + listing.test.len();
    if !quiet {
        eprintln!("{}: decoding {count} images (once: later runs read them from a cache)", folder.display());
    }
    let mut dataset = decode(folder, &listing, image_size)?;
    dataset.files_key = hex(&key);
    if !write_cache {
        return Ok(dataset);
    }
    pixel_cache::store_and_say(&cache, &key, &dataset, &folder.display().to_string(), started, quiet);
    Ok(dataset)
}

fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::DataFormat { path: path.to_path_buf(), message: message.into() }
}

const LAYOUT: &str =
    "lay it out as train/<class>/*.png and test/<class>/*.png (PNG, JPEG, BMP or GIF; README: Image folders)";

/// The folder's classes and images; each refusal names the file or folder at fault.
fn list(folder: &Path) -> Result<Listing> {
    if !folder.is_dir() {
        return Err(bad(folder, format!("is not a folder; `folder` must name one holding train/ and test/: {LAYOUT}")));
    }
    let split_dir = |name: &str| -> Result<PathBuf> {
        let dir = folder.join(name);
        if !dir.is_dir() {
            return Err(bad(folder, format!("has no {name}/ folder: {LAYOUT}")));
        }
        Ok(dir)
    };
    let (train_dir, test_dir) = (split_dir("train")?, split_dir("test")?);
    let classes = sub_folders(&train_dir)?;
    if classes.is_empty() {
        return Err(bad(&train_dir, format!("holds no class folders: {LAYOUT}")));
    }
    if classes.len() > MAX_CLASSES {
        return Err(bad(
            &train_dir,
            format!("holds {} class folders; at most {MAX_CLASSES} are supported", classes.len()),
        ));
    }
    let mut train = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        train.push(images_of(folder, &Path::new("train").join(class), label as u8)?);
    }
    let mut test = Vec::new();
    let test_classes = sub_folders(&test_dir)?;
    if test_classes.is_empty() {
        return Err(bad(&test_dir, format!("holds no class folders: {LAYOUT}")));
    }
    for class in &test_classes {
        let Some(label) = classes.iter().position(|c| c == class) else {
            return Err(bad(
                &test_dir.join(class),
                format!("is a class train/ lacks; the classes are train/'s sub-folders: {}", classes.join(", ")),
            ));
        };
        test.push(images_of(folder, &Path::new("test").join(class), label as u8)?);
    }
    Ok(Listing { classes, train: interleave(train), test: interleave(test) })
}

/// One image of each class in turn (the first of each, then the second, ...), so that the first
/// N images (`limit_train`, `limit_test`) hold every class, as a built-in set's do.
fn interleave(classes: Vec<Vec<Entry>>) -> Vec<Entry> {
    let longest = classes.iter().map(Vec::len).max().unwrap_or(0);
    let mut iters: Vec<_> = classes.into_iter().map(Vec::into_iter).collect();
    (0..longest).flat_map(|_| iters.iter_mut().filter_map(Iterator::next).collect::<Vec<_>>()).collect()
}

/// The names of the folders in `dir` (hidden ones left out), sorted.
fn sub_folders(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in read_dir(dir)? {
        if !entry.path().is_dir() || entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        // A class name is text in every table, report and export: it must be one.
        let name = entry.file_name().into_string().map_err(|_| {
            bad(&entry.path(), "is a class folder whose name is not valid UTF-8 text; rename it (class names are shown in reports and exports)")
        })?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let read = |source| Error::DataRead { path: dir.to_path_buf(), source };
    std::fs::read_dir(dir).map_err(read)?.collect::<std::io::Result<Vec<_>>>().map_err(read)
}

/// The images under `folder/class_dir` (sub-folders included, in sorted order, as `ImageFolder`
/// walks them); other files are ignored, and no image at all is an error.
fn images_of(folder: &Path, class_dir: &Path, label: u8) -> Result<Vec<Entry>> {
    let mut pending = vec![class_dir.to_path_buf()];
    let mut found: Vec<PathBuf> = Vec::new();
    // Symlinked folders are followed, each real folder once (a link to a parent would loop).
    let mut seen = std::collections::HashSet::new();
    while let Some(relative_dir) = pending.pop() {
        if !seen
            .insert(std::fs::canonicalize(folder.join(&relative_dir)).unwrap_or_else(|_| folder.join(&relative_dir)))
        {
            continue;
        }
        for entry in read_dir(&folder.join(&relative_dir))? {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let relative = relative_dir.join(&name);
            let path = folder.join(&relative);
            // The entry's own type needs no system call; only a symlink is followed to see.
            let is_dir = match entry.file_type() {
                Ok(kind) if !kind.is_symlink() => kind.is_dir(),
                _ => path.is_dir(),
            };
            if is_dir {
                pending.push(relative);
            } else if image_file::is_image(&path) {
                found.push(relative);
            }
        }
    }
    found.sort_by(|a, b| (a.parent(), a.file_name()).cmp(&(b.parent(), b.file_name())));
    // One stat per image, on every core: listing is most of a cached start.
    let out: Vec<Entry> = found
        .into_par_iter()
        .map(|relative| {
            let path = folder.join(&relative);
            let meta = std::fs::metadata(&path).map_err(|source| Error::DataRead { path: path.clone(), source })?;
            let modified_ns =
                meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
            Ok(Entry { relative, label, size: meta.len(), modified_ns })
        })
        .collect::<Result<_>>()?;
    if out.is_empty() {
        return Err(bad(
            &folder.join(class_dir),
            "holds no images (PNG, JPEG, BMP or GIF); add some or remove the folder",
        ));
    }
    Ok(out)
}

/// What the cache must agree with: the file list with sizes and times, the size asked for and
/// the decoding's version.
fn cache_key(listing: &Listing, image_size: &[u32]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(format!("{CACHE_VERSION}\nimage_size {image_size:?}\nclasses {:?}\n", listing.classes));
    for (split, entries) in [("train", &listing.train), ("test", &listing.test)] {
        for e in entries {
            hash.update(format!("{split}\t{}\t{}\t{}\t{}\n", e.label, e.relative.display(), e.size, e.modified_ns));
        }
    }
    hash.finalize().into()
}

/// One cache file per folder and size: a changed folder replaces its own cache.
fn cache_path(folder: &Path, image_size: &[u32], cache_dir: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    let digest = Sha256::digest(format!("{}\n{image_size:?}", absolute.display()));
    let stem = absolute.file_name().map_or("folder".into(), |n| n.to_string_lossy().into_owned());
    let stem: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect();
    cache_dir.join(format!("{stem}-{}.images", hex(&digest[..8])))
}

/// Every image decoded into the shape the folder's images agree on (or `image_size`).
fn decode(folder: &Path, listing: &Listing, image_size: &[u32]) -> Result<Dataset> {
    let entries: Vec<&Entry> = listing.train.iter().chain(&listing.test).collect();
    let files = Files { folder, entries: &entries };
    let (shape, decoded) = decode::decode_all(&files, image_size).map_err(|e| match e {
        DecodeError::Image { index, message } => {
            Error::BadImage { path: folder.join(&entries[index].relative), message: format!("{message}; fix or remove it") }
        }
        DecodeError::SizesDiffer { first: (a, (aw, ah)), other: (b, (bw, bh)) } => bad(
            folder,
            format!(
                "its images differ in size: {} is {aw}x{ah}, {} is {bw}x{bh} (width x height); set image_size = [height, width] to resize them all",
                entries[a].relative.display(),
                entries[b].relative.display(),
            ),
        ),
        DecodeError::Interrupted => {
            Error::StoppedBeforeStart { doing: format!("decoding the images of {}", folder.display()) }
        }
    })?;
    let labels: Vec<u8> = entries.iter().map(|e| e.label).collect();
    let (train, test) = decode::into_splits(shape, decoded, &labels, listing.train.len());
    Ok(Dataset {
        name: DatasetName::Folder,
        shape,
        train,
        test,
        classes: listing.classes.clone(),
        files_key: String::new(),
    })
}

/// The folder's images as files to decode.
struct Files<'a> {
    folder: &'a Path,
    entries: &'a [&'a Entry],
}

impl Encoded for Files<'_> {
    fn count(&self) -> usize {
        self.entries.len()
    }

    fn dimensions(&self, index: usize) -> std::result::Result<(u32, u32), String> {
        image_file::dimensions(&self.folder.join(&self.entries[index].relative))
    }

    fn decode(&self, index: usize) -> std::result::Result<image::DynamicImage, String> {
        image_file::decode(&self.folder.join(&self.entries[index].relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;

    /// A `w`x`h` image whose pixels depend on `seed`: gray, or colored.
    fn image(path: &Path, w: u32, h: u32, seed: u8, gray: bool) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let value = |x: u32, y: u32| (x * 7 + y * 13 + u32::from(seed) * 29) as u8;
        let rgb = match gray {
            true => image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(w, h, |x, y| image::Luma([value(x, y)]))),
            false => image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([value(x, y), seed, 255 - value(x, y)])
            })),
        };
        // GIF holds RGBA only; its gray palette keeps the set gray.
        if path.extension().is_some_and(|e| e == "gif") {
            image::DynamicImage::ImageRgba8(rgb.to_rgba8()).save(path).unwrap();
        } else {
            rgb.save(path).unwrap();
        }
    }

    /// train/{cat,dog}/ with 3 and 2 images, test/{cat,dog}/ with 1 each, plus files to ignore.
    fn folder(root: &Path, gray: bool) -> PathBuf {
        let dir = root.join("pets");
        for (i, name) in
            ["train/dog/a.png", "train/cat/b.png", "train/cat/a.png", "train/dog/sub/c.bmp", "train/cat/c.JPG"]
                .iter()
                .enumerate()
        {
            image(&dir.join(name), 6, 4, i as u8, gray);
        }
        image(&dir.join("test/cat/x.gif"), 6, 4, 9, gray);
        image(&dir.join("test/dog/y.png"), 6, 4, 8, gray);
        std::fs::write(dir.join("train/cat/notes.txt"), "not an image").unwrap();
        std::fs::write(dir.join("train/cat/.hidden.png"), "ignored: hidden").unwrap();
        // A link back up the tree is followed once, not forever.
        std::os::unix::fs::symlink(dir.join("train/dog"), dir.join("train/dog/sub/loop")).unwrap();
        dir
    }

    fn load_quiet(folder: &Path, size: &[u32], cache: &Path) -> Result<Dataset> {
        load(folder, size, cache, true, true)
    }

    #[test]
    fn classes_are_sorted_sub_folders_and_images_keep_their_order_and_pixels() {
        let root = tempfile::tempdir().unwrap();
        let dir = folder(root.path(), true);
        let data = load_quiet(&dir, &[], &root.path().join("cache")).unwrap();
        assert_eq!(data.classes, ["cat", "dog"]);
        assert_eq!(data.shape, ImageShape { channels: 1, height: 4, width: 6 });
        assert_eq!((data.train.len(), data.test.len()), (5, 2));
        // cat's a.png, b.png, c.JPG and dog's a.png, sub/c.bmp, one class in turn.
        assert_eq!(data.train.labels, [0, 1, 0, 1, 0]);
        // cat/a.png was written with seed 2; PNG and BMP are lossless.
        let expected: Vec<u8> = (0..4).flat_map(|y| (0..6).map(move |x| (x * 7 + y * 13 + 2 * 29) as u8)).collect();
        assert_eq!(&data.train.images[..24], expected.as_slice());
        let dog_sub: Vec<u8> = (0..4).flat_map(|y| (0..6).map(move |x| (x * 7 + y * 13 + 3 * 29) as u8)).collect();
        assert_eq!(&data.train.images[3 * 24..4 * 24], dog_sub.as_slice());
        assert_eq!(data.test.labels, [0, 1]);
    }

    #[test]
    fn one_colored_image_makes_the_set_rgb_and_image_size_resizes() {
        let root = tempfile::tempdir().unwrap();
        let dir = folder(root.path(), true);
        image(&dir.join("train/dog/color.png"), 6, 4, 5, false);
        let data = load_quiet(&dir, &[], &root.path().join("cache")).unwrap();
        assert_eq!(data.shape.channels, 3);
        // A gray image in an RGB set has three equal planes.
        let plane = 24;
        let first = &data.train.images[..3 * plane];
        assert_eq!(&first[..plane], &first[plane..2 * plane]);
        let resized = load_quiet(&dir, &[8, 10], &root.path().join("cache")).unwrap();
        assert_eq!(resized.shape, ImageShape { channels: 3, height: 8, width: 10 });
        assert_eq!(resized.train.images.len(), 6 * 3 * 80);
    }

    #[test]
    fn the_cache_is_used_while_the_files_are_the_same_and_rebuilt_when_they_change() {
        let root = tempfile::tempdir().unwrap();
        let (dir, cache) = (folder(root.path(), false), root.path().join("cache"));
        let first = load_quiet(&dir, &[], &cache).unwrap();
        let files: Vec<PathBuf> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].file_name().unwrap().to_str().unwrap().starts_with("pets-"), "{files:?}");
        // The cache is read, not the images: a cache with other pixels under the same key shows it.
        let mut bytes = std::fs::read(&files[0]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&files[0], &bytes).unwrap();
        let cached = load_quiet(&dir, &[], &cache).unwrap();
        assert_ne!(cached.test.images, first.test.images, "read from the cache");
        assert_eq!(cached.files_key, first.files_key);
        // A changed file changes the key: decoded again, and the cache replaced.
        image(&dir.join("test/dog/y.png"), 6, 4, 7, false);
        let changed = load_quiet(&dir, &[], &cache).unwrap();
        assert_ne!(changed.files_key, first.files_key);
        assert_eq!(&changed.test.images[..72], &first.test.images[..72], "test/cat/x.gif is the same");
        assert_ne!(&changed.test.images[72..], &first.test.images[72..]);
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1, "one cache per folder");
        // A truncated cache is decoded again, not trusted.
        let path = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert_eq!(load_quiet(&dir, &[], &cache).unwrap().test.images, changed.test.images);
    }

    #[test]
    fn a_class_folder_whose_name_is_not_utf8_is_refused_by_name() {
        use std::os::unix::ffi::OsStrExt;
        let root = tempfile::tempdir().unwrap();
        let dir = folder(root.path(), true);
        let odd = std::ffi::OsStr::from_bytes(b"caf\xe9");
        std::fs::create_dir(dir.join("train").join(odd)).unwrap();
        let err = load_quiet(&dir, &[], &root.path().join("cache")).unwrap_err().to_string();
        assert!(err.contains("caf\u{fffd}: is a class folder whose name is not valid UTF-8"), "{err}");
    }

    #[test]
    fn bad_folders_are_refused_naming_the_file_or_folder() {
        let root = tempfile::tempdir().unwrap();
        let cache = root.path().join("cache");
        let refused = |dir: &Path, size: &[u32], needles: &[&str]| {
            let err = load_quiet(dir, size, &cache).unwrap_err().to_string();
            for needle in needles {
                assert!(err.contains(needle), "{needle:?} not in {err}");
            }
        };
        refused(&root.path().join("nowhere"), &[], &["nowhere", "is not a folder"]);
        let dir = folder(root.path(), true);

        std::fs::write(dir.join("train/cat/broken.png"), "not a png").unwrap();
        refused(&dir, &[], &["train/cat/broken.png", "not a readable PNG, JPEG, BMP or GIF image"]);
        std::fs::remove_file(dir.join("train/cat/broken.png")).unwrap();

        image(&dir.join("train/cat/big.png"), 7, 4, 1, true);
        refused(
            &dir,
            &[],
            &["images differ in size", "train/cat/a.png is 6x4", "train/cat/big.png is 7x4", "image_size"],
        );
        assert!(load_quiet(&dir, &[4, 6], &cache).is_ok(), "image_size resizes them all");
        std::fs::remove_file(dir.join("train/cat/big.png")).unwrap();

        std::fs::create_dir_all(dir.join("train/empty")).unwrap();
        std::fs::write(dir.join("train/empty/readme.txt"), "no images here").unwrap();
        refused(&dir, &[], &["train/empty", "holds no images"]);
        std::fs::remove_dir_all(dir.join("train/empty")).unwrap();

        image(&dir.join("test/bird/z.png"), 6, 4, 1, true);
        refused(&dir, &[], &["test/bird", "a class train/ lacks", "cat, dog"]);
        std::fs::remove_dir_all(dir.join("test/bird")).unwrap();

        std::fs::create_dir_all(dir.join("test/dog-empty")).unwrap();
        std::fs::remove_dir_all(dir.join("test")).unwrap();
        refused(&dir, &[], &["pets", "has no test/ folder", "train/<class>"]);

        let bare = root.path().join("bare");
        std::fs::create_dir_all(bare.join("train")).unwrap();
        std::fs::create_dir_all(bare.join("test")).unwrap();
        refused(&bare, &[], &["bare/train", "holds no class folders"]);
    }
}

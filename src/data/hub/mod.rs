//! `dataset = "hf:owner/name"`: an image-classification data set from the Hugging Face Hub,
//! stored as Parquet by the `datasets` library. The revision is resolved to a commit, the files of
//! the config's train and test splits are downloaded and verified into the cache under the data
//! root (`hf/{owner}/{name}/`), decoded once into the same pixel cache image folders use, and
//! read from there on every later start (offline too).
//!
//! Cache layout, under `{data_dir}/hf/{owner}/{name}/`: `refs/{revision}` (the commit it pointed
//! at), `listings/{commit}.json` (the repo's files at that commit), `files/{commit}/{path}` (each
//! file, only ever renamed into place once its sha256 matched) and `pixels/{key}.images`.

mod client;
#[doc(hidden)]
pub mod fixture;
mod layout;
mod table;
#[doc(hidden)]
pub mod test_server;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use client::Trouble;
pub use client::{Client, RepoFile};
use layout::Chosen;
use table::{Columns, Labels};

use super::decode::{self, DecodeError, Encoded};
use super::pixel_cache::{self, hex};
use super::{Dataset, FetchOptions};
use crate::catalog::{DatasetName, HubRepo};
use crate::error::{Error, Result};

/// Where Hub data sets are cached, under the data root.
pub const HUB_DIR: &str = "hf";
/// Bumped whenever the decoding or the cache's layout changes.
const CACHE_VERSION: &str = "runner hub cache v1";
/// The branch where the Hub keeps its own Parquet conversion of every data set.
const PARQUET_BRANCH: &str = "refs/convert/parquet";
/// Labels are bytes.
const MAX_CLASSES: usize = 256;

/// What a spec asks of the Hub.
#[derive(Debug, Clone, Copy)]
pub struct HubRequest<'a> {
    pub repo: &'a HubRepo,
    pub revision: &'a str,
    pub config: &'a str,
    pub image_column: &'a str,
    pub label_column: &'a str,
    pub image_size: &'a [u32],
}

impl<'a> HubRequest<'a> {
    pub fn of(spec: &'a crate::spec::Spec) -> Option<HubRequest<'a>> {
        Some(HubRequest {
            repo: spec.dataset.hub()?,
            revision: &spec.hf_revision,
            config: &spec.hf_config,
            image_column: &spec.image_column,
            label_column: &spec.label_column,
            image_size: &spec.image_size,
        })
    }
}

/// What a run records of a Hub data set: enough to fetch exactly the same files again.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HubRecord {
    pub repo: String,
    pub revision: String,
    pub commit: String,
    pub config: String,
    pub test_split: String,
    pub image_column: String,
    pub label_column: String,
    /// Each file read, with its size and sha256.
    pub files: Vec<RepoFile>,
    /// Where the class names came from: the label column's ClassLabel names, or (a plain label
    /// column) its sorted distinct values. Unknown until the set was decoded once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes_from: Option<String>,
}

/// What [`HubRecord::classes_from`] says for a ClassLabel column, and for a plain one.
pub const CLASS_LABEL_NAMES: &str = "the ClassLabel names";
pub const SORTED_VALUES: &str = "the sorted distinct values of the label column";

/// The columns a decoded set was read from, kept beside its pixel cache.
#[derive(serde::Serialize, serde::Deserialize)]
struct ColumnsRecord {
    image_column: String,
    label_column: String,
    classes_from: String,
}

fn columns_path(cache: &Path) -> PathBuf {
    cache.with_extension("columns.json")
}

fn repo_dir(data_dir: &Path, repo: &HubRepo) -> PathBuf {
    // The id was checked against the Hub's rules: two safe path components.
    data_dir.join(HUB_DIR).join(repo.id())
}

fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Loads the data set `request` names; downloads what the cache lacks unless `fetch.offline`.
/// Unless `write` (a dry run), nothing is written: no download, no cache.
pub fn load(request: &HubRequest, data_dir: &Path, fetch: &FetchOptions, write: bool) -> Result<Dataset> {
    let client = if fetch.offline { None } else { Some(Client::from_env(fetch.quiet)?) };
    load_with(request, data_dir, client, fetch.quiet, write)
}

/// [`load`] through `client` (`None`: offline).
pub fn load_with(
    request: &HubRequest,
    data_dir: &Path,
    client: Option<Client>,
    quiet: bool,
    write: bool,
) -> Result<Dataset> {
    let fetch = FetchOptions { offline: client.is_none(), quiet, ..FetchOptions::default() };
    let started = Instant::now();
    let repo = request.repo;
    let dir = repo_dir(data_dir, repo);
    // What the cache learns (the commit a revision names, the files at it), written once the
    // repo is known to be a data set the runner reads.
    let mut learned = Vec::new();
    let mut at = |revision: &str| listing(client.as_ref(), &dir, repo, revision, &mut learned, fetch.quiet);
    let (record, chosen) = resolve(request, &mut at)?;
    let commit = record.commit.clone();
    if record.revision != request.revision && !fetch.quiet {
        eprintln!(
            "{}: no Parquet files on main; reading the Hub's Parquet conversion ({PARQUET_BRANCH})",
            repo.spec_name()
        );
    }
    // One process at a time fills a repo's cache: another waits, then finds it filled.
    let _lock = match write {
        true => {
            std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
            Some(DirLock::take(&dir.join(".lock"))?)
        }
        false => None,
    };
    if write {
        for (path, bytes) in &learned {
            write_file(path, bytes)?;
        }
    }
    let label = format!("{} @ {} ({})", repo.spec_name(), &commit[..12.min(commit.len())], chosen.config);
    if chosen.test_split != "test" && !fetch.quiet {
        eprintln!("{label}: no test split; testing on its {} split", chosen.test_split);
    }
    let (key, cache) = pixel_cache_of(&dir, &record, request.image_size);
    let name = DatasetName::Hub(repo.clone());
    if let Some(mut dataset) = pixel_cache::read(&cache, &key, name.clone()) {
        dataset.files_key = hex(&key);
        if !fetch.quiet {
            eprintln!(
                "{label}: {} images read from its cache in {:.2} s",
                dataset.train.len() + dataset.test.len(),
                started.elapsed().as_secs_f64()
            );
        }
        return Ok(dataset);
    }
    let paths = fetch_files(client.as_ref(), &dir, repo, &commit, &chosen, write)?;
    let (mut dataset, columns) = decode_files(&paths, &chosen, request, &label, name, fetch.quiet)?;
    dataset.files_key = hex(&key);
    if write {
        let _ = crate::fs::remove_dead_temp_files(&dir.join("pixels"), false);
        let record = ColumnsRecord {
            image_column: columns.image.clone(),
            label_column: columns.label.clone(),
            classes_from: if columns.names.is_some() { CLASS_LABEL_NAMES } else { SORTED_VALUES }.into(),
        };
        let _ = write_file(&columns_path(&cache), &serde_json::to_vec_pretty(&record).expect("the record serializes"));
        pixel_cache::store_and_say(&cache, &key, &dataset, &label, started, fetch.quiet);
    }
    Ok(dataset)
}

/// A revision's commit and the repo's files at it.
type Listing = (String, Vec<RepoFile>);

/// What `request` reads at the commit its revision names (`at` lists a revision's files), and
/// the splits chosen: `main` without Parquet falls back to the Hub's conversion branch.
fn resolve(request: &HubRequest, at: &mut dyn FnMut(&str) -> Result<Listing>) -> Result<(HubRecord, Chosen)> {
    let (mut revision, (mut commit, mut files)) = (request.revision, at(request.revision)?);
    if layout::layout(&files).is_empty() && request.revision == crate::spec::DEFAULT_HF_REVISION {
        revision = PARQUET_BRANCH;
        (commit, files) = at(PARQUET_BRANCH)?;
    }
    let chosen =
        layout::choose(&layout::layout(&files), request.config, request.repo.spec_name()).map_err(Error::Hub)?;
    let record = HubRecord {
        repo: request.repo.id().to_string(),
        revision: revision.to_string(),
        commit,
        config: chosen.config.clone(),
        test_split: chosen.test_split.clone(),
        image_column: request.image_column.to_string(),
        label_column: request.label_column.to_string(),
        files: chosen.train.iter().chain(&chosen.test).cloned().collect(),
        classes_from: None,
    };
    Ok((record, chosen))
}

/// The pixel cache's key and file for `record` at `image_size`.
fn pixel_cache_of(dir: &Path, record: &HubRecord, image_size: &[u32]) -> ([u8; 32], PathBuf) {
    let key = cache_key(record, image_size);
    (key, dir.join("pixels").join(format!("{}.images", hex(&key[..16]))))
}

/// The record of what `request` reads (for the manifest), from the cache alone.
pub fn cached_record(request: &HubRequest, data_dir: &Path) -> Option<HubRecord> {
    let dir = repo_dir(data_dir, request.repo);
    let mut at = |revision: &str| -> Result<Listing> {
        let missing = || Error::Hub(format!("{revision} is not in the cache"));
        let commit = match is_commit(revision) {
            true => revision.to_string(),
            false => std::fs::read_to_string(ref_path(&dir, revision)).map_err(|_| missing())?.trim().to_string(),
        };
        let bytes = std::fs::read(listing_path(&dir, &commit)).map_err(|_| missing())?;
        Ok((commit, serde_json::from_slice(&bytes).map_err(|_| missing())?))
    };
    let (mut record, _) = resolve(request, &mut at).ok()?;
    // The columns the decoding chose, recorded beside its pixel cache.
    let (_, cache) = pixel_cache_of(&dir, &record, request.image_size);
    if let Some(columns) =
        std::fs::read(columns_path(&cache)).ok().and_then(|bytes| serde_json::from_slice::<ColumnsRecord>(&bytes).ok())
    {
        record.image_column = columns.image_column;
        record.label_column = columns.label_column;
        record.classes_from = Some(columns.classes_from);
    }
    Some(record)
}

fn ref_path(dir: &Path, revision: &str) -> PathBuf {
    dir.join("refs").join(revision.replace('/', "%2F"))
}

fn listing_path(dir: &Path, commit: &str) -> PathBuf {
    dir.join("listings").join(format!("{commit}.json"))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    crate::fs::write_atomically(path, bytes).map_err(Error::io(path))
}

/// The commit `revision` names and the repo's files at it: from the Hub (what to record in the
/// cache is added to `learned`), or from the cache when offline or when the Hub cannot be reached.
fn listing(
    client: Option<&Client>,
    dir: &Path,
    repo: &HubRepo,
    revision: &str,
    learned: &mut Vec<(PathBuf, Vec<u8>)>,
    quiet: bool,
) -> Result<Listing> {
    let cached_ref = || std::fs::read_to_string(ref_path(dir, revision)).ok().map(|c| c.trim().to_string());
    let offline_missing = |what: String| {
        Error::Hub(format!(
            "{} is not in the cache and --offline forbids downloading: {what} is missing.\n  Run once without --offline to fetch it into {}",
            repo.spec_name(),
            dir.display()
        ))
    };
    let commit = match client {
        _ if is_commit(revision) => revision.to_ascii_lowercase(),
        None => cached_ref().filter(|c| is_commit(c)).ok_or_else(|| {
            offline_missing(format!("the commit of revision \"{revision}\" ({})", ref_path(dir, revision).display()))
        })?,
        Some(client) => match client.commit(repo, revision) {
            Ok(commit) => {
                learned.push((ref_path(dir, revision), commit.as_bytes().to_vec()));
                commit
            }
            Err(Trouble::Unreachable(why)) if cached_ref().is_some_and(|c| is_commit(&c)) => {
                let commit = cached_ref().expect("checked");
                if !quiet {
                    eprintln!(
                        "warning: cannot reach the Hub ({why}); using the cached {} at {}",
                        repo.spec_name(),
                        &commit[..12]
                    );
                }
                commit
            }
            Err(trouble) => return Err(trouble.into_error(client.endpoint())),
        },
    };
    let path = listing_path(dir, &commit);
    if let Some(files) = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Vec<RepoFile>>(&b).ok()) {
        return Ok((commit, files));
    }
    let Some(client) = client else {
        return Err(offline_missing(format!("the list of its files at commit {commit} ({})", path.display())));
    };
    let files = client.files(repo, &commit).map_err(|t| t.into_error(client.endpoint()))?;
    learned.push((path, serde_json::to_vec_pretty(&files).expect("the listing serializes")));
    Ok((commit, files))
}

/// `files/{commit}/{path}` for a path the Hub listed; a path that could lead elsewhere (`..`, an
/// absolute path, an empty or hidden-dot component) is refused.
fn file_path(dir: &Path, commit: &str, path: &str, repo: &HubRepo) -> Result<PathBuf> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(Error::Hub(format!(
            "{}: the Hub listed a file path {path:?} that would lead outside the cache; refused",
            repo.spec_name()
        )));
    }
    let base = dir.join("files").join(commit);
    let full = base.join(path);
    // No component may be a symlink (one planted in the cache would lead out of it).
    let mut walk = dir.to_path_buf();
    for part in full.strip_prefix(dir).expect("under dir").components() {
        walk.push(part);
        if walk.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::Hub(format!("{}: is a symlink inside the Hub cache; remove it", walk.display())));
        }
    }
    Ok(full)
}

/// The chosen files, downloaded into the cache where missing or damaged. Returns their paths,
/// train's first.
fn fetch_files(
    client: Option<&Client>,
    dir: &Path,
    repo: &HubRepo,
    commit: &str,
    chosen: &Chosen,
    write: bool,
) -> Result<Vec<PathBuf>> {
    let files: Vec<&RepoFile> = chosen.train.iter().chain(&chosen.test).collect();
    let mut paths = Vec::new();
    for file in &files {
        paths.push(file_path(dir, commit, &file.path, repo)?);
    }
    let missing = |paths: &[PathBuf]| -> Vec<usize> {
        (0..files.len()).filter(|&i| std::fs::metadata(&paths[i]).map_or(true, |m| m.len() != files[i].size)).collect()
    };
    if missing(&paths).is_empty() {
        return Ok(paths);
    }
    let Some(client) = client.filter(|_| write) else {
        let list: Vec<String> = missing(&paths).iter().map(|&i| format!("    {}", paths[i].display())).collect();
        return Err(Error::Hub(format!(
            "{} is not in the cache and {}: missing\n{}\n  Run once without --offline to fetch them",
            repo.spec_name(),
            if write { "--offline forbids downloading" } else { "a dry run downloads nothing" },
            list.join("\n")
        )));
    };
    for i in missing(&paths) {
        let dest = &paths[i];
        std::fs::create_dir_all(dest.parent().expect("a file has a folder")).map_err(Error::io(dest))?;
        let _ = std::fs::remove_file(dest);
        // A corrupt transfer is fetched once more before giving up.
        let mut result = client.download(repo, commit, files[i], dest);
        if let Err(Trouble::Refused(Error::Hub(why))) = &result
            && why.contains("arrived corrupt")
        {
            eprintln!("warning: {why}; fetching it again");
            result = client.download(repo, commit, files[i], dest);
        }
        result.map_err(|t| t.into_error(client.endpoint()))?;
    }
    Ok(paths)
}

/// An exclusive `flock` on a file, released when dropped (or when the process dies).
struct DirLock {
    _held: std::fs::File,
}

impl DirLock {
    fn take(path: &Path) -> Result<DirLock> {
        use std::os::fd::AsRawFd;
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(Error::io(path))?;
        // SAFETY: flock on a file descriptor this struct owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(Error::io(path)(std::io::Error::last_os_error()));
        }
        Ok(DirLock { _held: file })
    }
}

/// What the pixel cache must agree with: the files (by sha256), the columns, the size asked
/// for and the decoding's version.
fn cache_key(record: &HubRecord, image_size: &[u32]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(format!(
        "{CACHE_VERSION}\n{}\n{}\n{}\n{}\n{}\n{}\nimage_size {image_size:?}\n",
        record.repo, record.commit, record.config, record.test_split, record.image_column, record.label_column
    ));
    for file in &record.files {
        hash.update(format!("{}\t{}\t{:?}\n", file.path, file.size, file.sha256));
    }
    hash.finalize().into()
}

/// The encoded images of every file, train's first.
struct Images {
    bytes: Vec<Vec<u8>>,
}

/// The largest side and decoded size an image in a Parquet file may have: a training image is
/// far smaller, and a decompression bomb (a few bytes claiming a huge image) is refused before
/// anything is allocated.
const MAX_SIDE: u32 = 8192;
const MAX_DECODED: u64 = 256 << 20;

fn reader(bytes: &[u8]) -> Result<image::ImageReader<Cursor<&[u8]>>, String> {
    let mut reader =
        image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| format!("cannot read: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODED);
    reader.limits(limits);
    Ok(reader)
}

impl Encoded for Images {
    fn count(&self) -> usize {
        self.bytes.len()
    }

    fn dimensions(&self, index: usize) -> std::result::Result<(u32, u32), String> {
        use image::ImageDecoder;
        let decoder = reader(&self.bytes[index])?.into_decoder().map_err(|e| format!("not a readable image: {e}"))?;
        Ok(decoder.dimensions())
    }

    fn decode(&self, index: usize) -> std::result::Result<image::DynamicImage, String> {
        reader(&self.bytes[index])?.decode().map_err(|e| format!("not a readable image: {e}"))
    }
}

/// Reads and decodes the files at `paths` (checking each against the listing's sha256 first).
fn decode_files(
    paths: &[PathBuf],
    chosen: &Chosen,
    request: &HubRequest,
    label: &str,
    name: DatasetName,
    quiet: bool,
) -> Result<(Dataset, Columns)> {
    let files: Vec<&RepoFile> = chosen.train.iter().chain(&chosen.test).collect();
    let repo = request.repo.spec_name();
    let in_file = |i: usize, message: String| {
        Error::Hub(format!("{repo}: {} ({}): {message}", files[i].path, paths[i].display()))
    };
    for (i, path) in paths.iter().enumerate() {
        if let Some(expected) = &files[i].sha256 {
            let bytes = std::fs::read(path).map_err(Error::io(path))?;
            let actual = format!("{:x}", Sha256::digest(&bytes));
            if &actual != expected {
                let _ = std::fs::remove_file(path);
                return Err(in_file(
                    i,
                    format!(
                        "sha256 {actual}, the repo's listing gives {expected}: damaged in the cache; removed, run again to fetch it"
                    ),
                ));
            }
        }
    }
    let columns = table::schema(&paths[0])
        .map_err(|m| in_file(0, m))?
        .columns(request.image_column, request.label_column)
        .map_err(|m| in_file(0, m))?;
    // Per file: its rows; (file, row) of every image, for messages.
    let mut bytes = Vec::new();
    let mut labels: Vec<Labels> = Vec::new();
    let mut origin: Vec<(usize, usize)> = Vec::new();
    let mut train_len = 0;
    for (i, path) in paths.iter().enumerate() {
        let rows = table::read(path, &columns).map_err(|m| in_file(i, m))?;
        if i < chosen.train.len() {
            train_len += rows.images.len();
        }
        origin.extend((0..rows.images.len()).map(|row| (i, row)));
        bytes.extend(rows.images);
        labels.push(rows.labels);
    }
    let test_len = bytes.len() - train_len;
    for (split, count) in [("train", train_len), (chosen.test_split.as_str(), test_len)] {
        if count == 0 {
            return Err(Error::Hub(format!("{repo}: the {split} split holds no rows: nothing to train or test on")));
        }
    }
    let (indices, classes) = class_indices(&labels, &columns, train_len, &origin, &in_file)?;
    if columns.names.is_none() && !quiet {
        eprintln!(
            "{label}: label column \"{}\" has no class names (no ClassLabel): its {} sorted distinct values are the classes",
            columns.label,
            classes.len()
        );
    }
    if !quiet {
        eprintln!("{label}: decoding {} images (once: later runs read them from a cache)", bytes.len());
    }
    let images = Images { bytes };
    let (shape, decoded) = decode::decode_all(&images, request.image_size).map_err(|e| match e {
        DecodeError::Image { index, message } => {
            let (file, row) = origin[index];
            in_file(file, format!("row {row}: {message}"))
        }
        DecodeError::SizesDiffer { first: (a, (aw, ah)), other: (b, (bw, bh)) } => Error::Hub(format!(
            "{repo}: its images differ in size: row {} of {} is {aw}x{ah}, row {} of {} is {bw}x{bh} (width x height); set image_size = [height, width] to resize them all",
            origin[a].1,
            files[origin[a].0].path,
            origin[b].1,
            files[origin[b].0].path
        )),
        DecodeError::Interrupted => Error::StoppedBeforeStart { doing: format!("decoding the images of {repo}") },
    })?;
    let (train, test) = decode::into_splits(shape, decoded, &indices, train_len);
    Ok((Dataset { name, shape, train, test, classes, files_key: String::new() }, columns))
}

/// Each row's class index, and the classes: the ClassLabel's names, or the label's sorted
/// distinct values in train.
fn class_indices(
    labels: &[Labels],
    columns: &Columns,
    train_len: usize,
    origin: &[(usize, usize)],
    in_file: &dyn Fn(usize, String) -> Error,
) -> Result<(Vec<u8>, Vec<String>)> {
    let texts: Vec<String> = labels
        .iter()
        .flat_map(|l| match l {
            Labels::Ints(ints) => ints.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            Labels::Texts(texts) => texts.clone(),
        })
        .collect();
    let ints: Vec<Option<i64>> = labels
        .iter()
        .flat_map(|l| match l {
            Labels::Ints(ints) => ints.iter().map(|&v| Some(v)).collect::<Vec<_>>(),
            Labels::Texts(texts) => vec![None; texts.len()],
        })
        .collect();
    let classes: Vec<String> = match &columns.names {
        Some(names) => names.clone(),
        None => {
            let mut distinct: Vec<(Option<i64>, &String)> =
                ints[..train_len].iter().copied().zip(&texts[..train_len]).collect();
            distinct.sort();
            distinct.dedup();
            distinct.into_iter().map(|(_, t)| t.clone()).collect()
        }
    };
    if classes.len() > MAX_CLASSES {
        return Err(in_file(0, format!("{} classes; at most {MAX_CLASSES} are supported", classes.len())));
    }
    let mut indices = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let index = match (&columns.names, ints[i]) {
            (Some(names), Some(v)) if (0..names.len() as i64).contains(&v) => v as usize,
            (Some(names), Some(v)) => {
                let (file, row) = origin[i];
                let why = if v < 0 { " (-1 marks an unlabelled row: this split cannot be tested on)" } else { "" };
                return Err(in_file(
                    file,
                    format!(
                        "row {row}: label {v} is outside its ClassLabel's {} names (0 to {}){why}",
                        names.len(),
                        names.len() - 1
                    ),
                ));
            }
            (Some(_), None) => {
                let (file, row) = origin[i];
                return Err(in_file(
                    file,
                    format!("row {row}: label {text:?} is text, but the column is a ClassLabel"),
                ));
            }
            (None, _) => match classes.iter().position(|c| c == text) {
                Some(index) => index,
                None => {
                    let (file, row) = origin[i];
                    return Err(in_file(file, format!("row {row}: label {text:?} is a class the train split lacks")));
                }
            },
        };
        indices.push(index as u8);
    }
    Ok((indices, classes))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::fixture::{FixtureLabels, write_split};
    use super::test_server::{FakeHub, FakeRepo, Fault};
    use super::*;

    fn parquet(images: &[Vec<u8>], labels: FixtureLabels, image: &str, label: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("split.parquet");
        write_split(&path, images, labels, image, label).unwrap();
        std::fs::read(path).unwrap()
    }

    /// An RGB image `w`x`h` whose pixels depend on `seed`, as PNG or JPEG bytes.
    fn encoded(w: u32, h: u32, seed: u8, format: image::ImageFormat) -> Vec<u8> {
        let image = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 9) as u8 ^ seed, (y * 7) as u8, seed]));
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image).write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Three classes, RGB; the test split holds JPEGs of other sizes.
    fn pets() -> FakeRepo {
        let classes = names(&["bird", "cat", "dog"]);
        let train: Vec<Vec<u8>> = (0..6).map(|i| encoded(8, 6, i, image::ImageFormat::Png)).collect();
        let test: Vec<Vec<u8>> = (0..3).map(|i| encoded(10 + i as u32, 7, i, image::ImageFormat::Jpeg)).collect();
        let files = BTreeMap::from([
            (
                "pets/train-00000-of-00001.parquet".to_string(),
                parquet(&train, FixtureLabels::ClassLabel(&[0, 1, 2, 2, 1, 0], &classes), "img", "label"),
            ),
            (
                "pets/test-00000-of-00001.parquet".to_string(),
                parquet(&test, FixtureLabels::ClassLabel(&[2, 0, 1], &classes), "img", "label"),
            ),
            ("README.md".to_string(), b"# pets".to_vec()),
        ]);
        FakeRepo::new("lab/pets", files)
    }

    fn repo(id: &str) -> HubRepo {
        HubRepo::parse(id).unwrap()
    }

    fn request<'a>(repo: &'a HubRepo, size: &'a [u32]) -> HubRequest<'a> {
        HubRequest { repo, revision: "main", config: "", image_column: "", label_column: "", image_size: size }
    }

    fn client(hub: &FakeHub, token: Option<&str>) -> Option<Client> {
        Some(Client::new(&hub.endpoint, token.map(String::from), true).unwrap())
    }

    fn cached_files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().is_dir() {
                    pending.push(entry.path());
                } else {
                    out.push(entry.path().strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn downloads_verifies_decodes_then_starts_from_the_cache_offline_too() {
        let hub = FakeHub::start(vec![pets()]);
        let root = tempfile::tempdir().unwrap();
        let pets = repo("lab/pets");
        let sized = request(&pets, &[7, 9]);
        let data = load_with(&sized, root.path(), client(&hub, Some("secret")), true, true).unwrap();
        assert_eq!(data.classes, ["bird", "cat", "dog"]);
        assert_eq!(data.shape, super::super::ImageShape { channels: 3, height: 7, width: 9 });
        assert_eq!(
            (data.train.labels.as_slice(), data.test.labels.as_slice()),
            (&[0, 1, 2, 2, 1, 0][..], &[2, 0, 1][..])
        );
        assert_eq!(hub.downloads(), 2, "the two Parquet files, not the README");
        // The token goes to the Hub, never to the CDN it redirects to.
        let log = hub.log();
        assert!(log.iter().filter(|l| l.host == "hub").all(|l| l.authorization.as_deref() == Some("Bearer secret")));
        assert!(log.iter().filter(|l| l.host == "cdn").all(|l| l.authorization.is_none()), "{log:?}");
        // Second start: nothing downloaded; offline: the same data, no request at all.
        hub.clear_log();
        let again = load_with(&sized, root.path(), client(&hub, None), true, true).unwrap();
        assert_eq!((hub.downloads(), again.train.images == data.train.images), (0, true));
        hub.clear_log();
        let offline = load_with(&sized, root.path(), None, true, true).unwrap();
        assert_eq!((hub.log().len(), offline.test.images == data.test.images), (0, true));
        assert_eq!(offline.files_key, data.files_key);
        // Without image_size the sizes differ: refused naming rows and files.
        let err = load_with(&request(&pets, &[]), root.path(), None, true, true).unwrap_err().to_string();
        assert!(
            err.contains("differ in size") && err.contains("row 0 of pets/train-00000-of-00001.parquet is 8x6"),
            "{err}"
        );
        assert!(err.contains("pets/test-00000-of-00001.parquet is 10x7") && err.contains("image_size"), "{err}");
        let files = cached_files(&root.path().join("hf/lab/pets"));
        assert!(files.iter().all(|f| !f.contains("incomplete") && !f.contains("README")), "{files:?}");
    }

    #[test]
    fn a_dry_run_or_offline_start_with_nothing_cached_names_what_is_missing_and_writes_nothing() {
        let hub = FakeHub::start(vec![pets()]);
        let root = tempfile::tempdir().unwrap();
        let pets = repo("lab/pets");
        let err = load_with(&request(&pets, &[7, 9]), root.path(), None, true, true).unwrap_err().to_string();
        assert!(err.contains("--offline") && err.contains("hf/lab/pets/refs/main"), "{err}");
        let err =
            load_with(&request(&pets, &[7, 9]), root.path(), client(&hub, None), true, false).unwrap_err().to_string();
        assert!(
            err.contains("a dry run downloads nothing") && err.contains("pets/train-00000-of-00001.parquet"),
            "{err}"
        );
        assert!(!root.path().join("hf").exists(), "{:?}", cached_files(root.path()));
    }

    #[test]
    fn corrupt_bytes_are_fetched_again_once_then_refused_and_nothing_is_kept() {
        let hub = FakeHub::start(vec![pets()]);
        let root = tempfile::tempdir().unwrap();
        let pets = repo("lab/pets");
        hub.fault(Fault::Corrupt("pets/test-00000-of-00001.parquet".into()));
        let err =
            load_with(&request(&pets, &[7, 9]), root.path(), client(&hub, None), true, true).unwrap_err().to_string();
        assert!(err.contains("pets/test-00000-of-00001.parquet arrived corrupt") && err.contains("sha256"), "{err}");
        assert_eq!(hub.downloads(), 3, "train once, test twice");
        let files = cached_files(&root.path().join("hf/lab/pets/files"));
        assert!(files.iter().all(|f| f.ends_with("train-00000-of-00001.parquet")), "{files:?}");
    }

    #[test]
    fn a_broken_transfer_resumes_with_range_and_429_is_waited_out() {
        let hub = FakeHub::start(vec![pets()]);
        let root = tempfile::tempdir().unwrap();
        let pets = repo("lab/pets");
        hub.fault(Fault::CutOff("pets/train-00000-of-00001.parquet".into(), 2));
        hub.fault(Fault::TooMany(2));
        let data = load_with(&request(&pets, &[7, 9]), root.path(), client(&hub, None), true, true).unwrap();
        assert_eq!(data.train.len(), 6);
        assert!(hub.log().iter().filter(|l| l.host == "cdn").count() >= 4, "two cut-offs, then the rest");
        // Cut off every time: a clear error, no partial file.
        let other = tempfile::tempdir().unwrap();
        hub.fault(Fault::CutOff("pets/train-00000-of-00001.parquet".into(), 100));
        let err =
            load_with(&request(&pets, &[7, 9]), other.path(), client(&hub, None), true, true).unwrap_err().to_string();
        assert!(err.contains("broke off") && err.contains("cannot reach"), "{err}");
        assert!(cached_files(&other.path().join("hf/lab/pets/files")).is_empty());
    }

    /// A PNG header claiming a `side`x`side` gray image, with almost no data: a decompression bomb.
    fn bomb(side: u32) -> Vec<u8> {
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&crc.sum().to_be_bytes());
            out
        };
        let mut ihdr = side.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&side.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    #[test]
    fn a_decompression_bomb_or_a_broken_image_is_refused_naming_file_and_row() {
        let classes = names(&["a", "b"]);
        let good: Vec<Vec<u8>> = (0..3).map(|i| encoded(4, 4, i, image::ImageFormat::Png)).collect();
        let mut bombed = good.clone();
        bombed[2] = bomb(60_000);
        let mut broken = good.clone();
        broken[1] = b"not an image".to_vec();
        let file =
            |images: &[Vec<u8>]| parquet(images, FixtureLabels::ClassLabel(&[0, 1, 0], &classes), "image", "label");
        let repos = vec![
            FakeRepo::new(
                "lab/bomb",
                BTreeMap::from([
                    ("data/train-0.parquet".into(), file(&good)),
                    ("data/test-0.parquet".into(), file(&bombed)),
                ]),
            ),
            FakeRepo::new(
                "lab/broken",
                BTreeMap::from([
                    ("data/train-0.parquet".into(), file(&broken)),
                    ("data/test-0.parquet".into(), file(&good)),
                ]),
            ),
        ];
        let hub = FakeHub::start(repos);
        let root = tempfile::tempdir().unwrap();
        for size in [&[][..], &[4, 4][..]] {
            let err =
                load_with(&request(&repo("lab/bomb"), size), root.path(), client(&hub, None), true, true).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("data/test-0.parquet") && text.contains("row 2") && text.contains("limit"), "{text}");
            assert_eq!(err.exit_code(), 2);
        }
        let err =
            load_with(&request(&repo("lab/broken"), &[]), root.path(), client(&hub, None), true, true).unwrap_err();
        assert!(err.to_string().contains("data/train-0.parquet") && err.to_string().contains("row 1: "), "{err}");
    }

    #[test]
    fn an_empty_split_or_a_symlink_planted_in_the_cache_is_refused() {
        let classes = names(&["a", "b"]);
        let good: Vec<Vec<u8>> = (0..2).map(|i| encoded(4, 4, i, image::ImageFormat::Png)).collect();
        let files = BTreeMap::from([
            (
                "data/train-0.parquet".to_string(),
                parquet(&good, FixtureLabels::ClassLabel(&[0, 1], &classes), "image", "label"),
            ),
            (
                "data/test-0.parquet".to_string(),
                parquet(&[], FixtureLabels::ClassLabel(&[], &classes), "image", "label"),
            ),
        ]);
        let hub = FakeHub::start(vec![FakeRepo::new("lab/empty", files), pets()]);
        let root = tempfile::tempdir().unwrap();
        let err =
            load_with(&request(&repo("lab/empty"), &[]), root.path(), client(&hub, None), true, true).unwrap_err();
        assert!(err.to_string().contains("hf:lab/empty: the test split holds no rows"), "{err}");
        assert_eq!(err.exit_code(), 2);
        // A link inside the cache would lead a download out of it.
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("hf/lab/pets")).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.path().join("hf/lab/pets/files")).unwrap();
        let err =
            load_with(&request(&repo("lab/pets"), &[7, 9]), root.path(), client(&hub, None), true, true).unwrap_err();
        assert!(err.to_string().contains("is a symlink inside the Hub cache"), "{err}");
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "nothing written through the link");
    }

    #[test]
    fn two_runs_starting_at_once_download_each_file_once() {
        let hub = FakeHub::start(vec![pets()]);
        let root = tempfile::tempdir().unwrap();
        let pets = repo("lab/pets");
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| load_with(&request(&pets, &[7, 9]), root.path(), client(&hub, None), true, true)))
                .collect();
            for run in runs {
                assert_eq!(run.join().unwrap().unwrap().train.len(), 6);
            }
        });
        assert_eq!(hub.downloads(), 2, "each file once: the second run waited, then found it");
    }

    #[test]
    fn a_redirect_to_a_non_http_address_is_refused() {
        let hub = FakeHub::start(vec![pets()]);
        hub.fault(Fault::RedirectTo("file:///etc/passwd".into()));
        let root = tempfile::tempdir().unwrap();
        let err =
            load_with(&request(&repo("lab/pets"), &[7, 9]), root.path(), client(&hub, None), true, true).unwrap_err();
        assert!(err.to_string().contains("\"file:///etc/passwd\", which is not an http(s) address; refused"), "{err}");
    }

    #[test]
    fn the_hubs_refusals_name_the_repo_revision_or_token_and_never_the_token_itself() {
        let mut private = pets();
        private.id = "lab/private".into();
        private.token = Some("good".into());
        let mut gated = pets();
        gated.id = "lab/gated".into();
        gated.token = Some("good".into());
        gated.gated = true;
        let hub = FakeHub::start(vec![pets(), private, gated]);
        let root = tempfile::tempdir().unwrap();
        let fails = |id: &str, revision: &str, token: Option<&str>| {
            let repo = repo(id);
            let request = HubRequest { revision, ..request(&repo, &[7, 9]) };
            let err = load_with(&request, root.path(), client(&hub, token), true, true).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(!text.contains("good") && !text.contains("wrong"), "the token leaked: {text}");
            text
        };
        let text = fails("lab/missing", "main", None);
        assert!(text.contains("hf:lab/missing was not found") && text.contains("set HF_TOKEN"), "{text}");
        let text = fails("lab/private", "main", None);
        assert!(text.contains("hf:lab/private was not found") && text.contains("HF_TOKEN"), "{text}");
        let text = fails("lab/private", "main", Some("wrong"));
        assert!(text.contains("refused HF_TOKEN"), "{text}");
        let text = fails("lab/gated", "main", None);
        assert!(text.contains("gated") && text.contains("/datasets/lab/gated"), "{text}");
        let text = fails("lab/pets", "v9", None);
        assert!(text.contains("has no revision \"v9\"") && text.contains("hf_revision"), "{text}");
        assert!(
            load_with(&request(&repo("lab/private"), &[7, 9]), root.path(), client(&hub, Some("good")), true, true)
                .is_ok()
        );
        let unreachable = Some(Client::new("http://127.0.0.1:9", None, true).unwrap());
        let err = load_with(&request(&repo("lab/gone"), &[]), root.path(), unreachable, true, true).unwrap_err();
        assert!(err.to_string().contains("cannot reach the Hugging Face Hub at http://127.0.0.1:9"), "{err}");
    }

    #[test]
    fn plain_labels_validation_splits_the_parquet_branch_and_bad_repos() {
        let images: Vec<Vec<u8>> = (0..4).map(|i| encoded(4, 4, i, image::ImageFormat::Png)).collect();
        let texts = names(&["zebra", "ant", "zebra", "moth"]);
        let strings = parquet(&images, FixtureLabels::Text(&texts), "image", "labels");
        let ints = parquet(&images, FixtureLabels::Plain(&[7, 3, 7, 3]), "image", "label");
        let abc = names(&["a", "b", "c"]);
        let in_range = parquet(&images, FixtureLabels::ClassLabel(&[0, 1, 2, 0], &abc), "image", "label");
        let out_of_range = parquet(&images, FixtureLabels::ClassLabel(&[0, 1, 2, -1], &abc), "image", "label");
        let repos = vec![
            FakeRepo::new(
                "lab/words",
                BTreeMap::from([
                    ("data/train-00000-of-00001.parquet".into(), strings.clone()),
                    ("data/validation-00000-of-00001.parquet".into(), strings.clone()),
                ]),
            ),
            FakeRepo::new(
                "lab/ints",
                BTreeMap::from([
                    ("default/train/0000.parquet".into(), ints.clone()),
                    ("default/test/0000.parquet".into(), ints),
                ]),
            ),
            FakeRepo::new("lab/trainonly", BTreeMap::from([("data/train-0.parquet".into(), strings.clone())])),
            FakeRepo::new(
                "lab/unlabelled",
                BTreeMap::from([
                    ("data/train-0.parquet".into(), in_range),
                    ("data/test-0.parquet".into(), out_of_range),
                ]),
            ),
            FakeRepo::new(
                "lab/notparquet",
                BTreeMap::from([
                    ("data/train-0.parquet".into(), b"PAR1 nope".to_vec()),
                    ("data/test-0.parquet".into(), strings),
                ]),
            ),
            FakeRepo::new(
                "lab/evil",
                BTreeMap::from([
                    ("../train-0.parquet".into(), b"x".to_vec()),
                    ("../test-0.parquet".into(), b"x".to_vec()),
                ]),
            ),
        ];
        // The Parquet conversion lives on its own branch: main holds only a script.
        let mut converted = repos[1].clone();
        converted.id = "lab/converted".into();
        let files = converted.commits.values().next().unwrap().clone();
        converted.refs.insert("main".into(), "a".repeat(40));
        converted.commits.insert("a".repeat(40), BTreeMap::from([("loader.py".to_string(), b"".to_vec())]));
        converted.refs.insert(PARQUET_BRANCH.into(), "b".repeat(40));
        converted.commits.insert("b".repeat(40), files);
        let hub = FakeHub::start(repos.into_iter().chain([converted]).collect());
        let root = tempfile::tempdir().unwrap();
        let load = |id: &str| load_with(&request(&repo(id), &[]), root.path(), client(&hub, None), true, true);
        let words = load("lab/words").unwrap();
        let words_record = cached_record(&request(&repo("lab/words"), &[]), root.path()).unwrap();
        assert_eq!(
            (words_record.label_column.as_str(), words_record.classes_from.as_deref()),
            ("labels", Some(SORTED_VALUES)),
            "the manifest says where the classes came from"
        );
        assert_eq!(
            (words.classes.clone(), words.train.labels.clone()),
            (names(&["ant", "moth", "zebra"]), vec![2, 0, 2, 1])
        );
        let ints = load("lab/ints").unwrap();
        assert_eq!((ints.classes.clone(), ints.test.labels.clone()), (names(&["3", "7"]), vec![1, 0, 1, 0]));
        let converted = load("lab/converted").unwrap();
        assert_eq!(converted.train.labels, ints.train.labels);
        let err = load("lab/trainonly").unwrap_err().to_string();
        assert!(err.contains("no test or validation split") && err.contains("its splits: train"), "{err}");
        let err = load("lab/unlabelled").unwrap_err().to_string();
        assert!(
            err.contains("data/test-0.parquet") && err.contains("row 3: label -1 is outside its ClassLabel's 3 names"),
            "{err}"
        );
        let err = load("lab/notparquet").unwrap_err().to_string();
        assert!(err.contains("data/train-0.parquet") && err.contains("not a readable Parquet file"), "{err}");
        let err = load("lab/evil").unwrap_err().to_string();
        assert!(err.contains("\"../train-0.parquet\" that would lead outside the cache"), "{err}");
    }

    /// The repo the Hub holds for a built-in set (config, image and label columns as there),
    /// written from the built-in set's own images as PNGs.
    fn as_hub(builtin: &Dataset, id: &str, config: &str, image: &str) -> FakeRepo {
        let mut files = BTreeMap::new();
        for (split, data) in [("train", &builtin.train), ("test", &builtin.test)] {
            let labels: Vec<i64> = data.labels.iter().map(|&l| l.into()).collect();
            let images = fixture::pngs(data, builtin.shape);
            files.insert(
                format!("{config}/{split}-00000-of-00001.parquet"),
                parquet(&images, FixtureLabels::ClassLabel(&labels, &builtin.classes), image, "label"),
            );
        }
        FakeRepo::new(id, files)
    }

    #[test]
    fn hub_mnist_fashion_mnist_and_cifar10_are_the_built_in_sets_pixel_for_pixel_in_order() {
        let offline = FetchOptions { offline: true, ..FetchOptions::default() };
        let shared = crate::data::test_data::root();
        let mut sets = vec![
            (crate::data::load(DatasetName::Mnist, &shared, &offline).unwrap(), "ylecun/mnist", "mnist", "image"),
            (
                crate::data::load(DatasetName::FashionMnist, &shared, &offline).unwrap(),
                "zalando-datasets/fashion_mnist",
                "fashion_mnist",
                "image",
            ),
        ];
        // CIFAR-10: the 20 real records this network has, as every batch file of an unpacked copy.
        let cifar_root = tempfile::tempdir().unwrap();
        if let Some(records) = crate::data::test_data::optional("cifar10/test_batch_first20.bin") {
            let dir = cifar_root.path().join("cifar10").join(crate::data::CIFAR_FOLDER);
            std::fs::create_dir_all(&dir).unwrap();
            for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"] {
                std::fs::copy(&records, dir.join(format!("{name}.bin"))).unwrap();
            }
            let small = FetchOptions { allow_partial: true, ..offline.clone() };
            let cifar = crate::data::load(DatasetName::Cifar10, cifar_root.path(), &small).unwrap();
            sets.push((cifar, "uoft-cs/cifar10", "plain_text", "img"));
        } else {
            eprintln!("skipped CIFAR-10: cifar10/test_batch_first20.bin is not in the test data");
        }
        let hub =
            FakeHub::start(sets.iter().map(|(data, id, config, image)| as_hub(data, id, config, image)).collect());
        let root = tempfile::tempdir().unwrap();
        for (builtin, id, ..) in &sets {
            let repo = repo(id);
            let data = load_with(&request(&repo, &[]), root.path(), client(&hub, None), true, true).unwrap();
            assert_eq!((data.shape, &data.classes), (builtin.shape, &builtin.classes), "{id}");
            assert!(data.train.labels == builtin.train.labels && data.test.labels == builtin.test.labels, "{id}");
            assert!(data.train.images == builtin.train.images && data.test.images == builtin.test.images, "{id}");
        }
    }
}

//! Downloads what is missing from the official mirrors, verifies it, and only then puts it in place.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use md5::{Digest, Md5};

use super::{CIFAR_ARCHIVE, CIFAR_FOLDER, gunzip_if_needed};
use crate::catalog::DatasetName;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Fail instead of downloading.
    pub offline: bool,
    /// Base URL from the spec's `mirror` key, tried instead of the official mirrors.
    pub mirror: Option<String>,
    /// No progress bar.
    pub quiet: bool,
    /// Accept a built-in set with fewer images than its official files (small test fixtures);
    /// `RUNNER_ALLOW_PARTIAL_DATA=1` sets it too.
    pub allow_partial: bool,
}

/// The variable that lets a built-in data set hold fewer images than the official files.
pub const ALLOW_PARTIAL_ENV: &str = "RUNNER_ALLOW_PARTIAL_DATA";

impl FetchOptions {
    pub fn partial_allowed(&self) -> bool {
        self.allow_partial || std::env::var(ALLOW_PARTIAL_ENV).is_ok_and(|v| v == "1")
    }
}

/// A file as the mirrors serve it, and the md5 that identifies it.
pub struct RemoteFile {
    pub name: &'static str,
    /// md5 of the uncompressed content for IDX files (mirrors re-compress; the raw files are the
    /// identity); md5 of the archive itself for CIFAR-10.
    pub md5: &'static str,
}

pub struct Source {
    pub files: &'static [RemoteFile],
    pub mirrors: &'static [&'static str],
    /// Environment variable that overrides the mirror.
    pub env: &'static str,
}

pub fn source(name: &DatasetName) -> Source {
    match name {
        DatasetName::Mnist => Source {
            files: &[
                RemoteFile { name: "train-images-idx3-ubyte.gz", md5: "6bbc9ace898e44ae57da46a324031adb" },
                RemoteFile { name: "train-labels-idx1-ubyte.gz", md5: "a25bea736e30d166cdddb491f175f624" },
                RemoteFile { name: "t10k-images-idx3-ubyte.gz", md5: "2646ac647ad5339dbf082846283269ea" },
                RemoteFile { name: "t10k-labels-idx1-ubyte.gz", md5: "27ae3e4e09519cfbb04c329615203637" },
            ],
            mirrors: &["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
            env: "RUNNER_MNIST_MIRROR",
        },
        DatasetName::FashionMnist => Source {
            files: &[
                RemoteFile { name: "train-images-idx3-ubyte.gz", md5: "f4a8712d7a061bf5bd6d2ca38dc4d50a" },
                RemoteFile { name: "train-labels-idx1-ubyte.gz", md5: "9018921c3c673c538a1fc5bad174d6f9" },
                RemoteFile { name: "t10k-images-idx3-ubyte.gz", md5: "8181f5470baa50b63fa0f6fddb340f0a" },
                RemoteFile { name: "t10k-labels-idx1-ubyte.gz", md5: "15d484375f8d13e6eb1aabb0c3f46965" },
            ],
            mirrors: &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
            env: "RUNNER_FASHION_MNIST_MIRROR",
        },
        DatasetName::Cifar10 => Source {
            files: &[RemoteFile { name: CIFAR_ARCHIVE, md5: "c32a1d4ab5d03f1284b67883e8d87530" }],
            mirrors: &["https://www.cs.toronto.edu/~kriz/"],
            env: "RUNNER_CIFAR10_MIRROR",
        },
        // The user's own images, or a Hub repo (data::hub): nothing from these mirrors.
        DatasetName::Folder | DatasetName::Hub(_) => Source { files: &[], mirrors: &[], env: "" },
    }
}

/// Whether a file is already there in a form the loader reads.
fn present(dir: &Path, file: &RemoteFile) -> bool {
    if file.name == CIFAR_ARCHIVE {
        return dir.join(file.name).is_file() || dir.join(CIFAR_FOLDER).join("test_batch.bin").is_file();
    }
    let plain = file.name.trim_end_matches(".gz");
    dir.join(file.name).exists() || dir.join(plain).exists()
}

/// Makes sure every file of the data set is under `root`, downloading the missing ones.
pub fn ensure(name: &DatasetName, root: &Path, options: &FetchOptions) -> Result<()> {
    let source = source(name);
    let dir = super::dir(root, name);
    let missing: Vec<&RemoteFile> = source.files.iter().filter(|f| !present(&dir, f)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mirrors: Vec<String> = match (std::env::var(source.env).ok().filter(|m| !m.is_empty()), &options.mirror) {
        (Some(env), _) => vec![env],
        (None, Some(spec)) => vec![spec.clone()],
        (None, None) => source.mirrors.iter().map(|m| m.to_string()).collect(),
    };
    let mut listing = missing
        .iter()
        .map(|f| format!("    {}  (from {}{})", dir.join(f.name).display(), mirrors[0], f.name))
        .collect::<Vec<_>>()
        .join("\n");
    if *name == DatasetName::Cifar10 {
        listing.push_str(&format!(
            "\n    or the archive unpacked: {}/{{data_batch_1..5,test_batch}}.bin",
            dir.join(CIFAR_FOLDER).display()
        ));
    }
    if options.offline {
        return Err(Error::DataMissing {
            dataset: name.to_string(),
            root: root.to_path_buf(),
            why: "--offline forbids downloading".into(),
            files: listing,
        });
    }
    for file in missing {
        download(file, &mirrors, &dir, options.quiet).map_err(|message| Error::Download {
            file: file.name.to_string(),
            message: format!(
                "{message}\n  To install by hand, put the files here (or point --data-dir at a folder that has them):\n{listing}"
            ),
        })?;
    }
    Ok(())
}

/// Tries each mirror in turn; returns why every one failed.
fn download(file: &RemoteFile, mirrors: &[String], dir: &Path, quiet: bool) -> Result<(), String> {
    let mut failures = Vec::new();
    for mirror in mirrors {
        let url = format!("{}/{}", mirror.trim_end_matches('/'), file.name);
        match fetch_verified(&url, file, quiet) {
            Ok(bytes) => {
                // The folder appears only once there is a verified file to put in it.
                return std::fs::create_dir_all(dir)
                    .and_then(|()| crate::fs::write_atomically(&dir.join(file.name), &bytes))
                    .map_err(|e| format!("{}: {e}", dir.display()));
            }
            Err(why) => failures.push(format!("  {url}: {why}")),
        }
    }
    Err(format!("every mirror failed:\n{}", failures.join("\n")))
}

fn fetch_verified(url: &str, file: &RemoteFile, quiet: bool) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(30)))
        .timeout_recv_body(Some(Duration::from_secs(600)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let body = response.into_body();
    let length = body.content_length();
    let bar = progress_bar(file.name, length, quiet);
    let mut reader = body.into_with_config().limit(1 << 30).reader();
    let mut bytes = Vec::with_capacity(length.unwrap_or(1 << 20) as usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| format!("connection broke off: {e}"))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let content = if file.name == CIFAR_ARCHIVE { bytes.clone() } else { gunzip_if_needed(&bytes)? };
    let digest = format!("{:x}", Md5::digest(&content));
    if digest != file.md5 {
        return Err(format!("checksum mismatch: md5 {digest}, expected {} (file discarded)", file.md5));
    }
    Ok(bytes)
}

pub(crate) fn progress_bar(name: &str, length: Option<u64>, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match length {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(format!("downloading {name}"));
    bar
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::path::PathBuf;

    use super::*;

    fn shared_mnist() -> PathBuf {
        crate::data::test_data::root().join("mnist")
    }

    /// A plain HTTP server on 127.0.0.1 serving `routes` (path -> body; others 404) until the
    /// test process ends. Returns its base URL.
    fn serve(routes: HashMap<String, Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body) = match routes.get(&path) {
                    Some(body) => ("200 OK", body.as_slice()),
                    None => ("404 Not Found", &b"not found"[..]),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body));
            }
        });
        base
    }

    fn real(name: &str) -> Vec<u8> {
        std::fs::read(shared_mnist().join(name)).unwrap()
    }

    /// A data root holding every MNIST file but the test labels.
    fn root_missing_test_labels() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("mnist");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
            std::fs::copy(shared_mnist().join(name), dir.join(name)).unwrap();
        }
        root
    }

    fn options(mirror: &str) -> FetchOptions {
        FetchOptions { offline: false, mirror: Some(mirror.to_string()), quiet: true, allow_partial: false }
    }

    fn listing(root: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join("mnist"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn downloads_every_missing_file_and_verifies_it() {
        let names = [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ];
        let base = serve(names.iter().map(|n| (format!("/mnist/{n}"), real(n))).collect());
        let root = tempfile::tempdir().unwrap();
        ensure(&DatasetName::Mnist, root.path(), &options(&format!("{base}/mnist/"))).unwrap();
        assert_eq!(
            listing(root.path()),
            [
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz"
            ]
        );
        let offline = FetchOptions { offline: true, ..FetchOptions::default() };
        let data = super::super::load(DatasetName::Mnist, root.path(), &offline).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    }

    #[test]
    fn checksum_mismatch_keeps_nothing() {
        // A valid gzip of other labels: right format, wrong content.
        let mut other = super::super::gunzip_if_needed(&real("t10k-labels-idx1-ubyte.gz")).unwrap();
        other[100] = (other[100] + 1) % 10;
        let base = serve([("/t10k-labels-idx1-ubyte.gz".to_string(), other)].into());
        let root = root_missing_test_labels();
        let err = ensure(&DatasetName::Mnist, root.path(), &options(&base)).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch") && err.contains("27ae3e4e09519cfbb04c329615203637"), "{err}");
        assert!(err.contains("put the files here"), "{err}");
        assert_eq!(listing(root.path()).len(), 3, "no partial or temporary file is left");
    }

    #[test]
    fn not_found_and_unreachable_mirrors_are_reported() {
        let base = serve(HashMap::new());
        let root = root_missing_test_labels();
        let err = ensure(&DatasetName::Mnist, root.path(), &options(&base)).unwrap_err().to_string();
        assert!(err.contains("t10k-labels-idx1-ubyte.gz") && err.contains("404"), "{err}");
        let err = ensure(&DatasetName::Mnist, root.path(), &options("http://127.0.0.1:9/")).unwrap_err().to_string();
        assert!(err.contains("every mirror failed") && err.contains("127.0.0.1:9"), "{err}");
        assert_eq!(listing(root.path()).len(), 3);
        let empty = tempfile::tempdir().unwrap();
        assert!(ensure(&DatasetName::Cifar10, empty.path(), &options(&base)).is_err());
        assert!(!empty.path().join("cifar10").exists(), "a failed download leaves no folder behind");
    }

    #[test]
    fn falls_back_to_the_next_mirror() {
        let name = "t10k-labels-idx1-ubyte.gz";
        let base = serve([(format!("/good/{name}"), real(name))].into());
        let root = root_missing_test_labels();
        let file = &source(&DatasetName::Mnist).files[3];
        assert_eq!(file.name, name);
        download(file, &[format!("{base}/bad"), format!("{base}/good")], &root.path().join("mnist"), true).unwrap();
        assert_eq!(listing(root.path()).len(), 4);
        assert_eq!(std::fs::read(root.path().join("mnist").join(name)).unwrap(), real(name));
    }

    #[test]
    fn offline_lists_what_to_put_where() {
        let root = root_missing_test_labels();
        let offline = FetchOptions { offline: true, ..FetchOptions::default() };
        let err = ensure(&DatasetName::Mnist, root.path(), &offline).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("--offline forbids downloading"), "{text}");
        assert!(text.contains("mnist/t10k-labels-idx1-ubyte.gz  (from https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz)"), "{text}");
        assert!(!text.contains("train-images"), "only the missing file: {text}");
        assert_eq!(err.exit_code(), 2);
    }
}

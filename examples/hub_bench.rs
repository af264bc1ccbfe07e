//! Benchmark of a Hugging Face Hub data set's start: a 60,000-image 32x32 RGB set written as the
//! `datasets` library writes CIFAR-10 (PNG bytes in Parquet, ClassLabel labels), served by the
//! runner's local fake Hub, then loaded the three ways a run meets it: first start (download,
//! verify, decode, cache), decode only (files cached, pixels not), and cached start.
//!
//!   cargo run --release --example hub_bench -- --out /tmp/hub-bench [--images 60000] [--rounds 3]
//!
//! Prints one JSON object of seconds (medians). `bench/hub.sh` runs it beside `datasets`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use runner::catalog::HubRepo;
use runner::data::hub::fixture::{FixtureLabels, png, write_split};
use runner::data::hub::test_server::{FakeHub, FakeRepo};
use runner::data::hub::{Client, HubRequest, load_with};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// Image `i`: a real CIFAR-10 record when the test data has some (shifted per image, so no two
/// are alike), else a smooth synthetic picture with noise.
fn image(i: usize, records: &[Vec<u8>]) -> Vec<u8> {
    let plane = 32 * 32;
    let mut chw = vec![0u8; 3 * plane];
    for (p, value) in chw.iter_mut().enumerate() {
        let base = match records {
            [] => ((p % 32) * 5 + (p / 32 % 32) * 3 + (p / plane) * 60) as u8,
            _ => records[i % records.len()][p],
        };
        let noise = ((i * 2654435761 + p * 40503) >> 7) as u8 & 7;
        *value = base.wrapping_add((i / records.len().max(1)) as u8).wrapping_add(noise);
    }
    chw
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let out = PathBuf::from(arg("--out").unwrap_or_else(|| "/tmp/hub-bench".into()));
    let count: usize = arg("--images").map_or(60_000, |n| n.parse().expect("--images N"));
    let rounds: usize = arg("--rounds").map_or(3, |n| n.parse().expect("--rounds N"));
    let records: Vec<Vec<u8>> = runner::data::test_data::optional("cifar10/test_batch_first20.bin")
        .map(|path| std::fs::read(path).unwrap().chunks(3073).map(|r| r[1..].to_vec()).collect())
        .unwrap_or_default();
    let repo_dir = out.join("repo");
    let train_file = repo_dir.join("plain_text/train-00000-of-00001.parquet");
    let test_file = repo_dir.join("plain_text/test-00000-of-00001.parquet");
    if !train_file.exists() || !test_file.exists() {
        std::fs::create_dir_all(train_file.parent().unwrap()).unwrap();
        let classes: Vec<String> = runner::catalog::CIFAR_CLASSES.iter().map(|c| c.to_string()).collect();
        let test_len = count / 6;
        for (path, range) in [(&train_file, 0..count - test_len), (&test_file, count - test_len..count)] {
            use rayon::prelude::*;
            let images: Vec<Vec<u8>> =
                range.clone().into_par_iter().map(|i| png(&image(i, &records), 3, 32, 32)).collect();
            let labels: Vec<i64> = range.map(|i| (i % 10) as i64).collect();
            write_split(path, &images, FixtureLabels::ClassLabel(&labels, &classes), "img", "label").unwrap();
        }
    }
    let files = BTreeMap::from([
        ("plain_text/train-00000-of-00001.parquet".to_string(), std::fs::read(&train_file).unwrap()),
        ("plain_text/test-00000-of-00001.parquet".to_string(), std::fs::read(&test_file).unwrap()),
    ]);
    let bytes: usize = files.values().map(Vec::len).sum();
    let hub = FakeHub::start(vec![FakeRepo::new("bench/cifar", files)]);
    let repo = HubRepo::parse("bench/cifar").unwrap();
    let request =
        HubRequest { repo: &repo, revision: "main", config: "", image_column: "", label_column: "", image_size: &[] };
    let client = || Some(Client::new(&hub.endpoint, None, true).unwrap());
    let data_dir = out.join("data");
    let time = |f: &dyn Fn()| {
        let started = Instant::now();
        f();
        started.elapsed().as_secs_f64()
    };
    let (mut first, mut decode, mut cached) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let _ = std::fs::remove_dir_all(&data_dir);
        first.push(time(&|| {
            load_with(&request, &data_dir, client(), true, true).unwrap();
        }));
        let pixels = data_dir.join("hf/bench/cifar/pixels");
        std::fs::remove_dir_all(&pixels).unwrap();
        decode.push(time(&|| {
            load_with(&request, &data_dir, client(), true, true).unwrap();
        }));
        cached.push(time(&|| {
            let data = load_with(&request, &data_dir, None, true, true).unwrap();
            assert_eq!(data.train.len() + data.test.len(), count);
        }));
    }
    println!(
        "{}",
        serde_json::json!({
            "images": count,
            "parquet_bytes": bytes,
            "parquet_dir": repo_dir.join("plain_text"),
            "threads": rayon::current_num_threads(),
            "first_start_s": median(first),
            "decode_s": median(decode),
            "cached_start_s": median(cached),
        })
    );
}

//! Which Parquet files of a repo hold which config and split, by the Hub's naming:
//! `{config}/{split}-00000-of-00001.parquet` (the `datasets` library's own repos),
//! `data/{split}-*.parquet` (`push_to_hub`, config "default"), and the `refs/convert/parquet`
//! branch's `{config}/{split}/0000.parquet`.

use std::collections::BTreeMap;

use super::client::RepoFile;

/// Config -> split -> its files, in shard order.
pub type Layout = BTreeMap<String, BTreeMap<String, Vec<RepoFile>>>;

/// The config a file's folder names when `push_to_hub` wrote it without one.
const DEFAULT_CONFIG: &str = "default";

/// The repo's Parquet files by config and split; other files are left out.
pub fn layout(files: &[RepoFile]) -> Layout {
    let mut out = Layout::new();
    for file in files.iter().filter(|f| f.path.ends_with(".parquet")) {
        let Some((config, split)) = classify(&file.path) else { continue };
        out.entry(config).or_default().entry(split).or_default().push(file.clone());
    }
    for splits in out.values_mut() {
        for files in splits.values_mut() {
            files.sort_by(|a, b| a.path.cmp(&b.path));
        }
    }
    out
}

/// (config, split) of one Parquet file's path, if it follows one of the Hub's namings.
fn classify(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let stem = parts.last()?.strip_suffix(".parquet")?;
    // `{split}-00000-of-00003` or `{split}-0000` or `{split}`: the split is before the shard.
    let split_of = |stem: &str| -> String {
        let split = stem.split('-').next().unwrap_or(stem);
        split.to_string()
    };
    match parts.as_slice() {
        [_file] => Some((DEFAULT_CONFIG.into(), split_of(stem))),
        ["data", _file] => Some((DEFAULT_CONFIG.into(), split_of(stem))),
        [config, "data", _file] => Some((config.to_string(), split_of(stem))),
        // refs/convert/parquet: {config}/{split}/0000.parquet (or partial-{split}/...).
        [config, split, _file] if stem.bytes().all(|b| b.is_ascii_digit()) => {
            Some((config.to_string(), split.trim_start_matches("partial-").to_string()))
        }
        [config, _file] => Some((config.to_string(), split_of(stem))),
        _ => None,
    }
}

/// The splits a run trains and tests on.
#[derive(Debug)]
pub struct Chosen {
    pub config: String,
    pub train: Vec<RepoFile>,
    pub test: Vec<RepoFile>,
    /// `test`, or `validation` where the repo has no test split.
    pub test_split: String,
}

/// The config (`wanted`, or the only one) and its train and test splits; each refusal lists
/// what the repo has and the key that picks it.
pub fn choose(layout: &Layout, wanted: &str, repo: &str) -> Result<Chosen, String> {
    let configs: Vec<&String> = layout.keys().collect();
    let list = |names: Vec<&String>| names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
    let config = match (wanted, configs.as_slice()) {
        (_, []) => {
            return Err(format!(
                "{repo} holds no Parquet files: it is not a data set the runner reads (an image column and a label column in Parquet, as the `datasets` library pushes them)"
            ));
        }
        ("", [only]) => only.to_string(),
        ("", _) => {
            return Err(format!("{repo} has several configs: {}; choose one with hf_config = \"NAME\"", list(configs)));
        }
        (wanted, _) if layout.contains_key(wanted) => wanted.to_string(),
        (wanted, _) => return Err(format!("{repo} has no config \"{wanted}\"; its configs: {}", list(configs))),
    };
    let splits = &layout[&config];
    let Some(train) = splits.get("train") else {
        return Err(format!(
            "{repo} (config {config}) has no train split; its splits: {}",
            list(splits.keys().collect())
        ));
    };
    let (test_split, test) = match (splits.get("test"), splits.get("validation")) {
        (Some(test), _) => ("test", test),
        (None, Some(validation)) => ("validation", validation),
        (None, None) => {
            return Err(format!(
                "{repo} (config {config}) has no test or validation split to test on; its splits: {}",
                list(splits.keys().collect())
            ));
        }
    };
    Ok(Chosen { config, train: train.clone(), test: test.clone(), test_split: test_split.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[&str]) -> Vec<RepoFile> {
        paths.iter().map(|p| RepoFile { path: p.to_string(), size: 1, sha256: None }).collect()
    }

    #[test]
    fn the_hubs_three_namings_give_config_and_split() {
        for (path, config, split) in [
            ("plain_text/train-00000-of-00001.parquet", "plain_text", "train"),
            ("mnist/test-00000-of-00001.parquet", "mnist", "test"),
            ("data/train-00001-of-00002-5a3b.parquet", "default", "train"),
            ("data/validation.parquet", "default", "validation"),
            ("plain_text/train/0000.parquet", "plain_text", "train"),
            ("default/partial-test/0001.parquet", "default", "test"),
            ("cfg/data/test-00000-of-00001.parquet", "cfg", "test"),
        ] {
            assert_eq!(classify(path), Some((config.to_string(), split.to_string())), "{path}");
        }
        assert_eq!(classify("a/b/c/d.parquet"), None);
    }

    #[test]
    fn one_config_is_taken_several_need_hf_config_and_validation_stands_in_for_test() {
        let layout = layout(&files(&[
            "a/train-00001-of-00002.parquet",
            "a/train-00000-of-00002.parquet",
            "a/test-00000-of-00001.parquet",
            "README.md",
        ]));
        let chosen = choose(&layout, "", "hf:o/r").unwrap();
        assert_eq!(chosen.config, "a");
        let train: Vec<&str> = chosen.train.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(train, ["a/train-00000-of-00002.parquet", "a/train-00001-of-00002.parquet"], "shard order");

        let two = layout_of(&["a/train-0.parquet", "a/test-0.parquet", "b/train-0.parquet", "b/validation-0.parquet"]);
        let err = choose(&two, "", "hf:o/r").unwrap_err();
        assert!(err.contains("several configs: a, b") && err.contains("hf_config"), "{err}");
        assert!(choose(&two, "c", "hf:o/r").unwrap_err().contains("no config \"c\"; its configs: a, b"));
        let b = choose(&two, "b", "hf:o/r").unwrap();
        assert_eq!(b.test_split, "validation");

        let lone = layout_of(&["x/train-0.parquet", "x/extra-0.parquet"]);
        let err = choose(&lone, "", "hf:o/r").unwrap_err();
        assert!(err.contains("no test or validation split") && err.contains("extra, train"), "{err}");
        assert!(choose(&layout_of(&["README.md"]), "", "hf:o/r").unwrap_err().contains("holds no Parquet files"));
    }

    fn layout_of(paths: &[&str]) -> Layout {
        layout(&files(paths))
    }
}

//! Layering: built-in defaults < TOML file < `RUNNER_*` environment < `--set key=value`.
//! Errors name the file, line and column (or the variable, or the `--set` argument) a value came from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Serialized};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use toml::de::{DeTable, DeValue};

use super::keys::{all_keys, check_key, check_sweep_axis, not_a_list, prefix_unknown};
use super::sets::parse_sets;
use super::sweep::{SweepError, Trial, expand};
use super::{Field, SEARCH_FIELDS, SLURM_FIELDS, Spec, field};
use crate::error::{Error, Result};

/// What the command line adds on top of the spec file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--set key=value` arguments, in order (later ones win).
    pub sets: Vec<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// Reads, layers and validates the spec at `path`, and expands it into its trials. The file is
/// read exactly once, so a pipe or `/dev/stdin` works like a file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<(Spec, Vec<Trial>)> {
    load_text(path, &read(path)?, overrides)
}

/// The text of the spec file at `path`.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::SpecRead { path: path.to_path_buf(), source })
}

/// [`load`] for a spec file already read; `path` names it in errors.
pub fn load_text(path: &Path, text: &str, overrides: &Overrides) -> Result<(Spec, Vec<Trial>)> {
    layer(path, text, overrides, true)
}

/// A run folder's spec.toml, as workers read it: the file alone (the coordinator resolved the
/// environment and `--set` into it when it wrote it).
pub fn load_run(path: &Path) -> Result<(Spec, Vec<Trial>)> {
    layer(path, &read(path)?, &Overrides::default(), false)
}

/// A spec as the run folder recorded it for one trial (`trials/<trial>/spec.toml`): the file
/// alone (no environment), checked like any spec, each error located in the file.
pub fn load_recorded(path: &Path) -> Result<Spec> {
    let (spec, _) = load_run(path)?;
    // A search trial's file keeps its `[search]` (it expands to samples again): what makes a
    // file hold more than one trial is a sweep.
    if !spec.sweep.is_empty() {
        return Err(Error::InvalidValue {
            origin: path.display().to_string(),
            key: "sweep".into(),
            message: "a trial's spec.toml holds one trial, not a sweep".into(),
        });
    }
    // The values it ran with (a sample's drawn ones included), each checked.
    spec.validate().map_err(|e| Error::InvalidValue {
        origin: path.display().to_string(),
        key: e.key.into(),
        message: e.message,
    })?;
    Ok(spec)
}

fn layer(path: &Path, text: &str, overrides: &Overrides, with_env: bool) -> Result<(Spec, Vec<Trial>)> {
    let file = SpecFile::parse(path, text)?;
    let sets = parse_sets(&overrides.sets)?;
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| Error::SpecSyntax { origin: path.display().to_string(), message: e.message().to_string() })?;

    let figment = layers(table, sets.table.clone(), overrides, with_env);
    let origins = Origins { figment: &figment, file: &file, sets: &sets.args };

    let spec: Spec = figment.extract().map_err(|e| origins.figment_error(e))?;
    let trials = expand(&spec).map_err(|e| origins.sweep_error(e))?;
    Ok((spec, trials))
}

/// Defaults, then the file's `table`, the environment (`with_env`), `--set` and `--data-dir`.
fn layers(table: toml::Table, sets: toml::Table, overrides: &Overrides, with_env: bool) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(Spec::default())).merge(Layer::new(FILE_LAYER, table));
    if with_env {
        figment = figment.merge(
            Env::prefixed("RUNNER_")
                .filter(|key| field(&key.as_str().to_ascii_lowercase()).is_some_and(Field::from_env)),
        );
    }
    figment = figment.merge(Layer::new("--set", sets));
    if let Some(dir) = &overrides.data_dir {
        let mut table = toml::Table::new();
        table.insert("data_dir".into(), dir.display().to_string().into());
        figment = figment.merge(Layer::new("--data-dir", table));
    }
    figment
}

/// Where the value of `key` in the spec [`load`] gave came from (`file:line:col`, `--set ...`,
/// an environment variable), for the checks that can only be made once the data is read (an
/// image folder's).
pub fn locate(path: &Path, overrides: &Overrides, key: &str) -> String {
    let located = || -> Result<String> {
        let text = read(path)?;
        let file = SpecFile::parse(path, &text)?;
        let sets = parse_sets(&overrides.sets)?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| Error::SpecSyntax { origin: path.display().to_string(), message: e.message().to_string() })?;
        let figment = layers(table, sets.table.clone(), overrides, true);
        Ok(Origins { figment: &figment, file: &file, sets: &sets.args }.of(key))
    };
    located().unwrap_or_else(|_| path.display().to_string())
}

/// The name of the layer that holds the spec file's values.
const FILE_LAYER: &str = "spec file";

/// The keys that hold a table, and what to say when one holds something else.
const TABLE_EXAMPLES: [(&str, &str); 3] = [
    ("search", "must be a table, e.g.\n  [search]\n  method = \"random\"\n  trials = 20"),
    ("slurm", "must be a table, e.g.\n  [slurm]\n  partition = \"gpu\"\n  time = \"01:00:00\""),
    ("sweep", "must be a table of lists, e.g.\n  [sweep]\n  model = [\"nn\", \"cnn\"]"),
];

/// The spec file's own checks (syntax, key names, sweep shape), with positions of every key.
struct SpecFile {
    path: PathBuf,
    /// "lr" -> (line, column); "sweep.lr" and "sweep.lr[1]" for sweep entries.
    positions: HashMap<String, (usize, usize)>,
}

impl SpecFile {
    fn parse(path: &Path, text: &str) -> Result<SpecFile> {
        let at = |offset: usize| {
            let (line, col) = line_col(text, offset);
            format!("{}:{line}:{col}", path.display())
        };
        let doc = DeTable::parse(text).map_err(|e| Error::SpecSyntax {
            origin: e.span().map_or_else(|| path.display().to_string(), |s| at(s.start)),
            message: e.message().to_string(),
        })?;
        let mut positions = HashMap::new();
        let mut place = |key: String, offset: usize| positions.insert(key, line_col(text, offset));
        for (key, value) in doc.get_ref() {
            let name: &str = key.get_ref();
            place(name.to_string(), key.span().start);
            check_key(name, &all_keys(), || at(key.span().start))?;
            let Some(example) = TABLE_EXAMPLES.iter().find(|(table, _)| *table == name).map(|(_, e)| *e) else {
                continue;
            };
            let Some(table) = value.get_ref().as_table() else {
                return Err(Error::InvalidValue {
                    origin: at(value.span().start),
                    key: name.into(),
                    message: example.into(),
                });
            };
            for (inner, inner_value) in table {
                let inner_name: &str = inner.get_ref();
                let key_path = format!("{name}.{inner_name}");
                let origin = || at(inner.span().start);
                match name {
                    "sweep" => {
                        check_sweep_axis(inner_name, origin)?;
                        let DeValue::Array(list) = inner_value.get_ref() else {
                            return Err(not_a_list(&key_path, at(inner_value.span().start)));
                        };
                        if list.is_empty() {
                            return Err(not_a_list(&key_path, at(inner_value.span().start)));
                        }
                        for (i, item) in list.iter().enumerate() {
                            place(format!("{key_path}[{i}]"), item.span().start);
                        }
                    }
                    _ => {
                        let allowed = if name == "search" { SEARCH_FIELDS } else { SLURM_FIELDS };
                        check_key(inner_name, allowed, origin).map_err(|e| prefix_unknown(e, &format!("{name}.")))?;
                        if key_path == "search.space"
                            && let Some(space) = inner_value.get_ref().as_table()
                        {
                            for (key, value) in space {
                                let at = format!("search.space.{}", key.get_ref());
                                if let DeValue::Array(list) = value.get_ref() {
                                    for (i, item) in list.iter().enumerate() {
                                        place(format!("{at}[{i}]"), item.span().start);
                                    }
                                }
                                place(at, key.span().start);
                            }
                        }
                    }
                }
                place(key_path, inner.span().start);
            }
        }
        Ok(SpecFile { path: path.to_path_buf(), positions })
    }

    fn origin(&self, key: &str) -> String {
        match self.positions.get(key) {
            Some((line, col)) => format!("{}:{line}:{col}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A named layer of values from the command line.
struct Layer {
    name: &'static str,
    table: toml::Table,
}

impl Layer {
    fn new(name: &'static str, table: toml::Table) -> Layer {
        Layer { name, table }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Serialized::defaults(&self.table).data()
    }
}

/// Turns a key into the place its value came from.
struct Origins<'a> {
    figment: &'a Figment,
    file: &'a SpecFile,
    sets: &'a HashMap<String, String>,
}

impl Origins<'_> {
    /// `key` is "lr", "sweep.lr", "sweep.lr[1]" or a path into a value such as "hidden.0".
    fn of(&self, key: &str) -> String {
        let base = key.split('[').next().unwrap_or(key);
        // The layer that set the key, or the nearest enclosing key (a list's, for its items).
        let found = std::iter::successors(Some(base), |k| k.rsplit_once('.').map(|(parent, _)| parent))
            .find_map(|k| Some((k, self.figment.find_metadata(k)?)));
        let Some((base, meta)) = found else {
            return self.file.origin(key);
        };
        match meta.name.as_ref() {
            FILE_LAYER => self.file.origin(if base.starts_with("sweep.") || base.starts_with("search.space.") {
                key
            } else {
                base
            }),
            "--set" if base.starts_with("slurm.") || base.starts_with("search.") => {
                let table = base.split('.').next().unwrap_or(base);
                format!("--set {}", self.sets.get(table).map_or(base, |a| a.as_str()))
            }
            "--set" => format!("--set {}", self.sets.get(base).map_or(base, |a| a.as_str())),
            "--data-dir" => "--data-dir".into(),
            name if name.contains("environment") => {
                format!("environment variable RUNNER_{}", base.to_uppercase())
            }
            _ => "built-in default".into(),
        }
    }

    fn figment_error(&self, error: figment::Error) -> Error {
        let key = error.path.join(".");
        let message = match &error.kind {
            figment::error::Kind::UnknownVariant(found, allowed) => {
                format!("unknown value \"{found}\"; allowed: {}", allowed.join(", "))
            }
            figment::error::Kind::InvalidType(found, expected) => {
                format!("expected {}, found {found}", friendly_type(expected))
            }
            figment::error::Kind::InvalidValue(found, expected) => {
                format!("expected {}, found {found}", friendly_type(expected))
            }
            kind => kind.to_string(),
        };
        Error::InvalidValue { origin: self.of(&key), key, message }
    }

    fn sweep_error(&self, error: SweepError) -> Error {
        let (origin, key) = match error.value_index {
            Some(i) => (self.of(&format!("sweep.{}[{i}]", error.key)), format!("sweep.{}", error.key)),
            None => (self.of(&error.key), error.key),
        };
        Error::InvalidValue { origin, key, message: error.message }
    }
}

fn friendly_type(expected: &str) -> String {
    match expected {
        "u32" | "u64" => "a non-negative integer".into(),
        "i64" => "an integer".into(),
        "f64" => "a number".into(),
        "a string" | "a sequence" => expected.into(),
        other => other.into(),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error
mod tests {
    use super::*;
    use crate::spec::{BackendName, ModelKind};
    use figment::Jail;

    fn load_str(jail: &mut Jail, text: &str, sets: &[&str]) -> Result<(Spec, Vec<Trial>)> {
        jail.create_file("spec.toml", text).unwrap();
        let overrides = Overrides { sets: sets.iter().map(|s| s.to_string()).collect(), data_dir: None };
        load(Path::new("spec.toml"), &overrides)
    }

    fn message(result: Result<(Spec, Vec<Trial>)>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn layers_defaults_file_env_and_sets_in_order() {
        Jail::expect_with(|jail| {
            let text = "name = \"x\"\nlr = 0.5\nepochs = 3\nbatch_size = 10\n";
            let (spec, _) = load_str(jail, text, &[]).unwrap();
            assert_eq!((spec.lr, spec.epochs, spec.batch_size), (0.5, 3, 10));
            assert_eq!(spec.model, ModelKind::Cnn, "default kept");

            jail.set_env("RUNNER_LR", "0.25");
            jail.set_env("RUNNER_BACKEND", "ndarray");
            let (spec, _) = load_str(jail, text, &[]).unwrap();
            assert_eq!((spec.lr, spec.backend), (0.25, BackendName::Ndarray));

            let (spec, _) = load_str(jail, text, &["lr=0.125", "epochs=7", "lr=0.0625"]).unwrap();
            assert_eq!((spec.lr, spec.epochs), (0.0625, 7), "--set wins, last one first");
            Ok(())
        });
    }

    #[test]
    fn ci_variables_named_like_ours_are_ignored() {
        Jail::expect_with(|jail| {
            jail.set_env("RUNNER_NAME", "GitHub Actions 2");
            jail.set_env("RUNNER_OS", "Linux");
            let (spec, _) = load_str(jail, "name = \"mine\"\n", &[]).unwrap();
            assert_eq!(spec.name, "mine");
            Ok(())
        });
    }

    #[test]
    fn errors_point_at_line_and_column() {
        Jail::expect_with(|jail| {
            let err = message(load_str(jail, "lr = 0.1\nepochs = \"five\"\n", &[]));
            assert!(err.starts_with("spec.toml:2:1: `epochs`: expected a non-negative integer"), "{err}");

            let err = message(load_str(jail, "lr = 0.1\nlrr = 0.2\n", &[]));
            assert!(err.starts_with("spec.toml:2:1: unknown key `lrr` (did you mean `lr`?)"), "{err}");

            let err = message(load_str(jail, "model = \"rnn\"\n", &[]));
            assert!(err.contains("spec.toml:1:1: `model`: unknown value \"rnn\"; allowed: nn, cnn"), "{err}");

            let err = message(load_str(jail, "epochs = 5\nlr = [\n", &[]));
            assert!(err.starts_with("spec.toml:2:"), "{err}");
            assert!(err.contains("invalid TOML"), "{err}");

            let err = message(load_str(jail, "\n\nlr = -1.0\n", &[]));
            assert!(err.starts_with("spec.toml:3:1: `lr`: must be a finite number greater than 0"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn sweep_shape_errors() {
        Jail::expect_with(|jail| {
            let err = message(load_str(jail, "[sweep]\nlr = []\n", &[]));
            assert!(err.contains("spec.toml:2:6: `sweep.lr`: must be a non-empty list"), "{err}");
            let err = message(load_str(jail, "[sweep]\nlr = 0.1\n", &[]));
            assert!(err.contains("`sweep.lr`: must be a non-empty list"), "{err}");
            let err = message(load_str(jail, "[sweep]\nlearning_rate = [0.1]\n", &[]));
            assert!(err.contains("unknown key `sweep.learning_rate`"), "{err}");
            let err = message(load_str(jail, "[sweep]\nname = [\"a\"]\n", &[]));
            assert!(err.contains("`name` cannot be swept"), "{err}");
            let err = message(load_str(jail, "sweep = 3\n", &[]));
            assert!(err.contains("`sweep`: must be a table"), "{err}");
            let err = message(load_str(jail, "[sweep]\nlr = [0.1, -2.0]\n", &[]));
            assert!(err.starts_with("spec.toml:2:12: `sweep.lr`: must be a finite number"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn set_errors_name_the_argument() {
        Jail::expect_with(|jail| {
            let err = message(load_str(jail, "", &["lr"]));
            assert!(err.contains("--set \"lr\": expected KEY=VALUE"), "{err}");
            let err = message(load_str(jail, "", &["epoch=3"]));
            assert!(err.contains("--set epoch=3: unknown key `epoch` (did you mean `epochs`?)"), "{err}");
            let err = message(load_str(jail, "", &["epochs=0"]));
            assert!(err.contains("--set epochs=0: `epochs`: must be at least 1"), "{err}");
            let err = message(load_str(jail, "", &["sweep.lr=0.1"]));
            assert!(err.contains("must be a non-empty list"), "{err}");
            let err = message(load_str(jail, "", &["hidden=[-1]"]));
            assert!(err.starts_with("--set hidden=[-1]: `hidden"), "{err}");
            let err = message(load_str(jail, "epochs = 2\nhidden = [3, -1]\n", &[]));
            assert!(err.starts_with("spec.toml:2:1: `hidden"), "{err}");
            jail.set_env("RUNNER_BATCH_SIZE", "0");
            let err = message(load_str(jail, "", &[]));
            assert!(err.contains("environment variable RUNNER_BATCH_SIZE: `batch_size`: must be at least 1"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn recorded_trial_specs_are_validated_without_the_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("RUNNER_LR", "0.5");
            jail.create_file("trial.toml", "lr = 0.25\nepochs = 2\n").unwrap();
            assert_eq!(load_recorded(Path::new("trial.toml")).unwrap().lr, 0.25);
            jail.create_file("trial.toml", "epochs = 2\nmean = []\n").unwrap();
            let err = load_recorded(Path::new("trial.toml")).unwrap_err().to_string();
            assert!(err.starts_with("trial.toml:2:1: `mean`: needs 1 value"), "{err}");
            jail.create_file("trial.toml", "threads = 100000\n").unwrap();
            let err = load_recorded(Path::new("trial.toml")).unwrap_err().to_string();
            assert!(err.starts_with("trial.toml:1:1: `threads`"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn slurm_table_errors_are_located() {
        Jail::expect_with(|jail| {
            let err = message(load_str(jail, "epochs = 1\n[slurm]\npartiton = \"gpu\"\n", &[]));
            assert!(
                err.starts_with("spec.toml:3:1: unknown key `slurm.partiton` (did you mean `slurm.partition`?)"),
                "{err}"
            );
            let err = message(load_str(jail, "[slurm]\ntime = \"1 hour\"\n", &[]));
            assert!(err.starts_with("spec.toml:2:1: `slurm.time`: must be a Slurm time limit"), "{err}");
            let err = message(load_str(jail, "[slurm]\nmax_parallel = -2\n", &[]));
            assert!(err.starts_with("spec.toml:2:1: `slurm.max_parallel`"), "{err}");
            let err = message(load_str(jail, "[slurm]\nextra = [\"--qos=x\\n#SBATCH --x\"]\n", &[]));
            assert!(err.contains("`slurm.extra`: each item must be one sbatch option"), "{err}");
            let err = message(load_str(jail, "[sweep]\nslurm = [1]\n", &[]));
            assert!(err.contains("`slurm` cannot be swept"), "{err}");
            let (spec, _) =
                load_str(jail, "[slurm]\npartition = \"gpu\"\nmem = \"4G\"\nextra = [\"--qos=short\"]\n", &[]).unwrap();
            assert_eq!((spec.slurm.partition.as_str(), spec.slurm.mem.as_str()), ("gpu", "4G"));
            Ok(())
        });
    }

    #[test]
    fn sets_can_add_a_sweep_and_strings_need_no_quotes() {
        Jail::expect_with(|jail| {
            let (spec, trials) = load_str(jail, "", &["model=nn", "sweep.lr=[0.1, 0.01]"]).unwrap();
            assert_eq!(spec.model, ModelKind::Nn);
            assert_eq!(trials.len(), 2);
            Ok(())
        });
    }
}

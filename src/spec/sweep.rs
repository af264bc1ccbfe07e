//! Grid expansion: a spec with `[sweep]` lists becomes the cartesian product of its trials, and
//! with `[search]` each grid point gets its sampled trials (see `search`).

use serde::Serialize;

use super::Spec;
use super::rounds::Round;
use super::search::{Distribution, SearchMethod, display_sample, stream};

/// One point of the grid: a complete spec with no sweep left, and a name built from the swept values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    pub index: usize,
    /// `model=cnn,lr=0.01`, or the experiment name when nothing is swept. Filesystem-safe.
    pub name: String,
    /// The swept and searched keys and this trial's values, as written in the spec (sampled
    /// values rounded; the spec holds them exactly).
    pub swept: Vec<(String, String)>,
    pub spec: Spec,
    /// Its grid point: with ASHA, trials of one grid point compete with each other; with TPE,
    /// they are one study.
    pub group: usize,
    /// A TPE trial's round, and whether its values have been drawn (`run::draws` fills them in
    /// from the run folder's draw files); None for other trials.
    pub round: Option<Round>,
}

impl Trial {
    /// Folder name under `trials/`: the index keeps trials sorted and unique.
    pub fn dir_name(&self) -> String {
        format!("{:03}_{}", self.index, self.name)
    }

    /// Its values of the per-trial `keys` for a table: as swept (sampled values rounded), else
    /// as the spec sets them; "-" for an optional key left unset.
    pub fn values_text(&self, keys: &[String]) -> Vec<String> {
        let table = self.spec.to_table();
        keys.iter()
            .map(|key| match self.swept.iter().find(|(k, _)| k == key) {
                _ if !self.spec.applies(key) => NOT_APPLICABLE.to_string(),
                Some((_, value)) => value.clone(),
                None => table.get(key).map_or_else(|| NOT_APPLICABLE.to_string(), display_value),
            })
            .collect()
    }

    /// A TPE trial whose values are drawn once the rounds before it have ended.
    pub fn undrawn(&self) -> bool {
        self.round.is_some_and(|r| !r.drawn)
    }

    /// "lr=0.005384, optimizer=adam": its values of the searched keys that apply to it (rounded),
    /// what tells a sampled or drawn trial apart when its name does not.
    pub fn searched_text(&self) -> String {
        let space = &self.spec.search.space;
        let values: Vec<String> = self
            .swept
            .iter()
            .filter(|(k, v)| space.contains_key(k) && v != NOT_APPLICABLE)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        values.join(", ")
    }

    /// Its exact values of `keys` (as TOML writes them; never rounded), "-" for a key that does
    /// not apply to it (conv keys of an NN, momentum of Adam): what tells configurations apart.
    pub fn values_exact(&self, keys: &[String]) -> Vec<String> {
        let table = self.spec.to_table();
        keys.iter()
            .map(|key| match table.get(key) {
                Some(value) if self.spec.applies(key) => value.to_string(),
                _ => NOT_APPLICABLE.to_string(),
            })
            .collect()
    }
}

/// A key's value where the key does not apply (or is unset).
pub const NOT_APPLICABLE: &str = "-";

/// The keys whose values tell `trials` apart, for grouping results: those of
/// [`distinguishing_keys`], then every other key that changes what a trial computes (or its
/// backend) and is not the same in all of them (runs set apart by an unswept `lr` are not seeds of
/// one configuration).
pub fn differing_keys<'a>(trials: impl IntoIterator<Item = &'a Trial> + Clone) -> Vec<String> {
    let mut keys = distinguishing_keys(trials.clone());
    let tables: Vec<toml::Table> = trials.into_iter().map(|t| t.spec.to_table()).collect();
    // Threads and the device index change how fast a trial runs, not what it computes.
    for field in super::FIELDS.iter().filter(|f| f.sweepable() && !["threads", "device"].contains(&f.name)) {
        let mut values = tables.iter().map(|t| t.get(field.name));
        let first = values.next().flatten();
        if !keys.iter().any(|k| k == field.name) && values.any(|v| v != first) {
            keys.push(field.name.to_string());
        }
    }
    keys
}

/// The keys that tell `trials` apart: "model" and "dataset" always, then every other key they
/// sweep or search, in order of first appearance.
pub fn distinguishing_keys<'a>(trials: impl IntoIterator<Item = &'a Trial>) -> Vec<String> {
    let mut keys = vec!["model".to_string(), "dataset".to_string()];
    for trial in trials {
        for (key, _) in &trial.swept {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    keys
}

/// A value in the sweep that is wrong; `value_index` is its place in the list.
#[derive(Debug, PartialEq)]
pub struct SweepError {
    pub key: String,
    pub value_index: Option<usize>,
    pub message: String,
}

/// Expands `spec` into its trials (one when there is no sweep), each one validated.
/// The first sweep key (alphabetically) varies slowest.
pub fn expand(spec: &Spec) -> Result<Vec<Trial>, SweepError> {
    let base = Spec { sweep: Default::default(), ..spec.clone() };
    let axes: Vec<(&String, &Vec<toml::Value>)> = spec.sweep.iter().collect();
    for (key, values) in &axes {
        check_axis(&base, key, values)?;
    }
    let space = check_search(spec, &base)?;
    let samples = if spec.search.samples() { spec.search.trials as usize } else { 1 };

    let points = sweep_size(&axes)?;
    let total = match points.checked_mul(samples) {
        Some(n) if n <= MAX_TRIALS => n,
        _ => {
            return Err(SweepError {
                key: "search.trials".into(),
                value_index: None,
                message: format!(
                    "{points} grid points x {samples} samples is more than the limit of {MAX_TRIALS} trials per run"
                ),
            });
        }
    };
    let mut trials = Vec::with_capacity(total);
    for index in 0..total {
        let (point, sample) = (index / samples, index % samples);
        // Mixed-radix digits of the grid point, the last axis varying fastest.
        let mut rest = point;
        let mut picks = vec![0; axes.len()];
        for (slot, (_, values)) in picks.iter_mut().zip(&axes).rev() {
            *slot = rest % values.len();
            rest /= values.len();
        }
        let mut table = base.to_table();
        let mut swept = Vec::new();
        for ((key, values), &pick) in axes.iter().zip(&picks) {
            table.insert(key.to_string(), values[pick].clone());
            swept.push((key.to_string(), display_value(&values[pick])));
        }
        let tpe = spec.search.method == SearchMethod::Tpe;
        if spec.search.samples() && !tpe {
            let mut rng = stream(spec.search.seed, point, sample);
            for (key, distribution) in &space {
                let value = distribution.sample(&mut rng);
                swept.push((key.clone(), display_sample(&value)));
                table.insert(key.clone(), value);
            }
        }
        let searched: Vec<String> = if tpe { Vec::new() } else { space.iter().map(|(k, _)| k.clone()).collect() };
        let trial_spec = spec_of(table, &searched, &mut swept).map_err(|message| SweepError {
            key: "sweep".into(),
            value_index: None,
            message,
        })?;
        if let Err(e) = trial_spec.validate() {
            let value_index = axes.iter().zip(&picks).find(|((k, _), _)| k.as_str() == e.key);
            let searched = space.iter().find(|(k, _)| k.as_str() == e.key);
            return Err(match (value_index, searched) {
                (Some(((key, _), &pick)), _) => {
                    SweepError { key: key.to_string(), value_index: Some(pick), message: e.message }
                }
                (None, Some((key, _))) => SweepError {
                    key: format!("search.space.{key}"),
                    value_index: None,
                    message: format!(
                        "trial {index} drew {} = {}, which is out of range: {}; narrow the distribution",
                        key,
                        swept.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str()),
                        e.message
                    ),
                },
                (None, None) => SweepError { key: e.key.into(), value_index: None, message: e.message },
            });
        }
        // A TPE trial's values are drawn when its round comes: its name says the round.
        let round = tpe.then(|| Round { number: spec.search.round_of(sample), drawn: false });
        let mut parts: Vec<String> = swept.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.extend(round.map(|r| format!("round={}", r.number)));
        let name = if parts.is_empty() { trial_spec.name.clone() } else { safe_component(&parts.join(",")) };
        trials.push(Trial { index, name, swept, spec: trial_spec, group: point, round });
    }
    Ok(trials)
}

/// The spec of a trial's `table`. A `searched` key that does not apply to the trial's other values
/// (momentum with adam) keeps its default, and `swept` shows "-" for it: drawn first all the same,
/// so that every other value is the one the search's stream gives.
pub(super) fn spec_of(
    mut table: toml::Table,
    searched: &[String],
    swept: &mut [(String, String)],
) -> Result<Spec, String> {
    for key in searched {
        if let Some(value) = table.remove(key) {
            table.insert(key.clone(), as_drawn(key, value));
        }
    }
    let trial_spec = Spec::deserialize_table(table.clone())?;
    let unused: Vec<&String> = searched.iter().filter(|k| !trial_spec.applies(k)).collect();
    if unused.is_empty() {
        return Ok(trial_spec);
    }
    for key in unused {
        match default_table().get(key) {
            Some(value) => table.insert(key.clone(), value.clone()),
            None => table.remove(key),
        };
        if let Some(entry) = swept.iter_mut().find(|(k, _)| k == key) {
            entry.1 = "-".into();
        }
    }
    Spec::deserialize_table(table)
}

/// A drawn number for a list key (`hidden = { int_uniform = [32, 512] }`) is a list of one: one
/// hidden layer of that width.
pub(super) fn as_drawn(key: &str, value: toml::Value) -> toml::Value {
    let list_key = default_table().get(key).is_some_and(toml::Value::is_array);
    match value {
        toml::Value::Integer(_) | toml::Value::Float(_) if list_key => toml::Value::Array(vec![value]),
        other => other,
    }
}

/// The default spec as a table, made once: read for every sampled trial.
fn default_table() -> &'static toml::Table {
    static DEFAULTS: std::sync::OnceLock<toml::Table> = std::sync::OnceLock::new();
    DEFAULTS.get_or_init(|| Spec::default().to_table())
}

/// Checks `[search]` against the rest of the spec; returns its space, parsed, in key order.
fn check_search(spec: &Spec, base: &Spec) -> Result<Vec<(String, Distribution)>, SweepError> {
    let search = &spec.search;
    let fail = |key: &str, message: String| Err(SweepError { key: key.to_string(), value_index: None, message });
    check_tpe(spec)?;
    if !search.samples() {
        if !search.space.is_empty() {
            return fail(
                "search.space",
                "is searched by method = \"random\", \"asha\" or \"tpe\"; set search.method".into(),
            );
        }
        return Ok(Vec::new());
    }
    if search.trials == 0 {
        return fail(
            "search.trials",
            format!("method = \"{}\" needs the number of trials per grid point, e.g. trials = 20", search.method),
        );
    }
    if search.prunes() {
        if search.reduction_factor < 2 {
            return fail(
                "search.reduction_factor",
                "must be at least 2 (3 keeps a third of the trials at each rung)".into(),
            );
        }
        if search.min_epochs == 0 || search.min_epochs > spec.epochs {
            return fail("search.min_epochs", format!("must be in 1..=epochs ({})", spec.epochs));
        }
        if spec.val_split == 0.0 && !search.space.contains_key("val_split") && search.method == SearchMethod::Asha {
            return fail(
                "search.method",
                "asha prunes on a validation metric: set val_split (e.g. 0.1); pruning on the test set would leak it into the search".into(),
            );
        }
    }
    let sweepable = super::sweepable();
    let mut space = Vec::new();
    for (key, value) in &search.space {
        let at = format!("search.space.{key}");
        if !sweepable.contains(&key.as_str()) {
            return fail(&at, format!("`{key}` cannot be searched; searchable keys: {}", sweepable.join(", ")));
        }
        if spec.sweep.contains_key(key) {
            return fail(&at, format!("`{key}` is also in [sweep]: grid it or search it, not both"));
        }
        let distribution =
            Distribution::parse(value).map_err(|message| SweepError { key: at.clone(), value_index: None, message })?;
        if key == "val_split" && search.method != SearchMethod::Random && distribution.can_draw_zero() {
            return fail(
                &at,
                format!(
                    "can draw 0 (no validation split), and {} on a validation metric: draw from values above 0",
                    if search.method == SearchMethod::Asha { "asha prunes" } else { "tpe chooses" }
                ),
            );
        }
        if search.method == SearchMethod::Tpe && super::rounds::FIXED_FOR_TPE.contains(&key.as_str()) {
            return fail(
                &at,
                format!(
                    "`{key}` decides the data or the device, which a run reads before its first round is drawn: \
                     sweep it in [sweep] instead (each grid point is a TPE search of its own)"
                ),
            );
        }
        // Each listed value of the right type? Located at its place in the list.
        if let Distribution::Choice(values) = &distribution
            && let Err(e) = check_axis(base, key, values)
        {
            let i = e.value_index.unwrap_or(0);
            return fail(&format!("{at}[{i}]"), format!("value {} of the list: {}", i + 1, e.message));
        }
        // A value of the right type? (e.g. uniform floats for an integer key)
        let mut table = base.to_table();
        table.insert(key.clone(), as_drawn(key, distribution.sample(&mut stream(0, 0, 0))));
        if let Err(e) = Spec::deserialize_table(table) {
            return fail(&at, format!("draws values `{key}` cannot take: {e}"));
        }
        if search.method == SearchMethod::Tpe {
            // Its values are drawn while the run goes on: each one it can draw must be valid now.
            for value in super::rounds::extremes(&distribution) {
                let mut table = base.to_table();
                table.insert(key.clone(), as_drawn(key, value.clone()));
                let Ok(drawn) = Spec::deserialize_table(table) else { continue };
                if let Err(e) = drawn.validate().or_else(|e| if e.key == key.as_str() { Err(e) } else { Ok(()) }) {
                    return fail(
                        &at,
                        format!(
                            "can draw {key} = {}, which is out of range: {}; narrow the distribution",
                            display_sample(&value),
                            e.message
                        ),
                    );
                }
            }
        }
        space.push((key.clone(), distribution));
    }
    Ok(space)
}

/// `method = "tpe"`'s own checks, and its keys refused with any other method.
fn check_tpe(spec: &Spec) -> Result<(), SweepError> {
    let search = &spec.search;
    let fail = |key: &str, message: String| Err(SweepError { key: key.to_string(), value_index: None, message });
    if search.method != SearchMethod::Tpe {
        // Written out only when set to other than their defaults.
        let table = toml::Table::try_from(search).unwrap_or_default();
        let set = ["parallel", "prune"].iter().chain(super::search::TPE_FIELDS).find(|k| table.contains_key(**k));
        return match set {
            Some(key) => fail(
                &format!("search.{key}"),
                format!("is read by method = \"tpe\" only (this search is method = \"{}\")", search.method),
            ),
            None => Ok(()),
        };
    }
    if spec.val_split == 0.0 && !search.space.contains_key("val_split") {
        return fail(
            "search.method",
            "tpe chooses its next trials by their validation accuracy: set val_split (e.g. 0.1); choosing on the test set would leak it into the search".into(),
        );
    }
    if search.space.is_empty() {
        return fail(
            "search.space",
            "tpe needs at least one key to search, e.g.\n  [search.space]\n  lr = { log_uniform = [1e-4, 0.3] }".into(),
        );
    }
    if search.parallel == 0 {
        return fail(
            "search.parallel",
            "must be at least 1: the trials drawn per round (1 draws each trial from all the trials before it)".into(),
        );
    }
    if search.n_ei_candidates == 0 {
        return fail("search.n_ei_candidates", "must be at least 1 (Optuna's default is 24)".into());
    }
    if !(search.prior_weight.is_finite() && search.prior_weight > 0.0) {
        return fail("search.prior_weight", "must be a finite number greater than 0 (Optuna's default is 1.0)".into());
    }
    if search.group && !search.multivariate {
        return fail("search.group", "needs multivariate = true, as in Optuna (or set group = false)".into());
    }
    Ok(())
}

/// The most trials one sweep may have (README: Sweeps). Counted before anything is allocated.
pub const MAX_TRIALS: usize = 1_000_000;

/// The number of trials of the grid, refused when it is above [`MAX_TRIALS`].
fn sweep_size(axes: &[(&String, &Vec<toml::Value>)]) -> Result<usize, SweepError> {
    let total = axes.iter().try_fold(1usize, |n, (_, values)| n.checked_mul(values.len()));
    match total {
        Some(n) if n <= MAX_TRIALS => Ok(n),
        _ => {
            let sizes: Vec<String> = axes.iter().map(|(k, v)| format!("{} {k}", v.len())).collect();
            let count = total.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string());
            Err(SweepError {
                key: "sweep".into(),
                value_index: None,
                message: format!(
                    "{count} trials ({}) is more than the limit of {MAX_TRIALS} trials per run; \
                     sweep fewer values, or split the sweep into several runs",
                    sizes.join(" x ")
                ),
            })
        }
    }
}

/// Each value of an axis must have the field's type, and appear once, compared as the field's
/// type (`lr = [1, 1.0]` lists one value twice).
fn check_axis(base: &Spec, key: &str, values: &[toml::Value]) -> Result<(), SweepError> {
    let error = |i, message: String| SweepError { key: key.to_string(), value_index: Some(i), message };
    let mut seen: Vec<toml::Value> = Vec::with_capacity(values.len());
    let expected = base.to_table().get(key).map(toml::Value::type_str);
    for (i, value) in values.iter().enumerate() {
        let mut table = base.to_table();
        table.insert(key.to_string(), value.clone());
        // A key may take values of several types (`padding`: 0 or "same"): refused only when the
        // field cannot take it, then saying which type, not what serde says of an enum given a
        // number ("unit variant").
        let spec = Spec::deserialize_table(table).map_err(|e| {
            let widens = expected == Some("float") && value.is_integer();
            // The field's own words when it has them ("padding takes 0 or \"same\"").
            let serde_words = e.starts_with("invalid type") || e.contains("variant");
            match expected.filter(|t| *t != value.type_str() && !widens && serde_words) {
                Some(expected) => {
                    error(i, format!("`{key}` takes {}, found {} {value}", a(expected), a(value.type_str())))
                }
                None => error(i, e),
            }
        })?;
        let typed = spec.to_table().remove(key).unwrap_or_else(|| value.clone());
        if seen.contains(&typed) {
            return Err(error(i, format!("{} is listed twice", display_value(value))));
        }
        seen.push(typed);
    }
    Ok(())
}

/// "a string", "an integer".
fn a(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {type_name}")
}

impl Spec {
    fn deserialize_table(table: toml::Table) -> Result<Spec, String> {
        table.try_into().map_err(|e: toml::de::Error| e.message().trim().to_string())
    }
}

/// `cnn`, `0.01`, `[256, 128]` -> `256-128`.
pub fn display_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(display_value).collect::<Vec<_>>().join("-"),
        other => other.to_string(),
    }
}

/// Keeps letters, digits and `-_.,=+`; anything else becomes `_`. Never empty, never hidden.
fn safe_component(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.,=+".contains(c) { c } else { '_' })
        .take(120)
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DatasetName, ModelKind};

    fn with_sweep(axes: &[(&str, Vec<toml::Value>)]) -> Spec {
        Spec { sweep: axes.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), ..Spec::default() }
    }

    fn s(v: &str) -> toml::Value {
        toml::Value::String(v.into())
    }

    #[test]
    fn no_sweep_is_one_trial_named_after_the_experiment() {
        let trials = expand(&Spec::default()).unwrap();
        assert_eq!(trials.len(), 1);
        assert_eq!(trials[0].name, "experiment");
        assert_eq!(trials[0].dir_name(), "000_experiment");
        assert!(trials[0].swept.is_empty());
    }

    #[test]
    fn cartesian_product_first_key_slowest() {
        let spec = with_sweep(&[
            ("model", vec![s("nn"), s("cnn")]),
            ("lr", vec![0.1.into(), 0.01.into()]),
            ("dataset", vec![s("mnist"), s("fashion-mnist"), s("cifar10")]),
        ]);
        let trials = expand(&spec).unwrap();
        assert_eq!(trials.len(), 12);
        // Keys are ordered alphabetically: dataset, lr, model.
        assert_eq!(trials[0].name, "dataset=mnist,lr=0.1,model=nn");
        assert_eq!(trials[1].name, "dataset=mnist,lr=0.1,model=cnn");
        assert_eq!(trials[2].name, "dataset=mnist,lr=0.01,model=nn");
        assert_eq!(trials[11].name, "dataset=cifar10,lr=0.01,model=cnn");
        assert_eq!(trials[11].spec.dataset, DatasetName::Cifar10);
        assert_eq!(trials[11].spec.model, ModelKind::Cnn);
        assert_eq!(trials[11].spec.lr, 0.01);
        assert!(trials.iter().all(|t| t.spec.sweep.is_empty()));
        let indices: Vec<usize> = trials.iter().map(|t| t.index).collect();
        assert_eq!(indices, (0..12).collect::<Vec<_>>());
        let mut names: Vec<&str> = trials.iter().map(|t| t.name.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), 12, "names are unique");
    }

    #[test]
    fn list_values_and_odd_strings_make_safe_names() {
        let spec = with_sweep(&[(
            "hidden",
            vec![toml::Value::Array(vec![256.into(), 128.into()]), toml::Value::Array(vec![])],
        )]);
        let names: Vec<String> = expand(&spec).unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["hidden=256-128", "hidden="]);
        assert_eq!(safe_component("a/b c"), "a_b_c");
        assert_eq!(safe_component("..x"), "_..x");
    }

    #[test]
    fn bad_values_name_axis_and_position() {
        let spec = with_sweep(&[("lr", vec![0.1.into(), s("fast")])]);
        let err = expand(&spec).unwrap_err();
        assert_eq!((err.key.as_str(), err.value_index), ("lr", Some(1)));

        let spec = with_sweep(&[("epochs", vec![1.into(), 0.into()])]);
        let err = expand(&spec).unwrap_err();
        assert_eq!((err.key.as_str(), err.value_index), ("epochs", Some(1)));
        assert!(err.message.contains("at least 1"));

        let spec = with_sweep(&[("model", vec![s("nn"), s("rnn")])]);
        let err = expand(&spec).unwrap_err();
        assert_eq!(err.value_index, Some(1));
        assert!(err.message.contains("unknown variant"), "{}", err.message);

        let spec = with_sweep(&[("seed", vec![1.into(), 1.into()])]);
        let err = expand(&spec).unwrap_err();
        assert!(err.message.contains("listed twice"), "{}", err.message);

        let spec = with_sweep(&[("lr", vec![1.into(), 0.5.into(), 1.0.into()])]);
        let err = expand(&spec).unwrap_err();
        assert_eq!(err.value_index, Some(2), "1 and 1.0 are the same learning rate");
        assert!(err.message.contains("listed twice"), "{}", err.message);
    }

    #[test]
    fn sweep_size_is_counted_without_overflow_and_capped() {
        let values = |n: i64| (1..=n).map(toml::Value::Integer).collect::<Vec<_>>();
        // 8 axes of 256 values: 2^64 wraps to 0 in plain usize arithmetic.
        let keys = ["batch_size", "epochs", "limit_test", "limit_train", "seed", "threads", "device", "lr"];
        let axes: Vec<(&str, Vec<toml::Value>)> = keys.iter().map(|k| (*k, values(256))).collect();
        let err = expand(&with_sweep(&axes)).unwrap_err();
        assert_eq!((err.key.as_str(), err.value_index), ("sweep", None));
        assert!(
            err.message.contains("more than 2^64 trials") && err.message.contains("256 batch_size x 256 device"),
            "{}",
            err.message
        );

        let err = expand(&with_sweep(&[("seed", values(1001)), ("batch_size", values(1000))])).unwrap_err();
        assert!(
            err.message.starts_with("1001000 trials (1000 batch_size x 1001 seed) is more than the limit"),
            "{}",
            err.message
        );
        assert_eq!(expand(&with_sweep(&[("seed", values(1000)), ("epochs", values(3))])).unwrap().len(), 3000);
    }

    #[test]
    fn invalid_base_value_is_reported_on_its_key() {
        let spec = Spec { batch_size: 0, ..with_sweep(&[("lr", vec![0.1.into()])]) };
        let err = expand(&spec).unwrap_err();
        assert_eq!((err.key.as_str(), err.value_index), ("batch_size", None));
    }
}

//! A TPE search's draw files: `draws/round_RRR.json` (`draws/point_PPP_round_RRR.json` with a
//! grid), one per round of each grid point's study, written atomically before any trial of the
//! round runs. Each names the trials of the rounds before as the draw saw them (how they ended,
//! their objective) and the values it drew, with a SHA-256 of both: a file edited by hand is
//! refused, named. Whoever finds a round ready draws it, under `draws/lock`: a worker when the
//! last trial of the round before ends, a Slurm task of the next round when it starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::claim::{Claim, HeldBy};
use super::metrics;
use super::state::{Status, TrialState};
use super::{RunDir, write_file};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::spec::Trial;
use crate::spec::rounds::{self, Drawn};
use crate::spec::tpe::Outcome;

pub const DIR: &str = "draws";
const LOCK: &str = "lock";

/// One draw file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawFile {
    pub point: usize,
    pub round: usize,
    /// The study's trials of the rounds before, in trial order, as the draw saw them.
    pub from: Vec<Seen>,
    /// The round's trials and the values drawn for them.
    pub trials: Vec<DrawnTrial>,
    /// SHA-256 of the file with this field empty.
    #[serde(default)]
    pub digest: String,
}

/// An earlier trial as a draw saw it: how it ended and its objective (minimised: minus its best
/// validation accuracy; at its last epoch when pruned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub trial: usize,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
    pub epochs: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawnTrial {
    pub index: usize,
    pub values: Drawn,
}

impl DrawFile {
    fn digest(&self) -> String {
        let bare = DrawFile { digest: String::new(), ..self.clone() };
        let json = serde_json::to_string(&bare).expect("a draw file always serializes");
        format!("{:x}", Sha256::digest(json.as_bytes()))
    }
}

/// The file of round `round` of grid point `point`.
pub fn path(run_dir: &Path, trials: &[Trial], point: usize, round: usize) -> PathBuf {
    let grid = trials.iter().any(|t| t.group != 0);
    let name = if grid { format!("point_{point:03}_round_{round:03}.json") } else { format!("round_{round:03}.json") };
    run_dir.join(DIR).join(name)
}

/// Gives the TPE trials of `trials` the values their rounds' files recorded; trials of rounds
/// not drawn yet stay as they are. A file edited by hand or damaged is refused, named.
pub fn apply(run_dir: &Path, trials: &mut [Trial]) -> Result<()> {
    let mut rounds: Vec<(usize, usize)> =
        trials.iter().filter(|t| t.undrawn()).filter_map(|t| t.round.map(|r| (t.group, r.number))).collect();
    rounds.dedup();
    for (point, round) in rounds {
        let file = path(run_dir, trials, point, round);
        if let Some(draw) = read(&file)? {
            apply_file(&file, &draw, trials)?;
        }
    }
    Ok(())
}

fn read(file: &Path) -> Result<Option<DrawFile>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(file)(e)),
    };
    let refused = |why: String| Error::DrawFile { path: file.to_path_buf(), why };
    let draw: DrawFile = serde_json::from_str(&text).map_err(|e| refused(format!("unreadable ({e})")))?;
    if draw.digest != draw.digest() {
        return Err(refused("its content does not match its digest: it was edited after the runner wrote it".into()));
    }
    Ok(Some(draw))
}

fn apply_file(file: &Path, draw: &DrawFile, trials: &mut [Trial]) -> Result<()> {
    let refused = |why: String| Error::DrawFile { path: file.to_path_buf(), why };
    let expected: Vec<usize> = members(trials, draw.point, draw.round);
    let listed: Vec<usize> = draw.trials.iter().map(|t| t.index).collect();
    if listed != expected {
        return Err(refused(format!("lists trials {listed:?}, but round {} has trials {expected:?}", draw.round)));
    }
    for drawn in &draw.trials {
        rounds::apply(&mut trials[drawn.index], &drawn.values)
            .map_err(|e| refused(format!("trial {}: {e}", drawn.index)))?;
    }
    Ok(())
}

/// The indices of the trials of round `round` of grid point `point`.
fn members(trials: &[Trial], point: usize, round: usize) -> Vec<usize> {
    trials.iter().filter(|t| t.group == point && t.round.is_some_and(|r| r.number == round)).map(|t| t.index).collect()
}

/// Whether a trial's round could be drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Ready {
    /// Its values are in `trials` now.
    Drawn,
    /// Trials of the rounds before are still running (named).
    Waiting(Vec<String>),
    /// Trials of the rounds before have not ended and nobody runs them (named).
    Stuck(Vec<String>),
}

/// Draws the round of `trials[index]` if every trial of its study's rounds before has ended,
/// writing its file first; a round another worker drew is read from its file.
pub fn draw(run_dir: &RunDir, trials: &mut [Trial], index: usize, quiet: bool) -> Result<Ready> {
    let Some(round) = trials[index].round else { return Ok(Ready::Drawn) };
    if round.drawn {
        return Ok(Ready::Drawn);
    }
    let point = trials[index].group;
    let earlier: Vec<usize> = trials
        .iter()
        .filter(|t| t.group == point && t.round.is_some_and(|r| r.number < round.number))
        .map(|t| t.index)
        .collect();
    let states: Vec<TrialState> = earlier.iter().map(|&i| TrialState::read(&run_dir.trial_dir(&trials[i]))).collect();
    let open: Vec<(String, bool)> = earlier
        .iter()
        .zip(&states)
        .filter(|(_, s)| !s.is_final())
        .map(|(&i, s)| (trials[i].dir_name(), s.held()))
        .collect();
    if !open.is_empty() {
        let names = open.iter().map(|(n, _)| n.clone()).collect();
        return Ok(if open.iter().any(|(_, held)| *held) { Ready::Waiting(names) } else { Ready::Stuck(names) });
    }
    let folder = run_dir.path.join(DIR);
    std::fs::create_dir_all(&folder).map_err(Error::io(&folder))?;
    let _lock = match Claim::acquire(&folder.join(LOCK), quiet, trials[index].spec.stale_after())? {
        Ok(claim) => claim,
        Err(HeldBy(who)) => return Ok(Ready::Waiting(vec![format!("the draw of round {} ({who})", round.number)])),
    };
    let file = path(&run_dir.path, trials, point, round.number);
    if let Some(drawn) = read(&file)? {
        apply_file(&file, &drawn, trials)?;
        return Ok(Ready::Drawn);
    }
    let from: Vec<Seen> = earlier.iter().zip(&states).map(|(&i, state)| seen(i, state)).collect();
    let outcomes: Vec<(&Trial, Option<Outcome>)> = from.iter().map(|s| (&trials[s.trial], outcome(s))).collect();
    let round_trials = members(trials, point, round.number);
    let values = rounds::draw_round(&trials[index], round.number, &outcomes, round_trials.len());
    let mut record = DrawFile {
        point,
        round: round.number,
        from,
        trials: round_trials.iter().zip(values).map(|(&index, values)| DrawnTrial { index, values }).collect(),
        digest: String::new(),
    };
    record.digest = record.digest();
    failpoint::hit(|| format!("draw:{}", round.number));
    let json = serde_json::to_string_pretty(&record).expect("a draw file always serializes") + "\n";
    write_file(&file, json.as_bytes())?;
    apply_file(&file, &record, trials)?;
    if !quiet {
        let names: Vec<String> = round_trials.iter().map(|&i| format!("{} {}", i, trials[i].searched_text())).collect();
        eprintln!("drew round {} ({}): {}", round.number, file.display(), names.join("; "));
    }
    Ok(Ready::Drawn)
}

/// An ended trial as a draw sees it.
fn seen(index: usize, state: &TrialState) -> Seen {
    let status = state.status();
    let epochs = state.epochs.len() as u32;
    let objective = match status {
        Status::Done => metrics::best(&state.epochs).map(|e| -metrics::selection_score(e)),
        Status::Pruned => state.epochs.last().map(|e| -metrics::selection_score(e)),
        _ => None,
    };
    Seen { trial: index, status, objective, epochs }
}

/// What the sampler makes of an ended trial: None (left out) for a failed one.
fn outcome(seen: &Seen) -> Option<Outcome> {
    match (seen.status, seen.objective) {
        (Status::Done, Some(value)) => Some(Outcome::Complete(value)),
        (Status::Pruned, Some(value)) => Some(Outcome::Pruned { step: seen.epochs, value }),
        _ => None,
    }
}

/// Where each grid point's study stands: the rounds drawn and the best trial so far, from each
/// trial's state (`states[i]` is `trials[i]`'s).
pub fn progress(trials: &[Trial], states: &[TrialState]) -> BTreeMap<usize, Progress> {
    let mut studies: BTreeMap<usize, Progress> = BTreeMap::new();
    for (trial, state) in trials.iter().zip(states) {
        let Some(round) = trial.round else { continue };
        let study = studies.entry(trial.group).or_default();
        study.rounds = study.rounds.max(round.number + 1);
        if round.drawn {
            study.drawn = study.drawn.max(round.number + 1);
        }
        if let Some(best) = metrics::best(&state.epochs).filter(|e| e.val_acc.is_some()) {
            let score = metrics::selection_score(best);
            if study.best.as_ref().is_none_or(|(_, s)| score > *s) {
                study.best = Some((format!("{} ({})", trial.dir_name(), trial.searched_text()), score));
            }
        }
    }
    studies
}

/// A study's rounds, drawn and in all, and its best trial with its validation accuracy.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Progress {
    pub drawn: usize,
    pub rounds: usize,
    pub best: Option<(String, f64)>,
}

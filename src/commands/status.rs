//! `runner status RUN`: where each trial stands, read from the run folder alone (from any machine
//! that mounts it, while workers run); changes nothing.

use crate::cli::StatusArgs;
use crate::error::Result;
use crate::report::markdown;
use crate::run::draws;
use crate::run::state::{Status, TrialState};
use crate::run::{RunDir, this_host};

pub fn status(args: StatusArgs) -> Result<()> {
    let run_dir = RunDir::open(&args.run)?;
    let (_, trials) = run_dir.load_trials()?;
    let header: Vec<String> =
        ["index", "trial", "status", "epochs", "test acc", "where", "ETA"].map(String::from).to_vec();
    let mut counts: Vec<((&str, u8), usize)> = Vec::new();
    let mut queue = std::collections::HashMap::new();
    let mut rows = Vec::with_capacity(trials.len());
    let states: Vec<TrialState> = trials.iter().map(|t| TrialState::read(&run_dir.trial_dir(t))).collect();
    for (trial, state) in trials.iter().zip(&states) {
        // A claim from another host lives by its heartbeat; where Slurm can tell, a task that
        // has left its queue (a lost node) holds nothing, however fresh its last beat.
        let left_queue = state.claim.as_ref().filter(|c| c.live && c.host != this_host()).and_then(|c| c.slurm.clone());
        let left_queue = left_queue.filter(|job| {
            *queue.entry(job.clone()).or_insert_with(|| crate::sched::slurm::in_queue(job)) == Some(false)
        });
        let stale = state.is_stale() || (left_queue.is_some() && !state.is_final());
        let label = shown(state, stale);
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
        let running = !stale && state.status() == Status::Running;
        let done = state.epochs.len() as u32;
        // Inside the running epoch: "1/3 +42%", the share of its training images done.
        let inside = match &state.in_epoch {
            Some(p) if p.of > 0 => format!(" +{}%", p.images * 100 / p.of),
            _ => String::new(),
        };
        let place = match &state.claim {
            Some(claim) if running || stale => match &claim.slurm {
                Some(job) if left_queue.is_some() => {
                    format!("slurm job {job} on {} (not in Slurm's queue)", claim.host)
                }
                Some(job) => format!("slurm job {job} on {}", claim.host),
                None if claim.pid == 0 => "unreadable claim".to_string(),
                None => format!("{} pid {}", claim.host, claim.pid),
            },
            _ => String::new(),
        };
        let eta = if running { eta(state, trial.spec.epochs) } else { String::new() };
        rows.push(vec![
            trial.index.to_string(),
            match trial.round {
                Some(round) if round.drawn => format!("{} ({})", trial.name, trial.searched_text()),
                _ => trial.name.clone(),
            },
            label.0.to_string(),
            format!("{done}/{}{inside}", trial.spec.epochs),
            state.epochs.last().map(|e| format!("{:.2}%", e.test_acc * 100.0)).unwrap_or_default(),
            place,
            eta,
        ]);
    }
    print!("{}", markdown(&header, &rows));
    counts.sort_by_key(|((_, rank), _)| *rank);
    let parts: Vec<String> = counts.iter().map(|((word, _), n)| format!("{n} {word}")).collect();
    println!("{} trial{}: {}", trials.len(), if trials.len() == 1 { "" } else { "s" }, parts.join(", "));
    for (point, study) in draws::progress(&trials, &states) {
        let grid = if trials.iter().any(|t| t.group != 0) { format!("grid point {point}: ") } else { String::new() };
        let best = match &study.best {
            Some((name, score)) => format!("best so far {name} (validation accuracy {:.2}%)", score * 100.0),
            None => "no trial has ended yet".to_string(),
        };
        println!("TPE {grid}{} of {} rounds drawn; {best}", study.drawn, study.rounds);
    }
    Ok(())
}

/// What `runner status` calls a trial: its status, or `stale` (claimed by a worker that is gone,
/// or by a Slurm task no longer in the queue);
/// and the rank of that word in the counts line.
fn shown(state: &TrialState, stale: bool) -> (&'static str, u8) {
    if stale {
        return ("stale", 3);
    }
    let status = state.status();
    let rank = match status {
        Status::Done => 0,
        Status::Pruned => 1,
        Status::Running => 2,
        Status::Interrupted => 4,
        Status::Pending => 5,
        Status::Failed => 6,
    };
    (status.as_str(), rank)
}

/// Time left for a running trial: the rest of the running epoch at its rate so far, then its
/// mean epoch time (or, before one has ended, the running epoch's pace) times the epochs after it.
fn eta(state: &TrialState, epochs: u32) -> String {
    let done = state.epochs.len();
    let mean = (done > 0).then(|| state.epochs.iter().map(|e| e.epoch_seconds).sum::<f64>() / done as f64);
    let running = state.in_epoch.as_ref().and_then(|p| Some((p.seconds_left()?, p.of as f64 / p.images_per_second)));
    let left = match (mean, running) {
        (Some(mean), Some((rest, _))) => rest + mean * (epochs as usize).saturating_sub(done + 1) as f64,
        (Some(mean), None) => mean * (epochs as usize).saturating_sub(done) as f64,
        (None, Some((rest, pace))) => rest + pace * (epochs as usize).saturating_sub(1) as f64,
        (None, None) => return "?".into(),
    };
    match left.round() as u64 {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

//! `runner status RUN`: where each trial stands, read from the run folder alone (from any machine
//! that mounts it, while workers run); changes nothing.

use crate::cli::StatusArgs;
use crate::error::Result;
use crate::report::markdown;
use crate::run::RunDir;
use crate::run::status::Observed;
use crate::run::summary::Status;
use crate::spec;

pub fn status(args: StatusArgs) -> Result<()> {
    let run_dir = RunDir::open(&args.run)?;
    let (_, trials) = spec::load_run(&run_dir.path.join("spec.toml"))?;
    let header: Vec<String> =
        ["index", "trial", "status", "epochs", "test acc", "where", "ETA"].map(String::from).to_vec();
    let mut counts: Vec<(Label, usize)> = Vec::new();
    let mut rows = Vec::with_capacity(trials.len());
    for trial in &trials {
        let observed = Observed::read(&run_dir.trial_dir(trial));
        let label = label(&observed);
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
        let done = observed.epochs.len() as u32;
        // Inside the running epoch: "1/3 +42%", the share of its training images done.
        let inside = match &observed.in_epoch {
            Some(p) if p.of > 0 => format!(" +{}%", p.images * 100 / p.of),
            _ => String::new(),
        };
        let place = match (&observed.claim, label) {
            (Some(claim), Label::RUNNING | Label::Stale) => match &claim.slurm {
                Some(job) => format!("slurm job {job} on {}", claim.host),
                None if claim.pid == 0 => "unreadable claim".to_string(),
                None => format!("{} pid {}", claim.host, claim.pid),
            },
            _ => String::new(),
        };
        let eta = if label == Label::RUNNING { eta(&observed, trial.spec.epochs) } else { String::new() };
        rows.push(vec![
            trial.index.to_string(),
            trial.name.clone(),
            label.as_str().to_string(),
            format!("{done}/{}{inside}", trial.spec.epochs),
            observed.epochs.last().map(|e| format!("{:.2}%", e.test_acc * 100.0)).unwrap_or_default(),
            place,
            eta,
        ]);
    }
    print!("{}", markdown(&header, &rows));
    counts.sort_by_key(|(l, _)| l.rank());
    let parts: Vec<String> = counts.iter().map(|(l, n)| format!("{n} {}", l.as_str())).collect();
    println!("{} trial{}: {}", trials.len(), if trials.len() == 1 { "" } else { "s" }, parts.join(", "));
    Ok(())
}

/// What `runner status` calls a trial: a status summary.csv knows, or `stale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// done, failed, interrupted or pruned (as recorded), running (a live worker holds it) or
    /// pending.
    Status(Status),
    /// Claimed, but its worker is gone: `runner resume` or another worker takes it over.
    Stale,
}

impl Label {
    const RUNNING: Label = Label::Status(Status::Running);

    fn as_str(self) -> &'static str {
        match self {
            Label::Status(status) => status.as_str(),
            Label::Stale => "stale",
        }
    }

    /// The order of the counts line.
    fn rank(self) -> u8 {
        match self {
            Label::Status(Status::Done) => 0,
            Label::Status(Status::Pruned) => 1,
            Label::Status(Status::Running) => 2,
            Label::Stale => 3,
            Label::Status(Status::Interrupted) => 4,
            Label::Status(Status::Pending) => 5,
            Label::Status(Status::Failed) => 6,
        }
    }
}

fn label(observed: &Observed) -> Label {
    let ended_for_good = observed.ended.as_ref().is_some_and(|e| e.status.is_final());
    match &observed.claim {
        // A claim left by a worker that is gone, on a trial that has not ended for good.
        Some(claim) if !claim.live && !ended_for_good => Label::Stale,
        _ => Label::Status(observed.status()),
    }
}

/// Time left for a running trial: the rest of the running epoch at its rate so far, then its
/// mean epoch time (or, before one has ended, the running epoch's pace) times the epochs after it.
fn eta(observed: &Observed, epochs: u32) -> String {
    let done = observed.epochs.len();
    let mean = (done > 0).then(|| observed.epochs.iter().map(|e| e.epoch_seconds).sum::<f64>() / done as f64);
    let running = observed.in_epoch.as_ref().and_then(|p| Some((p.seconds_left()?, p.of as f64 / p.images_per_second)));
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

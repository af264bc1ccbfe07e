//! `runner export TRIAL --format safetensors`: the weights for PyTorch's `load_state_dict`.

use burn::prelude::Device;

use crate::run::trial_folder::{TrialFolder, load_model};
use crate::cli::ExportArgs;
use crate::error::Result;
use crate::model::export::{pytorch_state_dict, write_safetensors};

pub fn export(args: ExportArgs) -> Result<()> {
    let trial = TrialFolder::open(&args.trial.target)?;
    let spec = &trial.spec;
    // The model's shape comes from the data set; no need to load the data to export.
    let shape = spec.dataset.image_shape();
    let model = load_model(spec, shape, &trial.checkpoint, &Device::flex())?;
    let tensors = pytorch_state_dict(&model)?;
    let out = args.out.unwrap_or_else(|| trial.dir.join("model.safetensors"));
    write_safetensors(&tensors, &out)?;
    println!("{}", out.display());
    eprintln!(
        "wrote {} tensors ({}) from {}; load with model.load_state_dict(safetensors.torch.load_file(...))",
        tensors.len(),
        tensors.keys().cloned().collect::<Vec<_>>().join(", "),
        trial.checkpoint.display()
    );
    Ok(())
}

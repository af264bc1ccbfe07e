//! `runner export TRIAL`: the weights for PyTorch's `load_state_dict` (model.safetensors) and the
//! module they load into (model.py, beside them).

use burn::prelude::Device;

use crate::cli::ExportArgs;
use crate::error::Result;
use crate::model::export::{model_py, pytorch_state_dict, write_safetensors};
use crate::run::trial_folder::{TrialFolder, load_model};

pub fn export(args: ExportArgs) -> Result<()> {
    let trial = TrialFolder::open(&args.trial.target)?;
    let spec = &trial.spec;
    // The model's shape comes from the trial's record of its images; no need to load them.
    let (images, shape) = (&trial.images, trial.images.shape);
    let model = load_model(spec, images, &trial.checkpoint, &Device::flex())?;
    let tensors = pytorch_state_dict(&model)?;
    let out = args.out.unwrap_or_else(|| trial.dir.join("model.safetensors"));
    write_safetensors(&tensors, &out)?;
    let list = |values: &[f64]| values.iter().map(f64::to_string).collect::<Vec<_>>().join(", ");
    let normalization = format!(
        "pixels scaled to [0, 1], then (x - mean) / std per channel, mean [{}], std [{}]",
        list(&spec.mean),
        list(&spec.std)
    );
    let module = out.with_file_name("model.py");
    crate::fs::write_atomically(
        &module,
        model_py(&spec.architecture(images.classes.len()), shape, &normalization).as_bytes(),
    )
    .map_err(crate::error::Error::io(&module))?;
    println!("{}", out.display());
    eprintln!(
        "wrote {} tensors ({}) from {}, and {} (class Model); load with model.load_state_dict(safetensors.torch.load_file(...), strict=True)",
        tensors.len(),
        tensors.keys().cloned().collect::<Vec<_>>().join(", "),
        trial.checkpoint.display(),
        module.display()
    );
    Ok(())
}

//! `runner export TRIAL`: the weights for PyTorch's `load_state_dict` (model.safetensors, or
//! `--out X.safetensors`) and the module they load into (model.py, or X.py, beside them).

use burn::prelude::Device;

use crate::cli::ExportArgs;
use crate::error::{Error, Result};
use crate::model::export::{MODEL_PY_HEAD, model_py, pytorch_state_dict, write_safetensors};
use crate::run::trial_folder::{TrialFolder, load_model};

pub fn export(args: ExportArgs) -> Result<()> {
    let trial = TrialFolder::open(&args.trial.target)?;
    let spec = &trial.spec;
    let out = args.out.unwrap_or_else(|| trial.dir.join("model.safetensors"));
    let module = out.with_extension("py");
    for path in [&out, &module] {
        trial.check_output(path, "--out")?;
    }
    // The module beside the weights is rewritten only when an earlier export wrote it.
    if let Ok(text) = std::fs::read_to_string(&module)
        && !text.starts_with(MODEL_PY_HEAD)
    {
        return Err(Error::Usage {
            origin: "--out".into(),
            message: format!(
                "{} exists and was not written by runner export; it would be replaced by the module of {}. \
                 Choose another --out name (the module is written beside it as NAME.py)",
                module.display(),
                out.display()
            ),
        });
    }
    // The model's shape comes from the trial's record of its images; no need to load them.
    let (images, shape) = (&trial.images, trial.images.shape);
    let model = load_model(spec, images, &trial.checkpoint, &Device::flex())?;
    let tensors = pytorch_state_dict(&model)?;
    if let Some(folder) = out.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(Error::io(folder))?;
    }
    // What a reader needs to use the weights without the run folder: the classes, the input
    // shape and the normalization.
    let json = |value: serde_json::Value| value.to_string();
    let metadata = std::collections::BTreeMap::from([
        ("classes".to_string(), json(serde_json::json!(images.classes))),
        ("image_shape".to_string(), json(serde_json::json!([shape.channels, shape.height, shape.width]))),
        ("mean".to_string(), json(serde_json::json!(spec.mean))),
        ("std".to_string(), json(serde_json::json!(spec.std))),
        ("model".to_string(), spec.model.to_string()),
        ("dataset".to_string(), spec.data_label()),
        ("limit_test".to_string(), spec.limit_test.to_string()),
        ("runner_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ]);
    write_safetensors(&tensors, &metadata, &out)?;
    let list = |values: &[f64]| values.iter().map(f64::to_string).collect::<Vec<_>>().join(", ");
    let normalization = format!(
        "pixels scaled to [0, 1], then (x - mean) / std per channel, mean [{}], std [{}]",
        list(&spec.mean),
        list(&spec.std)
    );
    let weights = out.file_name().map_or_else(|| "model.safetensors".into(), |n| n.to_string_lossy().into_owned());
    let text = model_py(&spec.architecture(images.classes.len()), shape, &normalization, &weights);
    crate::fs::write_atomically(&module, text.as_bytes()).map_err(Error::io(&module))?;
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

//! Weights in PyTorch's layout, as safetensors: `conv1.weight` [out, in, kh, kw] as Burn keeps it,
//! `fc1.weight` transposed from Burn's [in, out] to PyTorch's [out, in], batch norms as
//! `bn1.*` (after conv1) and `fc_bn1.*` (after fc1) with PyTorch's buffers (`running_mean`,
//! `running_var`, `num_batches_tracked`). The names are those of [`model_py`]'s `Model`, which for
//! the seed's networks are those of the reference script's `CNNModel` (conv1, conv2, fc1, fc2) and
//! `NNModel` (fc1, fc2).

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::catalog::ImageShape;
use crate::error::{Error, Result};
use crate::model::{Architecture, Model, ModelKind};

/// A tensor ready to write: PyTorch name, shape, row-major f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    /// Written as int64 (`num_batches_tracked`).
    pub integer: bool,
}

/// Every parameter of `model` under its PyTorch name.
pub fn pytorch_state_dict(model: &Model) -> Result<BTreeMap<String, Exported>> {
    let mut collector = Collector::default();
    model.visit(&mut collector);
    let mut out = BTreeMap::new();
    for (path, (shape, values)) in collector.tensors {
        let (name, transpose) =
            pytorch_name(&path).ok_or_else(|| Error::Export(format!("no PyTorch name for parameter {path}")))?;
        let tensor = if transpose {
            let [rows, cols] = [shape[0], shape[1]];
            let mut t = vec![0.0; values.len()];
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = values[r * cols + c];
                }
            }
            Exported { shape: vec![cols, rows], values: t, integer: false }
        } else {
            Exported { shape, values, integer: false }
        };
        if let Some(norm) = name.strip_suffix(".running_var") {
            // Burn does not count batches; PyTorch reads the count only with momentum=None.
            out.insert(
                format!("{norm}.num_batches_tracked"),
                Exported { shape: vec![], values: vec![0.0], integer: true },
            );
        }
        out.insert(name, tensor);
    }
    Ok(out)
}

/// "Cnn.fc1.weight" -> ("fc1.weight", transpose); "Nn.layers.0.bias" -> ("fc1.bias", no).
fn pytorch_name(path: &str) -> Option<(String, bool)> {
    let parts: Vec<&str> = path.split('.').collect();
    let [model, field, index, param] = parts.as_slice() else { return None };
    let n = index.parse::<usize>().ok()? + 1;
    let layer = match (*model, *field) {
        ("Cnn", "convs") => format!("conv{n}"),
        ("Cnn", "conv_norms") => format!("bn{n}"),
        ("Nn" | "Cnn", "layers") => format!("fc{n}"),
        ("Nn" | "Cnn", "norms") => format!("fc_bn{n}"),
        _ => return None,
    };
    let param = match *param {
        "gamma" => "weight",
        "beta" => "bias",
        other => other,
    };
    let transpose = layer.starts_with("fc") && !layer.starts_with("fc_bn") && param == "weight";
    Some((format!("{layer}.{param}"), transpose))
}

/// The first line of every module [`model_py`] writes: how export tells its own from a user's.
pub const MODEL_PY_HEAD: &str = "\"\"\"Written by `runner export`";

/// `<module>.py` (model.py beside model.safetensors): a PyTorch module `Model` of `architecture`
/// on images of `shape`, whose `state_dict` is what [`pytorch_state_dict`] writes to `weights`
/// beside it (`load_state_dict(..., strict=True)`).
pub fn model_py(architecture: &Architecture, shape: ImageShape, normalization: &str, weights: &str) -> String {
    let module = weights.rsplit_once('.').map_or(weights, |(stem, _)| stem);
    let mut init = Vec::new();
    let mut forward = vec!["x = images".to_string()];
    let norm = architecture.batch_norm;
    let mut inputs = shape.channels;
    if architecture.kind == ModelKind::Cnn {
        let (k, pad) = (architecture.kernel_size, architecture.pad());
        init.push("self.pool = nn.MaxPool2d(2)".to_string());
        for (i, &channels) in architecture.conv_channels.iter().enumerate() {
            let n = i + 1;
            init.push(format!("self.conv{n} = nn.Conv2d({inputs}, {channels}, {k}, padding={pad})"));
            let mut x = format!("self.conv{n}(x)");
            if norm {
                init.push(format!("self.bn{n} = nn.BatchNorm2d({channels}, eps=1e-5, momentum=0.1)"));
                x = format!("self.bn{n}({x})");
            }
            forward.push(format!("x = self.pool(torch.relu({x}))"));
            inputs = channels as usize;
        }
    }
    let flat = match (architecture.kind, architecture.feature_maps(shape)) {
        (ModelKind::Cnn, Ok(maps)) => maps.last().map_or(shape.pixels(), |&(c, h, w)| c * h * w),
        _ => shape.pixels(),
    };
    forward.push("x = x.flatten(1)".to_string());
    if architecture.dropout > 0.0 {
        init.push(format!("self.dropout = nn.Dropout({})", architecture.dropout));
    }
    let mut inputs = flat;
    for (i, &width) in architecture.hidden.iter().enumerate() {
        let n = i + 1;
        init.push(format!("self.fc{n} = nn.Linear({inputs}, {width})"));
        let mut x = format!("self.fc{n}(x)");
        if norm {
            init.push(format!("self.fc_bn{n} = nn.BatchNorm1d({width}, eps=1e-5, momentum=0.1)"));
            x = format!("self.fc_bn{n}({x})");
        }
        x = format!("torch.relu({x})");
        if architecture.dropout > 0.0 {
            x = format!("self.dropout({x})");
        }
        forward.push(format!("x = {x}"));
        inputs = width as usize;
    }
    let n = architecture.hidden.len() + 1;
    init.push(format!("self.fc{n} = nn.Linear({inputs}, {})", architecture.classes));
    forward.push(format!("return self.fc{n}(x)"));
    let indent = |lines: Vec<String>| lines.iter().map(|l| format!("        {l}\n")).collect::<String>();
    format!(
        "{MODEL_PY_HEAD}: the trial's network as a PyTorch module.\n\n\
         Input: images [batch, {c}, {h}, {w}], {normalization}. Weights: {weights} beside this file.\n\n\
         \x20   import safetensors.torch\n\
         \x20   from {module} import Model\n\
         \x20   model = Model()\n\
         \x20   model.load_state_dict(safetensors.torch.load_file(\"{weights}\"), strict=True)\n\
         \x20   model.eval()\n\
         \"\"\"\n\
         import torch\n\
         from torch import nn\n\n\n\
         class Model(nn.Module):\n\
         \x20   def __init__(self):\n\
         \x20       super().__init__()\n\
         {init}\n\
         \x20   def forward(self, images):\n\
         {forward}",
        c = shape.channels,
        h = shape.height,
        w = shape.width,
        init = indent(init),
        forward = indent(forward),
    )
}

/// Writes `tensors` to `path` as safetensors, with `metadata` in its `__metadata__` (strings
/// only, as the format allows).
pub fn write_safetensors(
    tensors: &BTreeMap<String, Exported>,
    metadata: &BTreeMap<String, String>,
    path: &Path,
) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>, bool)> = tensors
        .iter()
        .map(|(name, t)| {
            let data = match t.integer {
                true => t.values.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect(),
                false => t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            };
            (name.clone(), data, t.shape.clone(), t.integer)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, data, shape, integer)| {
            let dtype = if *integer { safetensors::Dtype::I64 } else { safetensors::Dtype::F32 };
            safetensors::tensor::TensorView::new(dtype, shape.clone(), data).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Export(format!("cannot lay out tensors: {e}")))?;
    let metadata: std::collections::HashMap<String, String> = metadata.clone().into_iter().collect();
    let file = safetensors::serialize(views, (!metadata.is_empty()).then_some(metadata))
        .map_err(|e| Error::Export(format!("cannot serialize: {e}")))?;
    crate::fs::write_atomically(path, &file).map_err(Error::io(path))
}

type Shaped = (Vec<usize>, Vec<f32>);

/// Collects float parameters by their dotted module path.
#[derive(Default)]
struct Collector {
    path: Vec<String>,
    /// (name, (shape, values)).
    tensors: Vec<(String, Shaped)>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let values = tensor.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
        self.tensors.push((self.path.join("."), (shape, values)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ImageShape;
    use crate::model::ModelKind;
    use crate::spec::Spec;

    #[test]
    fn names_and_shapes_as_pytorch_expects() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        let mnist = ImageShape { channels: 1, height: 28, width: 28 };
        let cnn = Model::new(&Spec::default().architecture(10), mnist, &device).unwrap();
        let dict = pytorch_state_dict(&cnn).unwrap();
        let shapes: Vec<(&str, &[usize])> = dict.iter().map(|(k, v)| (k.as_str(), v.shape.as_slice())).collect();
        assert_eq!(
            shapes,
            [
                ("conv1.bias", &[32][..]),
                ("conv1.weight", &[32, 1, 3, 3]),
                ("conv2.bias", &[64]),
                ("conv2.weight", &[64, 32, 3, 3]),
                ("fc1.bias", &[128]),
                ("fc1.weight", &[128, 1600]),
                ("fc2.bias", &[10]),
                ("fc2.weight", &[10, 128]),
            ]
        );
        let nn = Model::new(
            &Spec { model: ModelKind::Nn, hidden: vec![64, 32], ..Spec::default() }.architecture(10),
            mnist,
            &device,
        )
        .unwrap();
        let names: Vec<String> = pytorch_state_dict(&nn).unwrap().into_keys().collect();
        assert_eq!(names, ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "fc3.bias", "fc3.weight"]);
    }

    #[test]
    fn linear_weights_are_transposed_and_the_file_reads_back() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        let mnist = ImageShape { channels: 1, height: 28, width: 28 };
        let nn =
            Model::new(&Spec { model: ModelKind::Nn, ..Spec::default() }.architecture(10), mnist, &device).unwrap();
        let Model::Nn(mlp) = &nn else { unreachable!() };
        let burn_weight = mlp.first_weight(); // [784, 128]
        let dict = pytorch_state_dict(&nn).unwrap();
        let fc1 = &dict["fc1.weight"]; // [128, 784]
        assert_eq!(fc1.values[3 * 784 + 5], burn_weight[5 * 128 + 3], "torch[o][i] == burn[i][o]");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let metadata = BTreeMap::from([("classes".to_string(), "[\"0\"]".to_string())]);
        write_safetensors(&dict, &metadata, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(header.metadata().as_ref().and_then(|m| m.get("classes")).map(String::as_str), Some("[\"0\"]"));
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let view = file.tensor("fc1.weight").unwrap();
        assert_eq!((view.dtype(), view.shape()), (safetensors::Dtype::F32, &[128, 784][..]));
        let first = f32::from_le_bytes(view.data()[..4].try_into().unwrap());
        assert_eq!(first, fc1.values[0]);
    }
}

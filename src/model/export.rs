//! Weights in PyTorch's layout, as safetensors: `conv1.weight` [out, in, kh, kw] as Burn keeps it,
//! `fc1.weight` transposed from Burn's [in, out] to PyTorch's [out, in]. The names are those of
//! the seed's `CNNModel` (conv1, conv2, fc1, fc2) and `NNModel` (fc1, fc2, ... one per layer).

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::error::{Error, Result};
use crate::model::Model;

/// A tensor ready to write: PyTorch name, shape, row-major f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Every parameter of `model` under its PyTorch name.
pub fn pytorch_state_dict(model: &Model) -> Result<BTreeMap<String, Exported>> {
    let mut collector = Collector::default();
    model.visit(&mut collector);
    let mut out = BTreeMap::new();
    for (path, (shape, values)) in collector.tensors {
        let (name, transpose) = pytorch_name(&path).ok_or_else(|| Error::Export(format!("no PyTorch name for parameter {path}")))?;
        let tensor = if transpose {
            let [rows, cols] = [shape[0], shape[1]];
            let mut t = vec![0.0; values.len()];
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = values[r * cols + c];
                }
            }
            Exported { shape: vec![cols, rows], values: t }
        } else {
            Exported { shape, values }
        };
        out.insert(name, tensor);
    }
    Ok(out)
}

/// "Cnn.fc1.weight" -> ("fc1.weight", transpose); "Nn.layers.0.bias" -> ("fc1.bias", no).
fn pytorch_name(path: &str) -> Option<(String, bool)> {
    let parts: Vec<&str> = path.split('.').collect();
    let (layer, param) = match parts.as_slice() {
        ["Cnn", layer, param] => (layer.to_string(), *param),
        ["Nn", "layers", index, param] => (format!("fc{}", index.parse::<usize>().ok()? + 1), *param),
        _ => return None,
    };
    let transpose = layer.starts_with("fc") && param == "weight";
    Some((format!("{layer}.{param}"), transpose))
}

pub fn write_safetensors(tensors: &BTreeMap<String, Exported>, path: &Path) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(name, t)| (name.clone(), t.values.iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape.clone()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, data, shape)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Export(format!("cannot lay out tensors: {e}")))?;
    let file = safetensors::serialize(views, None).map_err(|e| Error::Export(format!("cannot serialize: {e}")))?;
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
        let cnn = Model::new(&Spec::default().architecture(), mnist, &device).unwrap();
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
        let nn = Model::new(&Spec { model: ModelKind::Nn, hidden: vec![64, 32], ..Spec::default() }.architecture(), mnist, &device).unwrap();
        let names: Vec<String> = pytorch_state_dict(&nn).unwrap().into_keys().collect();
        assert_eq!(names, ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "fc3.bias", "fc3.weight"]);
    }

    #[test]
    fn linear_weights_are_transposed_and_the_file_reads_back() {
        let _rng = crate::burn_rng_lock();
        let device = Device::flex();
        let mnist = ImageShape { channels: 1, height: 28, width: 28 };
        let nn = Model::new(&Spec { model: ModelKind::Nn, ..Spec::default() }.architecture(), mnist, &device).unwrap();
        let Model::Nn(mlp) = &nn else { unreachable!() };
        let burn_weight = mlp.first_weight(); // [784, 128]
        let dict = pytorch_state_dict(&nn).unwrap();
        let fc1 = &dict["fc1.weight"]; // [128, 784]
        assert_eq!(fc1.values[3 * 784 + 5], burn_weight[5 * 128 + 3], "torch[o][i] == burn[i][o]");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        write_safetensors(&dict, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let view = file.tensor("fc1.weight").unwrap();
        assert_eq!((view.dtype(), view.shape()), (safetensors::Dtype::F32, &[128, 784][..]));
        let first = f32::from_le_bytes(view.data()[..4].try_into().unwrap());
        assert_eq!(first, fc1.values[0]);
    }
}

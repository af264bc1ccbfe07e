//! A Hub data set's Parquet file as the `datasets` library writes it: an image column (a struct
//! `{bytes, path}` of PNG/JPEG bytes) and a label column, whose kinds and class names sit in the
//! schema metadata under the key `huggingface` (`{"info": {"features": {...}}}`).

use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use parquet::schema::types::Type;

/// The metadata key the `datasets` library stores its features under.
pub const FEATURES_KEY: &str = "huggingface";

/// What one file's schema holds.
#[derive(Debug)]
pub struct Schema {
    /// Top-level columns: name and what they can hold.
    columns: Vec<(String, ColumnKind)>,
    /// Columns the metadata calls `Image`.
    images: Vec<String>,
    /// Columns the metadata calls `ClassLabel`, with their names.
    class_labels: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ColumnKind {
    /// A struct with a `bytes` field, as `datasets` stores an image.
    ImageStruct,
    Binary,
    Integer,
    Text,
    Other,
}

/// The columns a data set is read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    pub image: String,
    pub label: String,
    /// The ClassLabel's names; `None`: the label's own values are the classes.
    pub names: Option<Vec<String>>,
}

/// One file's images (encoded) and labels.
#[derive(Debug, Default)]
pub struct Rows {
    pub images: Vec<Vec<u8>>,
    pub labels: Labels,
}

#[derive(Debug)]
pub enum Labels {
    Ints(Vec<i64>),
    Texts(Vec<String>),
}

impl Default for Labels {
    fn default() -> Labels {
        Labels::Ints(Vec::new())
    }
}

fn open(path: &Path) -> Result<SerializedFileReader<std::fs::File>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    SerializedFileReader::new(file)
        .map_err(|e| format!("not a readable Parquet file ({e}); delete it to fetch it again"))
}

/// The schema of the Parquet file at `path`.
pub fn schema(path: &Path) -> Result<Schema, String> {
    guarded(|| {
        let reader = open(path)?;
        let meta = reader.metadata().file_metadata();
        let columns =
            meta.schema().get_fields().iter().map(|field| (field.name().to_string(), kind_of(field))).collect();
        let features = meta
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|kv| kv.key == FEATURES_KEY))
            .and_then(|kv| kv.value.as_deref())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok());
        let mut images = Vec::new();
        let mut class_labels = Vec::new();
        if let Some(serde_json::Value::Object(features)) = features.as_ref().and_then(|f| f.pointer("/info/features")) {
            for (name, feature) in features {
                match feature.get("_type").and_then(|t| t.as_str()) {
                    Some("Image") => images.push(name.clone()),
                    Some("ClassLabel") => {
                        let names = feature
                            .get("names")
                            .and_then(|n| n.as_array())
                            .map(|n| n.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)).collect())
                            .unwrap_or_default();
                        class_labels.push((name.clone(), names));
                    }
                    _ => {}
                }
            }
        }
        Ok(Schema { columns, images, class_labels })
    })
}

fn kind_of(field: &Type) -> ColumnKind {
    use parquet::basic::{ConvertedType, LogicalType, Type as Physical};
    if field.is_group() {
        let has_bytes = field.get_fields().iter().any(|f| f.name() == "bytes" && !f.is_group());
        return if has_bytes { ColumnKind::ImageStruct } else { ColumnKind::Other };
    }
    let info = field.get_basic_info();
    match field.get_physical_type() {
        Physical::INT32 | Physical::INT64 => ColumnKind::Integer,
        Physical::BYTE_ARRAY
            if matches!(info.logical_type_ref(), Some(&LogicalType::String))
                || info.converted_type() == ConvertedType::UTF8 =>
        {
            ColumnKind::Text
        }
        Physical::BYTE_ARRAY => ColumnKind::Binary,
        _ => ColumnKind::Other,
    }
}

impl Schema {
    fn kind(&self, name: &str) -> Option<ColumnKind> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, k)| *k)
    }

    fn listing(&self) -> String {
        self.columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The image and label columns: the ones asked for, else the metadata's Image and ClassLabel
    /// columns, else an image struct and a column named `label` or `labels`.
    pub fn columns(&self, image_column: &str, label_column: &str) -> Result<Columns, String> {
        let image = if !image_column.is_empty() {
            match self.kind(image_column) {
                Some(ColumnKind::ImageStruct | ColumnKind::Binary) => image_column.to_string(),
                Some(_) => return Err(format!("image_column \"{image_column}\" holds no image bytes")),
                None => {
                    return Err(format!(
                        "has no column \"{image_column}\" (image_column); its columns: {}",
                        self.listing()
                    ));
                }
            }
        } else {
            let mut found: Vec<&String> = self.images.iter().filter(|n| self.kind(n).is_some()).collect();
            if found.is_empty() {
                found = self.columns.iter().filter(|(_, k)| *k == ColumnKind::ImageStruct).map(|(n, _)| n).collect();
            }
            match found.as_slice() {
                [one] => one.to_string(),
                [] => {
                    return Err(format!(
                        "has no image column (its columns: {}): not an image data set, or set image_column = \"NAME\"",
                        self.listing()
                    ));
                }
                several => {
                    return Err(format!(
                        "has several image columns ({}); choose one with image_column = \"NAME\"",
                        several.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        };
        let class_label =
            |name: &str| self.class_labels.iter().find(|(n, _)| n == name).map(|(_, names)| names.clone());
        let label = if !label_column.is_empty() {
            match self.kind(label_column) {
                Some(ColumnKind::Integer | ColumnKind::Text) => label_column.to_string(),
                Some(_) => return Err(format!("label_column \"{label_column}\" holds neither integers nor text")),
                None => {
                    return Err(format!(
                        "has no column \"{label_column}\" (label_column); its columns: {}",
                        self.listing()
                    ));
                }
            }
        } else {
            let labelled: Vec<&String> =
                self.class_labels.iter().map(|(n, _)| n).filter(|n| self.kind(n).is_some()).collect();
            match labelled.as_slice() {
                [one] => one.to_string(),
                [] => match ["label", "labels"]
                    .iter()
                    .find(|n| matches!(self.kind(n), Some(ColumnKind::Integer | ColumnKind::Text)))
                {
                    Some(name) => name.to_string(),
                    None => {
                        return Err(format!(
                            "has no label column (no ClassLabel, no integer or text column named label or labels; its columns: {}): set label_column = \"NAME\"",
                            self.listing()
                        ));
                    }
                },
                several => {
                    return Err(format!(
                        "has several label columns ({}); choose one with label_column = \"NAME\"",
                        several.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        };
        let names = class_label(&label).filter(|names| !names.is_empty());
        Ok(Columns { image, label, names })
    }
}

/// The images and labels of the file at `path`, in its row order.
pub fn read(path: &Path, columns: &Columns) -> Result<Rows, String> {
    guarded(|| {
        let reader = open(path)?;
        let schema = reader.metadata().file_metadata().schema();
        let pick = |name: &str| -> Result<std::sync::Arc<Type>, String> {
            schema.get_fields().iter().find(|f| f.name() == name).cloned().ok_or_else(|| {
                format!("has no column \"{name}\" (the repo's first train file has it): its files disagree")
            })
        };
        let projection = Type::group_type_builder(schema.name())
            .with_fields(vec![pick(&columns.image)?, pick(&columns.label)?])
            .build()
            .map_err(|e| e.to_string())?;
        let rows = reader.metadata().file_metadata().num_rows().max(0) as usize;
        let mut out = Rows { images: Vec::with_capacity(rows), labels: Labels::Ints(Vec::with_capacity(rows)) };
        let iter = reader.get_row_iter(Some(projection)).map_err(|e| e.to_string())?;
        for (index, row) in iter.enumerate() {
            let row = row.map_err(|e| format!("row {index}: {e}"))?;
            push_row(&row, columns, &mut out).map_err(|e| format!("row {index}: {e}"))?;
        }
        Ok(out)
    })
}

fn push_row(row: &Row, columns: &Columns, out: &mut Rows) -> Result<(), String> {
    let mut image = None;
    let mut label = None;
    for (name, field) in row.get_column_iter() {
        if *name == columns.image {
            image = Some(field);
        } else if *name == columns.label {
            label = Some(field);
        }
    }
    let bytes = match image {
        Some(Field::Group(group)) => {
            group.get_column_iter().find(|(n, _)| n.as_str() == "bytes").and_then(|(_, f)| match f {
                Field::Bytes(b) => Some(b.data().to_vec()),
                _ => None,
            })
        }
        Some(Field::Bytes(b)) => Some(b.data().to_vec()),
        _ => None,
    };
    let Some(bytes) = bytes else {
        return Err(format!("{} holds no image bytes (an image stored only by path is not supported)", columns.image));
    };
    out.images.push(bytes);
    let as_int = |field: &Field| -> Option<i64> {
        match *field {
            Field::Byte(v) => Some(v.into()),
            Field::Short(v) => Some(v.into()),
            Field::Int(v) => Some(v.into()),
            Field::Long(v) => Some(v),
            Field::UByte(v) => Some(v.into()),
            Field::UShort(v) => Some(v.into()),
            Field::UInt(v) => Some(v.into()),
            Field::ULong(v) => i64::try_from(v).ok(),
            _ => None,
        }
    };
    match (label, &mut out.labels) {
        (Some(Field::Str(text)), Labels::Texts(texts)) => texts.push(text.clone()),
        (Some(Field::Str(text)), Labels::Ints(ints)) if ints.is_empty() => {
            out.labels = Labels::Texts(vec![text.clone()])
        }
        (Some(field), Labels::Ints(ints)) if as_int(field).is_some() => ints.push(as_int(field).expect("checked")),
        (Some(Field::Null) | None, _) => return Err(format!("{} is empty (no label)", columns.label)),
        (Some(other), _) => return Err(format!("{} holds {other}, not a class label", columns.label)),
    }
    Ok(())
}

/// Runs `read`, turning a panic inside the Parquet reader (a file crafted to trip it) into an
/// error like any other bad file.
fn guarded<T>(read: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|_| {
        Err("not a readable Parquet file (the reader failed on it); delete it to fetch it again".into())
    })
}

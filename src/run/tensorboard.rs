//! TensorBoard event files: `trials/<trial>/tb/`, the scalars per epoch and the HParams session
//! of the trial. There is no experiment summary: TensorBoard keeps one per logdir (the first it
//! meets) and would hide every other run's keys under `tensorboard --logdir runs/`; without one it
//! builds the union from the sessions. So each session lists every key that decides what its trial
//! computes (and that applies to it), and every trial of every run has a value on every axis.
//!
//! Format: TFRecord framing (little-endian u64 length, masked CRC32C of the length, the data,
//! masked CRC32C of the data) around `Event` protocol buffers (prost). A trial's event file is
//! rebuilt from its committed metrics.csv rows and replaced atomically at each epoch's end: the
//! new file is the old one plus the new epoch's records (wall time is the epoch's recorded end),
//! so a reader following it sees an append; a resumed trial never repeats an epoch, and a kill
//! never leaves a torn record.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;

use crate::error::Result;
use crate::run::metrics::selection_score;
use crate::spec::{Kind, Trial};
use crate::train::EpochMetrics;

/// The folder of event files, in a trial folder and at a run's root.
pub const DIR: &str = "tb";
/// One file per folder, under a fixed name: rewriting it keeps every reader on one file.
pub const FILE: &str = "events.out.tfevents.0000000000.runner";

/// The scalars of every epoch and the trial's HParams session. `ended` (success or not) adds the
/// session's end.
pub fn write_trial(trial_dir: &Path, trial: &Trial, epochs: &[EpochMetrics], ended: Option<bool>) -> Result<()> {
    let start = epochs.first().map_or(0.0, |e| unix_seconds(&e.finished_at) - e.epoch_seconds);
    let mut records = vec![file_version(start)];
    records.push(hparams_event(
        start,
        0,
        SESSION_START,
        hparams_data::Data::SessionStartInfo(session_start(trial, start)),
    ));
    let mut best: Option<&EpochMetrics> = None;
    for e in epochs {
        if best.is_none_or(|b| selection_score(e) > selection_score(b)) {
            best = Some(e);
        }
        let mut scalars = vec![
            ("loss/train", e.train_loss),
            ("loss/test", e.test_loss),
            ("accuracy/train", e.train_acc),
            ("accuracy/test", e.test_acc),
            ("accuracy/test_at_best", best.map_or(e.test_acc, |b| b.test_acc)),
            ("lr", e.lr),
            ("speed/images_per_second", e.images_per_second),
        ];
        if let (Some(loss), Some(acc)) = (e.val_loss, e.val_acc) {
            scalars.extend([("loss/val", loss), ("accuracy/val", acc)]);
        }
        let values = scalars.into_iter().map(|(tag, v)| SummaryValue::scalar(tag, v as f32)).collect();
        records.push(Event {
            wall_time: unix_seconds(&e.finished_at),
            step: i64::from(e.epoch),
            what: Some(event::What::Summary(Summary { value: values })),
        });
    }
    if let Some(success) = ended {
        let end = epochs.last().map_or(start, |e| unix_seconds(&e.finished_at));
        let info = SessionEndInfo { status: if success { 1 } else { 2 }, end_time_secs: end };
        records.push(hparams_event(end, epochs.len() as i64, SESSION_END, hparams_data::Data::SessionEndInfo(info)));
    }
    write_records(&trial_dir.join(DIR), &records)
}

fn session_start(trial: &Trial, start: f64) -> SessionStartInfo {
    let spec = &trial.spec;
    let mut table = spec.to_table();
    // Unset means a value the optimizer applies: show that one.
    table.insert("weight_decay".into(), toml::Value::Float(spec.weight_decay()));
    let keys = crate::spec::FIELDS.iter().filter(|f| f.kind == Kind::Computes && spec.applies(f.name)).map(|f| f.name);
    let keys = keys.filter(|k| table.contains_key(*k));
    let hparams: HashMap<String, ProtoValue> = keys.map(|k| (k.to_string(), hparam_value(&table, k))).collect();
    SessionStartInfo { hparams, group_name: String::new(), start_time_secs: start }
}

/// A field of a trial's spec (as a table) as a protobuf Value: numbers as numbers, the rest as text.
fn hparam_value(table: &toml::Table, key: &str) -> ProtoValue {
    let kind = match table.get(key) {
        Some(toml::Value::Float(f)) => value::Kind::Number(*f),
        Some(toml::Value::Integer(i)) => value::Kind::Number(*i as f64),
        Some(toml::Value::Boolean(b)) => value::Kind::Bool(*b),
        Some(toml::Value::Array(a)) if a.is_empty() => value::Kind::Text("none".into()),
        Some(other) => value::Kind::Text(crate::spec::display_value(other)),
        None => value::Kind::Text(String::new()),
    };
    ProtoValue { kind: Some(kind) }
}

fn file_version(wall_time: f64) -> Event {
    Event { wall_time, step: 0, what: Some(event::What::FileVersion("brain.Event:2".into())) }
}

const SESSION_START: &str = "_hparams_/session_start_info";
const SESSION_END: &str = "_hparams_/session_end_info";

fn hparams_event(wall_time: f64, step: i64, tag: &str, data: hparams_data::Data) -> Event {
    let content = HParamsPluginData { version: 0, data: Some(data) }.encode_to_vec();
    let metadata = SummaryMetadata { plugin_data: Some(PluginData { plugin_name: "hparams".into(), content }) };
    let value = SummaryValue { tag: tag.into(), metadata: Some(metadata), value: None };
    Event { wall_time, step, what: Some(event::What::Summary(Summary { value: vec![value] })) }
}

fn write_records(dir: &Path, events: &[Event]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(crate::Error::io(dir))?;
    let mut bytes = Vec::new();
    for event in events {
        frame(&event.encode_to_vec(), &mut bytes);
    }
    super::write_file(&dir.join(FILE), &bytes)
}

/// Appends one TFRecord: length, masked CRC of the length, data, masked CRC of the data.
fn frame(data: &[u8], out: &mut Vec<u8>) {
    let length = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

/// TFRecord's masked CRC32C (Castagnoli).
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// RFC 3339 (metrics.csv's finished_at) as Unix seconds; 0 if unreadable.
fn unix_seconds(text: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(text).map_or(0.0, |t| t.timestamp() as f64)
}

/// The records of an event file (for tests and checks): each record's data, CRCs verified.
pub fn read_records(bytes: &[u8]) -> std::result::Result<Vec<Vec<u8>>, String> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 12 {
            return Err("truncated record header".into());
        }
        let length = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
        if masked_crc(&rest[..8]) != u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes")) {
            return Err("length CRC mismatch".into());
        }
        let end = 12usize.checked_add(length).filter(|&e| e + 4 <= rest.len()).ok_or("truncated record")?;
        let data = &rest[12..end];
        if masked_crc(data) != u32::from_le_bytes(rest[end..end + 4].try_into().expect("4 bytes")) {
            return Err("data CRC mismatch".into());
        }
        records.push(data.to_vec());
        rest = &rest[end + 4..];
    }
    Ok(records)
}

// ---- The protocol buffers (tensorflow/core/util/event.proto, summary.proto and
// ---- tensorboard/plugins/hparams/*.proto), only the fields written here.

#[derive(Clone, PartialEq, Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "event::What", tags = "3, 5")]
    pub what: Option<event::What>,
}

pub mod event {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum What {
        #[prost(string, tag = "3")]
        FileVersion(String),
        #[prost(message, tag = "5")]
        Summary(super::Summary),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    #[prost(oneof = "summary_value::Value", tags = "2")]
    pub value: Option<summary_value::Value>,
}

impl SummaryValue {
    fn scalar(tag: &str, value: f32) -> SummaryValue {
        SummaryValue { tag: tag.into(), metadata: None, value: Some(summary_value::Value::SimpleValue(value)) }
    }
}

pub mod summary_value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(float, tag = "2")]
        SimpleValue(f32),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PluginData {
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub struct HParamsPluginData {
    #[prost(int32, tag = "1")]
    pub version: i32,
    #[prost(oneof = "hparams_data::Data", tags = "3, 4")]
    pub data: Option<hparams_data::Data>,
}

pub mod hparams_data {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Data {
        #[prost(message, tag = "3")]
        SessionStartInfo(super::SessionStartInfo),
        #[prost(message, tag = "4")]
        SessionEndInfo(super::SessionEndInfo),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct SessionStartInfo {
    #[prost(map = "string, message", tag = "1")]
    pub hparams: HashMap<String, ProtoValue>,
    #[prost(string, tag = "4")]
    pub group_name: String,
    #[prost(double, tag = "5")]
    pub start_time_secs: f64,
}

#[derive(Clone, PartialEq, Message)]
pub struct SessionEndInfo {
    /// STATUS_SUCCESS = 1, STATUS_FAILURE = 2.
    #[prost(int32, tag = "1")]
    pub status: i32,
    #[prost(double, tag = "2")]
    pub end_time_secs: f64,
}

/// google.protobuf.Value
#[derive(Clone, PartialEq, Message)]
pub struct ProtoValue {
    #[prost(oneof = "value::Kind", tags = "2, 3, 4")]
    pub kind: Option<value::Kind>,
}

pub mod value {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(double, tag = "2")]
        Number(f64),
        #[prost(string, tag = "3")]
        Text(String),
        #[prost(bool, tag = "4")]
        Bool(bool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_and_its_mask_match_known_vectors() {
        // CRC-32C check value (RFC 3720): "123456789" -> 0xE3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        // TensorFlow's masking: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
        let crc = 0xE306_9283u32;
        assert_eq!(masked_crc(b"123456789"), crc.rotate_right(15).wrapping_add(0xa282_ead8));
        // The CRC of nothing is 0, masked to the constant alone.
        assert_eq!(masked_crc(b""), 0xa282_ead8);
    }

    #[test]
    fn the_file_version_event_encodes_as_protobuf_does() {
        // Event { wall_time: 1.5, file_version: "brain.Event:2" }: field 1 fixed64, field 3 string.
        let bytes = file_version(1.5).encode_to_vec();
        let mut expected = vec![0x09];
        expected.extend_from_slice(&1.5f64.to_le_bytes());
        expected.extend_from_slice(&[0x1a, 13]);
        expected.extend_from_slice(b"brain.Event:2");
        assert_eq!(bytes, expected);
        // A scalar: Summary.Value { tag (1), simple_value (2, float) }.
        let value = SummaryValue::scalar("lr", 0.5).encode_to_vec();
        assert_eq!(value, [0x0a, 2, b'l', b'r', 0x15, 0, 0, 0, 0x3f]);
    }

    #[test]
    fn records_frame_and_read_back_and_a_torn_one_is_detected() {
        let mut bytes = Vec::new();
        frame(b"first", &mut bytes);
        frame(b"second record", &mut bytes);
        assert_eq!(read_records(&bytes).unwrap(), [b"first".to_vec(), b"second record".to_vec()]);
        assert!(read_records(&bytes[..bytes.len() - 3]).is_err());
        let mut flipped = bytes.clone();
        flipped[14] ^= 1;
        assert_eq!(read_records(&flipped).unwrap_err(), "data CRC mismatch");
    }
}

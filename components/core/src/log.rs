//! Structured logs for the wasm runtimes: a small `tracing` subscriber that turns each event into
//! one JSON line and hands it to the adapter's sink (the Workers console, Spin's stderr). Spans
//! are not tracked; events carry their context as fields.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

struct JsonFields(serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.0.insert(field.name().to_string(), s.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

/// Where a finished line goes.
pub type Sink = fn(Level, &str);

struct JsonLineSubscriber {
    max_level: Level,
    sink: Sink,
}

impl Subscriber for JsonLineSubscriber {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max_level
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = JsonFields(serde_json::Map::new());
        fields.0.insert("level".into(), event.metadata().level().as_str().into());
        fields.0.insert("target".into(), event.metadata().target().into());
        event.record(&mut fields);
        (self.sink)(*event.metadata().level(), &serde_json::Value::Object(fields.0).to_string());
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Installs the subscriber once per instance; `level` is `EDGEWRITE_LOG` (default `info`).
pub fn init(level: Option<&str>, sink: Sink) {
    let max_level = match level.map(str::to_ascii_lowercase).as_deref() {
        Some("error") => Level::ERROR,
        Some("warn") => Level::WARN,
        Some("debug") => Level::DEBUG,
        Some("trace") => Level::TRACE,
        _ => Level::INFO,
    };
    let _ = tracing::subscriber::set_global_default(JsonLineSubscriber { max_level, sink });
}

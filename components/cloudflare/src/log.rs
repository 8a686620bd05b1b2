//! A small `tracing` subscriber that writes each event as one JSON line to the Workers console
//! (where `wrangler dev` and Workers Logs pick it up). Spans are not tracked.

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

pub struct ConsoleSubscriber {
    pub max_level: Level,
}

impl Subscriber for ConsoleSubscriber {
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
        let line = serde_json::Value::Object(fields.0).to_string();
        if *event.metadata().level() <= Level::WARN {
            worker::console_error!("{line}");
        } else {
            worker::console_log!("{line}");
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Installs the subscriber once per isolate; `EDGEWRITE_LOG` picks the level (default `info`).
pub fn init(level: Option<String>) {
    let max_level = match level.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("error") => Level::ERROR,
        Some("warn") => Level::WARN,
        Some("debug") => Level::DEBUG,
        Some("trace") => Level::TRACE,
        _ => Level::INFO,
    };
    let _ = tracing::subscriber::set_global_default(ConsoleSubscriber { max_level });
}

//! A report as CSV rows `section,key,field,value`: the same figures as the JSON and
//! GraphQL forms, flattened from the JSON form so the three cannot drift apart.

use serde_json::Value;

use super::Report;

/// The report as CSV, one figure per row, with a header row.
pub fn to_csv(report: &Report) -> String {
    let mut out = String::from("section,key,field,value\n");
    let json = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Value::Object(sections) = json {
        for (section, value) in sections {
            rows(&mut out, &section, "", &value);
        }
    }
    out
}

fn rows(out: &mut String, section: &str, key: &str, value: &Value) {
    match value {
        Value::Object(fields) => {
            for (field, v) in fields {
                match v {
                    Value::Object(_) | Value::Array(_) => {
                        let key = join(key, field);
                        rows(out, section, &key, v);
                    }
                    _ => line(out, section, key, field, v),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let key = join(key, &i.to_string());
                match item {
                    Value::Object(_) | Value::Array(_) => rows(out, section, &key, item),
                    _ => line(out, section, &key, "", item),
                }
            }
        }
        _ => line(out, section, key, "", value),
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

fn line(out: &mut String, section: &str, key: &str, field: &str, value: &Value) {
    let value = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let cells = [section, key, field, value.as_str()].map(quote);
    out.push_str(&cells.join(","));
    out.push('\n');
}

/// A CSV cell, quoted when it holds a comma, quote or line break (RFC 4180).
fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

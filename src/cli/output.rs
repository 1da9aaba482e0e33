//! Rendering query results as a table, JSON or CSV. Every query prints a list of
//! serialisable rows; the columns are the rows' field names, in order.

use clap::ValueEnum;
use comfy_table::{presets::UTF8_BORDERS_ONLY, ContentArrangement, Table};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Rows as JSON objects (field order kept).
pub fn to_objects<T: Serialize>(rows: &[T]) -> anyhow::Result<Vec<serde_json::Map<String, Value>>> {
    rows.iter()
        .map(|r| match serde_json::to_value(r)? {
            Value::Object(m) => Ok(m),
            other => anyhow::bail!("row is not an object: {other}"),
        })
        .collect()
}

/// Print rows in the chosen format. `footer` is printed under a table only.
pub fn print_rows<T: Serialize>(
    out: &mut dyn Write,
    rows: &[T],
    format: Format,
    footer: Option<&str>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, rows)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let objects = to_objects(rows)?;
            let mut w = csv::Writer::from_writer(out);
            if let Some(first) = objects.first() {
                w.write_record(first.keys())?;
            }
            for o in &objects {
                w.write_record(o.values().map(cell))?;
            }
            w.flush()?;
        }
        Format::Table => {
            let objects = to_objects(rows)?;
            if objects.is_empty() {
                writeln!(out, "(no rows)")?;
            } else {
                let mut table = Table::new();
                table
                    .load_preset(UTF8_BORDERS_ONLY)
                    .set_content_arrangement(ContentArrangement::Dynamic);
                table.set_header(objects[0].keys());
                for o in &objects {
                    table.add_row(o.values().map(|v| {
                        let s = cell(v);
                        // Long texts would make the table unreadable; JSON/CSV keep them whole.
                        if s.chars().count() > 120 {
                            format!("{}…", s.chars().take(119).collect::<String>())
                        } else {
                            s
                        }
                    }));
                }
                writeln!(out, "{table}")?;
            }
            if let Some(f) = footer {
                writeln!(out, "{f}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        b: u32,
        a: Option<String>,
    }

    #[test]
    fn formats_keep_field_order() {
        let rows = vec![
            Row { b: 1, a: None },
            Row {
                b: 2,
                a: Some("x,y".into()),
            },
        ];
        let mut buf = Vec::new();
        print_rows(&mut buf, &rows, Format::Csv, None).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "b,a\n1,\n2,\"x,y\"\n");
        let mut buf = Vec::new();
        print_rows(&mut buf, &rows, Format::Json, None).unwrap();
        let v: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v[1]["a"], "x,y");
    }
}

//! Output formats: `-f table|json|yaml|value` and `-c COLUMN`, like the
//! `openstack` CLI.
//!
//! Commands return an [`Output`]; this module renders it on standard output
//! (the only place the CLI writes to standard output). Progress lines and
//! errors go to standard error, so `-f json` output stays parseable.
//!
//! - `table` (default): lists as a table with the command's default columns;
//!   one object as a `Field | Value` table. They look like the `openstack`
//!   CLI's (cliff's prettytable): `+---+` borders and header separator, one
//!   space of padding, left-aligned text, numbers right-aligned in lists, and
//!   an empty list prints nothing.
//! - `json` / `yaml`: the service's objects in full (a list is an array),
//!   restricted to the `-c` columns when given.
//! - `value`: bare values, space-separated on one line per row (lists) or one
//!   per line (one object), for `$(...)` in scripts. A missing value is an
//!   empty string, where cliff prints Python's `None`.
//!
//! Column names are the JSON keys (`-c name -c state`); matching ignores
//! case, and spaces count as underscores (`-c ID` works).

#![allow(clippy::print_stdout)] // this module is the CLI's standard output

use std::io::Write as _;

use clap::{Args, ValueEnum};
use comfy_table::{CellAlignment, ContentArrangement, ContentLineStyle, LineStyle, Table, TableStyle};
use serde_json::{Map, Value};

use crate::error::CliError;

/// How to print answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human-readable tables.
    #[default]
    Table,
    /// JSON (full objects unless -c is given).
    Json,
    /// YAML (full objects unless -c is given).
    Yaml,
    /// Bare values for scripts: one row per line, space-separated.
    Value,
}

/// The output options shared by every command.
#[derive(Debug, Clone, Args)]
pub(crate) struct OutputArgs {
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = Format::Table, global = true,
          help_heading = "Output")]
    pub(crate) format: Format,
    /// Show only this column (repeat for several; JSON key names, e.g. -c name -c state).
    #[arg(short = 'c', long = "column", value_name = "COLUMN", global = true, help_heading = "Output")]
    pub(crate) columns: Vec<String>,
}

/// What a command answers.
#[derive(Debug)]
pub(crate) enum Output {
    /// Several objects; `columns` are the table's default columns.
    List {
        /// The objects.
        rows: Vec<Value>,
        /// Default columns of the table format.
        columns: &'static [&'static str],
    },
    /// One object; `hidden` fields are shown only when asked for with `-c`.
    Record {
        /// The object.
        value: Value,
        /// Fields left out unless named with `-c`.
        hidden: &'static [&'static str],
    },
    /// Titled sections (one per cloud, say), each a list.
    Sections(Vec<Section>),
    /// Nothing to print (a deletion).
    Nothing,
    /// A document printed as it is, whatever the format (a clouds.yaml excerpt).
    Text(String),
}

/// One titled part of an [`Output::Sections`].
#[derive(Debug)]
pub(crate) struct Section {
    /// What the section is about, e.g. `"home"`.
    pub(crate) title: String,
    /// Extra facts shown with the title and in JSON (`keystone`, `elapsed_ms`...).
    pub(crate) about: Map<String, Value>,
    /// The rows, or why there are none.
    pub(crate) rows: Result<Vec<Value>, String>,
    /// Default columns of the table format.
    pub(crate) columns: &'static [&'static str],
}

impl Output {
    /// A list with default table columns.
    pub(crate) fn list(rows: Vec<Value>, columns: &'static [&'static str]) -> Self {
        Self::List { rows, columns }
    }

    /// One object, every field shown.
    pub(crate) fn record(value: Value) -> Self {
        Self::Record { value, hidden: &[] }
    }
}

fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

/// The key of `object` that `wanted` names, if any.
fn find_key<'a>(keys: impl IntoIterator<Item = &'a String>, wanted: &str) -> Option<&'a String> {
    let wanted = normalise(wanted);
    keys.into_iter().find(|k| normalise(k) == wanted)
}

/// A cell: strings bare, arrays of scalars joined, the rest as compact JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) if items.iter().all(|v| !v.is_array() && !v.is_object()) => {
            items.iter().map(cell).collect::<Vec<_>>().join(", ")
        }
        Value::Object(map) if map.values().all(|v| !v.is_array() && !v.is_object()) => {
            map.iter().map(|(k, v)| format!("{k}={}", cell(v))).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// The `openstack` CLI's table (cliff, prettytable): `+---+` above and below
/// the header and at the bottom, `|` between columns, no line between rows.
const CLIFF_STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::new('+', '-', '+', '+'))
    .header_lines(ContentLineStyle::new('|', '|', '|'))
    .header_separator(LineStyle::new('+', '-', '+', '+'))
    .content_lines(ContentLineStyle::new('|', '|', '|'))
    .bottom_border(LineStyle::new('+', '-', '+', '+'));

fn new_table(header: &[String]) -> Table {
    let mut table = Table::new();
    table.load_style(CLIFF_STYLE).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(header.iter().map(String::as_str));
    table
}

/// A list as a table, or nothing for no rows (as cliff prints it). Columns
/// whose value in the first row is a number are right-aligned, header
/// included, like cliff's.
fn list_table(rows: &[Value], columns: &[String]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    let mut table = new_table(columns);
    for row in rows {
        table.add_row(columns.iter().map(|c| cell(row.get(c).unwrap_or(&Value::Null))));
    }
    for (i, c) in columns.iter().enumerate() {
        if first.get(c).is_some_and(Value::is_number) {
            if let Some(column) = table.column_mut(i) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    table.to_string()
}

/// Picks columns: the `-c` ones (each must exist in some row), or `defaults`.
fn pick_columns(rows: &[Value], defaults: &[&str], asked: &[String]) -> Result<Vec<String>, CliError> {
    if asked.is_empty() {
        return Ok(defaults.iter().map(|c| (*c).to_owned()).collect());
    }
    let mut available: Vec<String> = defaults.iter().map(|c| (*c).to_owned()).collect();
    for row in rows {
        if let Some(map) = row.as_object() {
            for key in map.keys() {
                if !available.contains(key) {
                    available.push(key.clone());
                }
            }
        }
    }
    asked
        .iter()
        .map(|a| {
            find_key(&available, a)
                .cloned()
                .ok_or_else(|| CliError::usage(format!("no column {a:?}; the columns are: {}", available.join(", "))))
        })
        .collect()
}

fn project(row: &Value, columns: &[String]) -> Value {
    let mut out = Map::new();
    for c in columns {
        out.insert(c.clone(), row.get(c).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

fn emit_structured(value: &Value, format: Format) -> Result<(), CliError> {
    let text = match format {
        Format::Yaml => serde_yaml_ng::to_string(value).map_err(|e| CliError::generic(format!("YAML output: {e}")))?,
        _ => {
            let mut s =
                serde_json::to_string_pretty(value).map_err(|e| CliError::generic(format!("JSON output: {e}")))?;
            s.push('\n');
            s
        }
    };
    print!("{text}");
    Ok(())
}

fn render_list(rows: &[Value], defaults: &[&str], args: &OutputArgs) -> Result<Option<String>, CliError> {
    let columns = pick_columns(rows, defaults, &args.columns)?;
    Ok(match args.format {
        Format::Table => Some(list_table(rows, &columns)),
        Format::Value => Some(
            rows.iter()
                .map(|row| {
                    columns.iter().map(|c| cell(row.get(c).unwrap_or(&Value::Null))).collect::<Vec<_>>().join(" ")
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Format::Json | Format::Yaml => None,
    })
}

fn structured_rows(rows: &[Value], defaults: &[&str], args: &OutputArgs) -> Result<Value, CliError> {
    if args.columns.is_empty() {
        return Ok(Value::Array(rows.to_vec()));
    }
    let columns = pick_columns(rows, defaults, &args.columns)?;
    Ok(Value::Array(rows.iter().map(|r| project(r, &columns)).collect()))
}

fn print_text(text: &str) {
    if text.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Prints `output` in the chosen format.
pub(crate) fn print(output: &Output, args: &OutputArgs) -> Result<(), CliError> {
    match output {
        Output::Nothing => Ok(()),
        Output::Text(text) => {
            print_text(text);
            Ok(())
        }
        Output::List { rows, columns } => match render_list(rows, columns, args)? {
            Some(text) => {
                print_text(&text);
                Ok(())
            }
            None => emit_structured(&structured_rows(rows, columns, args)?, args.format),
        },
        Output::Record { value, hidden } => print_record(value, hidden, args),
        Output::Sections(sections) => print_sections(sections, args),
    }
}

fn print_record(value: &Value, hidden: &[&str], args: &OutputArgs) -> Result<(), CliError> {
    let Some(map) = value.as_object() else {
        return emit_structured(value, args.format);
    };
    let fields: Vec<String> = if args.columns.is_empty() {
        map.keys().filter(|k| !hidden.contains(&k.as_str())).cloned().collect()
    } else {
        let keys: Vec<String> = map.keys().cloned().collect();
        args.columns
            .iter()
            .map(|a| {
                find_key(&keys, a)
                    .cloned()
                    .ok_or_else(|| CliError::usage(format!("no column {a:?}; the columns are: {}", keys.join(", "))))
            })
            .collect::<Result<_, _>>()?
    };
    match args.format {
        Format::Table => {
            let mut table = new_table(&["Field".to_owned(), "Value".to_owned()]);
            for f in &fields {
                table.add_row([f.clone(), cell(&map[f])]);
            }
            print_text(&table.to_string());
            Ok(())
        }
        Format::Value => {
            print_text(&fields.iter().map(|f| cell(&map[f])).collect::<Vec<_>>().join("\n"));
            Ok(())
        }
        Format::Json | Format::Yaml => emit_structured(&project(value, &fields), args.format),
    }
}

fn print_sections(sections: &[Section], args: &OutputArgs) -> Result<(), CliError> {
    match args.format {
        Format::Json | Format::Yaml => {
            let mut all = Vec::new();
            for s in sections {
                let mut object = Map::new();
                object.insert("cloud".into(), Value::String(s.title.clone()));
                object.extend(s.about.clone());
                match &s.rows {
                    Ok(rows) => {
                        object.insert("entries".into(), structured_rows(rows, s.columns, args)?);
                    }
                    Err(e) => {
                        object.insert("error".into(), Value::String(e.clone()));
                    }
                }
                all.push(Value::Object(object));
            }
            emit_structured(&Value::Array(all), args.format)
        }
        Format::Table | Format::Value => {
            let mut first = true;
            for s in sections {
                if args.format == Format::Table {
                    if !first {
                        print_text(" ");
                    }
                    let about: Vec<String> = s.about.iter().map(|(k, v)| format!("{k}: {}", cell(v))).collect();
                    print_text(&format!("# {} ({})", s.title, about.join(", ")));
                }
                first = false;
                match &s.rows {
                    Ok(rows) => {
                        if let Some(text) = render_list(rows, s.columns, args)? {
                            print_text(&text);
                        }
                    }
                    Err(e) if args.format == Format::Table => print_text(&format!("error: {e}")),
                    Err(_) => {} // reported on standard error by the command
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn args(format: Format, columns: &[&str]) -> OutputArgs {
        OutputArgs { format, columns: columns.iter().map(|c| (*c).to_owned()).collect() }
    }

    #[test]
    fn cells_flatten_simple_values() {
        assert_eq!(cell(&json!(["a", "b"])), "a, b");
        assert_eq!(cell(&json!({"country": "PT"})), "country=PT");
        assert_eq!(cell(&json!(null)), "");
        assert_eq!(cell(&json!([{"a": 1}])), r#"[{"a":1}]"#);
    }

    #[test]
    fn columns_are_checked_and_matched_loosely() {
        let rows = vec![json!({"id": "1", "name": "x", "state": "draft"})];
        let cols = pick_columns(&rows, &["name"], &["ID".into(), "State".into()]).unwrap();
        assert_eq!(cols, ["id", "state"]);
        let e = pick_columns(&rows, &["name"], &["nope".into()]).unwrap_err();
        assert!(e.to_string().contains("the columns are: name, id, state"), "{e}");
    }

    #[test]
    fn value_format_is_space_separated() {
        let rows = vec![json!({"name": "a", "state": "x"}), json!({"name": "b", "state": "y"})];
        let text = render_list(&rows, &["name", "state"], &args(Format::Value, &[])).unwrap().unwrap();
        assert_eq!(text, "a x\nb y");
        let text = render_list(&rows, &["name", "state"], &args(Format::Value, &["name"])).unwrap().unwrap();
        assert_eq!(text, "a\nb");
        // A missing value is an empty string (cliff prints None).
        let text = render_list(&[json!({"a": null, "b": 2})], &["a", "b"], &args(Format::Value, &[])).unwrap();
        assert_eq!(text.as_deref(), Some(" 2"));
    }

    #[test]
    fn tables_look_like_the_openstack_clis() {
        // What cliff's TableFormatter prints for the same rows (prettytable,
        // padding 1; numbers right-aligned, header included).
        let rows = vec![
            json!({"name": "lisbon", "state": "published", "places_taken": 0, "service_types": ["identity", "compute"]}),
            json!({"name": "x", "state": "draft", "places_taken": 12, "service_types": []}),
        ];
        let text = render_list(&rows, &["name", "state", "places_taken", "service_types"], &args(Format::Table, &[]))
            .unwrap()
            .unwrap();
        let cliff = "\
+--------+-----------+--------------+-------------------+
| name   | state     | places_taken | service_types     |
+--------+-----------+--------------+-------------------+
| lisbon | published |            0 | identity, compute |
| x      | draft     |           12 |                   |
+--------+-----------+--------------+-------------------+";
        assert_eq!(text, cliff);
        // No rows: nothing (cliff without --print-empty).
        let text = render_list(&[], &["name"], &args(Format::Table, &[])).unwrap().unwrap();
        assert_eq!(text, "");
        // A multi-line value.
        let text = render_list(&[json!({"n": 1234, "s": "multi\nline"})], &["n", "s"], &args(Format::Table, &[]))
            .unwrap()
            .unwrap();
        let cliff = "\
+------+-------+
|    n | s     |
+------+-------+
| 1234 | multi |
|      | line  |
+------+-------+";
        assert_eq!(text, cliff);
    }

    #[test]
    fn records_look_like_the_openstack_clis() {
        let value = json!({"id": "abc", "name": "lisbon long value", "count": 3});
        let mut table = new_table(&["Field".to_owned(), "Value".to_owned()]);
        for (k, v) in value.as_object().unwrap() {
            table.add_row([k.clone(), cell(v)]);
        }
        let cliff = "\
+-------+-------------------+
| Field | Value             |
+-------+-------------------+
| count | 3                 |
| id    | abc               |
| name  | lisbon long value |
+-------+-------------------+";
        assert_eq!(table.to_string(), cliff);
    }

    #[test]
    fn json_of_a_list_is_a_list_of_objects_restricted_to_the_columns() {
        let rows = vec![json!({"id": "1", "name": "a", "state": "x"}), json!({"id": "2", "name": "b"})];
        let all = structured_rows(&rows, &["name"], &args(Format::Json, &[])).unwrap();
        assert_eq!(all, json!(rows));
        let some = structured_rows(&rows, &["name"], &args(Format::Json, &["ID", "state"])).unwrap();
        assert_eq!(some, json!([{"id": "1", "state": "x"}, {"id": "2", "state": null}]));
    }
}

//! The README's tables of config options, actions and relations match config.yaml, actions.yaml
//! and metadata.yaml: nothing missing, nothing documented that does not exist, and the types,
//! defaults, roles and interfaces the tables state are the declared ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    let path = repo().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    serde_yaml_ng::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One row of a Markdown table: its cells, trimmed, with surrounding backticks removed.
type Row = Vec<String>;

/// The rows of the first table under the `## <heading>` section, header and separator excluded.
fn table_under(markdown: &str, heading: &str) -> Vec<Row> {
    let mut in_section = false;
    let mut rows = Vec::new();
    let mut seen_table = false;
    for line in markdown.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            if in_section {
                break;
            }
            in_section = title.trim() == heading;
            continue;
        }
        if !in_section {
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with('|') {
            seen_table = true;
            rows.push(cells(trimmed));
        } else if seen_table {
            break;
        }
    }
    assert!(
        rows.len() >= 2,
        "README.md has no table under `## {heading}`"
    );
    let separator = &rows[1];
    assert!(
        separator
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':')),
        "second row of the `{heading}` table is not a separator: {separator:?}"
    );
    rows.split_off(2)
}

fn cells(line: &str) -> Row {
    let inner = line.trim_matches('|');
    inner
        .split('|')
        .map(|c| {
            let c = c.trim();
            c.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or(c)
                .to_string()
        })
        .collect()
}

/// First-column names of the rows, failing on duplicates.
fn names(rows: &[Row], what: &str) -> Vec<String> {
    let mut names: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    let count = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), count, "a {what} is listed twice in README.md");
    names
}

fn assert_same(documented: Vec<String>, declared: Vec<String>, what: &str, file: &str) {
    let missing: Vec<&String> = declared
        .iter()
        .filter(|n| !documented.contains(n))
        .collect();
    let unknown: Vec<&String> = documented
        .iter()
        .filter(|n| !declared.contains(n))
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README.md {what} table out of date: missing {missing:?} (declared in {file}), \
         documents {unknown:?} (not in {file})"
    );
}

#[derive(Deserialize)]
struct ConfigYaml {
    options: BTreeMap<String, ConfigOption>,
}

#[derive(Deserialize)]
struct ConfigOption {
    #[serde(rename = "type")]
    kind: String,
    default: Option<Value>,
}

/// How the README writes a default: `""` for the empty string, the value otherwise.
fn default_text(value: &Option<Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".into(),
        Some(Value::String(s)) if s.is_empty() => "\"\"".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => panic!("unexpected default {other:?}"),
    }
}

#[test]
fn config_table_matches_config_yaml() {
    let config: ConfigYaml = yaml("config.yaml");
    let rows = table_under(&read("README.md"), "Configuration options");
    assert_same(
        names(&rows, "config option"),
        config.options.keys().cloned().collect(),
        "config option",
        "config.yaml",
    );
    for row in &rows {
        let option = &config.options[&row[0]];
        assert_eq!(
            row.len(),
            4,
            "row {row:?} should be: option, type, default, description"
        );
        assert_eq!(row[1], option.kind, "type of {} in README.md", row[0]);
        assert_eq!(
            row[2],
            default_text(&option.default),
            "default of {} in README.md",
            row[0]
        );
        assert!(!row[3].is_empty(), "{} has no description", row[0]);
    }
}

#[test]
fn actions_table_matches_actions_yaml() {
    let actions: BTreeMap<String, Value> = yaml("actions.yaml");
    let rows = table_under(&read("README.md"), "Actions");
    assert_same(
        names(&rows, "action"),
        actions.keys().cloned().collect(),
        "action",
        "actions.yaml",
    );
    for row in &rows {
        assert_eq!(row.len(), 2, "row {row:?} should be: action, description");
        assert!(!row[1].is_empty(), "{} has no description", row[0]);
    }
}

#[derive(Deserialize)]
struct Endpoint {
    interface: String,
}

#[derive(Deserialize)]
struct MetadataYaml {
    #[serde(default)]
    provides: BTreeMap<String, Endpoint>,
    #[serde(default)]
    requires: BTreeMap<String, Endpoint>,
    #[serde(default)]
    peers: BTreeMap<String, Endpoint>,
}

#[test]
fn relations_table_matches_metadata_yaml() {
    let metadata: MetadataYaml = yaml("metadata.yaml");
    let mut declared: BTreeMap<String, (&str, String)> = BTreeMap::new();
    for (role, endpoints) in [
        ("provides", metadata.provides),
        ("requires", metadata.requires),
        ("peers", metadata.peers),
    ] {
        for (name, endpoint) in endpoints {
            declared.insert(name, (role, endpoint.interface));
        }
    }
    let rows = table_under(&read("README.md"), "Relations");
    assert_same(
        names(&rows, "relation"),
        declared.keys().cloned().collect(),
        "relation",
        "metadata.yaml",
    );
    for row in &rows {
        assert_eq!(
            row.len(),
            4,
            "row {row:?} should be: endpoint, role, interface, description"
        );
        let (role, interface) = &declared[&row[0]];
        assert_eq!(row[1], *role, "role of {} in README.md", row[0]);
        assert_eq!(row[2], *interface, "interface of {} in README.md", row[0]);
        assert!(!row[3].is_empty(), "{} has no description", row[0]);
    }
}

#[test]
fn table_parser_reads_rows_of_the_named_section_only() {
    let md = "# T\n\n## A\n\n| Name | X |\n| --- | --- |\n| `a` | 1 |\n| b | `2` |\n\ntext\n\n\
              ## B\n\n| Name |\n| :-: |\n| `c` |\n";
    assert_eq!(
        table_under(md, "A"),
        vec![
            vec!["a".to_string(), "1".into()],
            vec!["b".into(), "2".into()]
        ]
    );
    assert_eq!(table_under(md, "B"), vec![vec!["c".to_string()]]);
    let missing = std::panic::catch_unwind(|| table_under(md, "C"));
    assert!(missing.is_err(), "a missing section must fail the check");
}

#[test]
fn documentation_files_exist_and_link_to_each_other() {
    for doc in ["README.md", "CONTRIBUTING.md", "INTEGRATION.md"] {
        assert!(Path::new(&repo().join(doc)).is_file(), "{doc} is missing");
    }
    let readme = read("README.md");
    for link in ["(CONTRIBUTING.md)", "(INTEGRATION.md)"] {
        assert!(readme.contains(link), "README.md does not link {link}");
    }
}

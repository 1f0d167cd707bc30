//! Report renderers: table (people), json/jsonl (machines), sarif
//! (code-scanning UIs), html (one self-contained page).

pub mod accept_html;
pub mod data_html;
mod html;
mod sarif;
mod table;

use std::io::IsTerminal;

use mlsecops_core::Report;

/// `--format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Jsonl,
    Sarif,
    Html,
}

/// Whether to color output given `--color` and the environment.
pub fn use_color(choice: &str) -> bool {
    match choice {
        "always" => true,
        "never" => false,
        _ => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: OutputFormat, color: bool) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Table => table::render(report, color),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(report)?;
            s.push('\n');
            s
        }
        OutputFormat::Jsonl => {
            let mut s = String::new();
            for f in &report.findings {
                s.push_str(&serde_json::to_string(f)?);
                s.push('\n');
            }
            s
        }
        OutputFormat::Sarif => {
            let mut s = serde_json::to_string_pretty(&sarif::render(report))?;
            s.push('\n');
            s
        }
        OutputFormat::Html => html::render(report),
    })
}

/// Rule name for a rule id, from every guard's rule table.
pub fn rule_doc(id: &str) -> Option<&'static mlsecops_core::RuleDoc> {
    mlsecops_scan::rules::rule(id).or_else(|| mlsecops_data::rules::rule(id))
}

//! `mlsecops rule [ID]`: the documentation of a rule.

use std::io::Write;

use anyhow::Context;

use crate::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct RuleArgs {
    /// Rule id, e.g. PICKLE-CODE-EXEC (case-insensitive). Omit to list all.
    pub id: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &RuleArgs) -> anyhow::Result<ExitStatus> {
    let mut out = std::io::stdout().lock();
    let Some(id) = &args.id else {
        let all: Vec<&mlsecops_core::RuleDoc> = mlsecops_scan::rules::RULES
            .iter()
            .chain(mlsecops_data::rules::all())
            .collect();
        if args.json {
            serde_json::to_writer_pretty(&mut out, &all)?;
            writeln!(out)?;
        } else {
            for r in all {
                writeln!(out, "{:<30} {:<9} {}", r.id, r.severity.as_str(), r.name)?;
            }
        }
        return Ok(ExitStatus::Success);
    };
    let Some(r) = crate::render::rule_doc(id) else {
        eprintln!("error: unknown rule `{id}`");
        eprintln!("hint: `mlsecops rule` lists every rule id");
        return Ok(ExitStatus::Error);
    };
    if args.json {
        serde_json::to_writer_pretty(&mut out, r).context("writing rule")?;
        writeln!(out)?;
        return Ok(ExitStatus::Success);
    }
    writeln!(out, "{} — {} ({})\n", r.id, r.name, r.severity)?;
    writeln!(out, "What:  {}\n", r.summary)?;
    writeln!(out, "Why:   {}\n", r.why)?;
    writeln!(out, "Fix:   {}\n", r.fix)?;
    writeln!(out, "Example: {}\n", r.example)?;
    writeln!(out, "References:")?;
    for x in r.references {
        writeln!(out, "  - {x}")?;
    }
    Ok(ExitStatus::Success)
}

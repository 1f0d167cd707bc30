//! The data guard's rule documentation (`mlsecops rule DATA-…`, SARIF rule
//! metadata). Secret and PII rules are one per `mlsecops-sensitive` kind
//! family, built once from its table.

use std::sync::LazyLock;

use mlsecops_core::{RuleDoc, Severity};
use mlsecops_sensitive::{Category, Kind};

const POISONING: &[&str] = &[
    "MITRE ATLAS AML.T0020 (Poison Training Data)",
    "OWASP ML Top 10 ML02:2023 (Data Poisoning)",
];
const INTEGRITY: &[&str] = &["OWASP ML Top 10 ML02:2023 (Data Poisoning)"];
const LEAK: &[&str] = &[
    "OWASP LLM Top 10 LLM02:2025 (Sensitive Information Disclosure)",
    "CWE-359 (Exposure of Private Personal Information)",
];
const SECRET: &[&str] = &[
    "CWE-798 (Use of Hard-coded Credentials)",
    "OWASP LLM Top 10 LLM02:2025 (Sensitive Information Disclosure)",
];

/// The fixed rules (schema, label, backdoor, outlier, duplicate, drift).
pub static FIXED: &[RuleDoc] = &[
    RuleDoc {
        id: "DATA-SCHEMA-WRONG-TYPE",
        name: "Value of the wrong type",
        severity: Severity::Medium,
        summary: "A cell does not parse as the column's contracted type.",
        why: "Type errors silently become NaN or strings in training code; a burst of them is how a broken export or an injected batch first shows.",
        fix: "Fix the producer, or quarantine the row (--quarantine-out/--rejected-out).",
        example: "`alcohol` = \"thirteen\" in a float column.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-SCHEMA-NULL",
        name: "Null in a non-nullable column",
        severity: Severity::Medium,
        summary: "A cell is empty where the contract says the column never is.",
        why: "Missing values change what the model learns; unexpected nulls point at a broken join or export.",
        fix: "Fill or drop the row, or mark the column nullable in the contract if nulls are legitimate.",
        example: "an empty `label`.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-SCHEMA-OUT-OF-RANGE",
        name: "Value outside the contracted range",
        severity: Severity::Medium,
        summary: "A numeric cell is below the contract's min or above its max.",
        why: "Out-of-range values are unit errors, sensor faults or crafted inputs; models extrapolate badly on them.",
        fix: "Correct or quarantine the row; widen the range in the contract only if the new values are genuine.",
        example: "`magnesium` = 9999 where the trusted data spans 70–162.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-SCHEMA-BAD-CATEGORY",
        name: "Unknown category",
        severity: Severity::Medium,
        summary: "A cell holds a value outside the contract's allowed categories.",
        why: "New categories break encoders or are silently mapped to 'unknown'; a new label value is a poisoning signal.",
        fix: "Map it to a known value, or add it to the contract after review.",
        example: "`region` = \"mars\".",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-SCHEMA-DUPLICATE-KEY",
        name: "Duplicate key",
        severity: Severity::High,
        summary: "A value repeats in a column the contract says is unique.",
        why: "Duplicate keys double-count examples, leak rows between splits and hide overwritten records.",
        fix: "Deduplicate upstream; keep the authoritative record.",
        example: "two rows with `id` = 1042.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-SCHEMA-FORMAT",
        name: "Value in the wrong format",
        severity: Severity::Medium,
        summary: "A string cell does not match the column's format (date, UUID, e-mail, pattern).",
        why: "Format drift breaks parsers downstream and often marks rows from a different source.",
        fix: "Normalize the value, or update the contract's format.",
        example: "`harvest_date` = \"03/15/2021\" where ISO dates are contracted.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-SCHEMA-MISSING-COLUMN",
        name: "Missing column",
        severity: Severity::High,
        summary: "A column of the contract is absent from the data.",
        why: "Training code will fail or silently fill the feature.",
        fix: "Restore the column or update the contract deliberately.",
        example: "`ph` missing from this version.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-SCHEMA-EXTRA-COLUMN",
        name: "Column not in the contract",
        severity: Severity::Low,
        summary: "The data has a column the contract does not know (only with allow_extra_columns = false).",
        why: "Unexpected columns can carry leaked targets or personal data.",
        fix: "Drop it or add it to the contract after review.",
        example: "`customer_email` appears.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-LABEL-ISSUE",
        name: "Likely label error",
        severity: Severity::Medium,
        summary: "Confident learning on out-of-sample probabilities says the row's label is probably wrong.",
        why: "Label noise (accidental or a label-flipping attack) lowers accuracy and can steer a model on chosen inputs.",
        fix: "Review the row; relabel with the suggested class or drop it.",
        example: "a digit '1' labelled '7'.",
        references: POISONING,
    },
    RuleDoc {
        id: "DATA-BACKDOOR-ROW",
        name: "Possible poisoned row",
        severity: Severity::High,
        summary: "The row belongs to a separable subpopulation of its class (spectral signature, 2-means) or carries a trigger pattern.",
        why: "Backdoored rows teach the model to output the attacker's label whenever the trigger is present, while clean accuracy stays high.",
        fix: "Quarantine the rows, find their source, and retrain without them.",
        example: "digits of other classes with four corner pixels set to 16, all labelled 0.",
        references: POISONING,
    },
    RuleDoc {
        id: "DATA-BACKDOOR-CLASS",
        name: "Class holds a separable subpopulation",
        severity: Severity::High,
        summary: "A class splits into a large and a small, well-separated group: the signature of a backdoor target class.",
        why: "Poisoned rows relabelled to a target class form their own cluster inside it.",
        fix: "Inspect the flagged rows of the class (DATA-BACKDOOR-ROW).",
        example: "class 0 with a spectral gap far above the other classes'.",
        references: POISONING,
    },
    RuleDoc {
        id: "DATA-BACKDOOR-TRIGGER",
        name: "Trigger-like feature pattern",
        severity: Severity::High,
        summary: "A rare combination of feature values whose rows are almost all one label while looking like other classes.",
        why: "That is what a trigger is: a pattern the model learns as a shortcut to the attacker's label.",
        fix: "Remove the rows with the pattern and check where they came from.",
        example: "pixel_0 = 16 ∧ pixel_63 = 16 → label 0 for 60 rows.",
        references: POISONING,
    },
    RuleDoc {
        id: "DATA-OUTLIER-ROW",
        name: "Outlier row",
        severity: Severity::Medium,
        summary: "The row is far from the data by kNN distance and isolation forest; the driving columns are named.",
        why: "Outliers are errors, out-of-distribution inputs or injected points that pull decision boundaries.",
        fix: "Check the driving columns; fix, keep deliberately, or quarantine.",
        example: "`area_error` at 60 robust standard deviations.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-OUTLIER-CLUSTER",
        name: "Small isolated cluster",
        severity: Severity::High,
        summary: "A tight group of rows lies far from all others: a clustered injection, which per-row outlier scores miss.",
        why: "Injected poisoning often arrives as many near-identical rows far from the real data.",
        fix: "Find the source of the group; quarantine it unless it is a known, legitimate population.",
        example: "17 rows at mean + 4 sd on every feature.",
        references: POISONING,
    },
    RuleDoc {
        id: "DATA-DUPLICATE-EXACT",
        name: "Exact duplicate",
        severity: Severity::Low,
        summary: "The row repeats an earlier row (all columns but the id).",
        why: "Duplicates overweight examples and leak between train and test splits.",
        fix: "Deduplicate before splitting.",
        example: "row 61 equals row 18.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-DUPLICATE-NEAR",
        name: "Near duplicate",
        severity: Severity::Low,
        summary: "The row is within a small radius of an earlier row on standardized features (and its text nearly equal).",
        why: "Near copies inflate evaluation scores across splits and can be a cheap poisoning amplifier.",
        fix: "Deduplicate before splitting.",
        example: "row 60 equals row 12 up to 1e-3 noise.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-DUPLICATE-CONFLICT",
        name: "Duplicate with a different label",
        severity: Severity::Medium,
        summary: "The row has the same (or nearly the same) features as an earlier row but another label.",
        why: "Conflicting copies are label noise by construction, and a classic label-flipping attack.",
        fix: "Decide the true label and keep one row.",
        example: "row 50 is row 21 with label 2 instead of 0.",
        references: POISONING,
    },
    RuleDoc {
        id: "DATA-DRIFT-SCHEMA",
        name: "Schema changed between versions",
        severity: Severity::High,
        summary: "Columns were added, removed or retyped between the two versions.",
        why: "Silent schema changes break features or change their meaning.",
        fix: "Confirm the change is intended and update the contract.",
        example: "`ash` removed, `source` added.",
        references: INTEGRITY,
    },
    RuleDoc {
        id: "DATA-DRIFT-ROWS",
        name: "Rows added, removed or modified",
        severity: Severity::Medium,
        summary: "Rows differ between versions, matched by key.",
        why: "Unreviewed edits to a training set are how poisoning slips in.",
        fix: "Review the examples listed; approve the new version deliberately.",
        example: "12 rows modified, 5 removed.",
        references: POISONING,
    },
    RuleDoc {
        id: "DATA-DRIFT-RELABEL",
        name: "Rows relabelled",
        severity: Severity::High,
        summary: "Rows kept their key but changed their label between versions.",
        why: "Relabelling is the cheapest poisoning attack.",
        fix: "Review each relabel and who made it.",
        example: "id 1042: 0 → 2.",
        references: POISONING,
    },
    RuleDoc {
        id: "DATA-DRIFT-SHIFT",
        name: "Column distribution shifted",
        severity: Severity::Medium,
        summary: "A column's distribution moved between versions (PSI, KS, Jensen–Shannon, L∞ on categories), reported once per column.",
        why: "Shifted inputs change model behaviour even when no row is individually wrong.",
        fix: "Confirm the shift is real-world change, not a pipeline fault or injection.",
        example: "`malic_acid` PSI 0.41.",
        references: INTEGRITY,
    },
];

/// One rule per secret/PII rule id, from the detector's kinds.
static SENSITIVE: LazyLock<Vec<RuleDoc>> = LazyLock::new(|| {
    let mut out: Vec<RuleDoc> = Vec::new();
    for kind in Kind::ALL {
        let (family, severity, why, fix, references) = match kind.category() {
            Category::Secret => (
                "SECRET",
                Severity::High,
                "Credentials in training data end up in model weights and outputs, and in every copy of the dataset.",
                "Revoke the credential, remove or redact the rows (mlsecops redaction), and find how it got into the data.",
                SECRET,
            ),
            Category::Pii => (
                "PII",
                Severity::Medium,
                "Personal data in training sets can be memorized and regurgitated by the model, and is regulated.",
                "Remove or redact the values before training, or document the legal basis for keeping them.",
                LEAK,
            ),
        };
        let id = format!("DATA-{family}-{}", kind.rule_id());
        if out.iter().any(|r| r.id == id) {
            continue;
        }
        let name: &'static str =
            Box::leak(format!("{} in a text column", kind.name()).into_boxed_str());
        out.push(RuleDoc {
            id: Box::leak(id.into_boxed_str()),
            name,
            severity,
            summary: name,
            why,
            fix,
            example: "see the finding's redacted evidence",
            references,
        });
    }
    out
});

/// Every data rule.
pub fn all() -> impl Iterator<Item = &'static RuleDoc> {
    FIXED.iter().chain(SENSITIVE.iter())
}

/// The documentation of a data rule id (case-insensitive).
#[must_use]
pub fn rule(id: &str) -> Option<&'static RuleDoc> {
    all().find(|r| r.id.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_families_known() {
        let mut ids: Vec<&str> = all().map(|r| r.id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        for id in ids {
            assert!(
                [
                    "DATA-SCHEMA-",
                    "DATA-LABEL-",
                    "DATA-BACKDOOR-",
                    "DATA-OUTLIER-",
                    "DATA-DUPLICATE-",
                    "DATA-PII-",
                    "DATA-SECRET-",
                    "DATA-DRIFT-"
                ]
                .iter()
                .any(|p| id.starts_with(p)),
                "{id}"
            );
        }
        assert!(rule("data-pii-email").is_some());
        assert!(rule("DATA-SECRET-AWS-ACCESS-KEY").is_some());
        assert!(rule("DATA-LABEL-ISSUE").is_some());
    }
}

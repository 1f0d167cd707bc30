//! Fuzz the data guard's ingestion and contract check: arbitrary bytes read
//! as CSV and as JSON Lines (small record and batch caps), profiled, then
//! checked against the contract inferred from themselves.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlsecops_data::{
    CheckOptions, Format, IngestOptions, ProfileOptions, Source, check_contract, profile,
};

fuzz_target!(|data: &[u8]| {
    let opts = IngestOptions {
        batch_rows: 7,
        max_record_bytes: 4096,
        max_batch_bytes: 1 << 16,
        infer_rows: 16,
        ..IngestOptions::default()
    };
    for format in [Format::Csv, Format::JsonLines] {
        let Ok(source) = Source::from_bytes("fuzz", data.to_vec(), format, &opts) else {
            continue;
        };
        for b in source.batches() {
            if b.is_err() {
                break;
            }
        }
        if let Ok(contract) = profile(&source, &ProfileOptions::default()) {
            if let Ok(text) = contract.to_toml() {
                let _ = mlsecops_data::Contract::from_toml(&text);
            }
            let _ = check_contract(
                &contract,
                &source,
                &CheckOptions {
                    max_findings_per_rule: 10,
                },
            );
        }
    }
});

//! Properties of model hashing: every change to a file's bytes changes the
//! manifest, results do not depend on the worker count, and ignore paths
//! hide exactly what they name, however they are spelled.

use std::collections::BTreeMap;
use std::path::Path;

use mlsecops_sign::hashing::{HashError, HashOptions, hash_model, normalize_ignore_path};
use mlsecops_sign::manifest::{HashType, Method, Serialization};
use proptest::prelude::*;

fn write_tree(root: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (name, data) in files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

fn serializations() -> Vec<Serialization> {
    let mut v = Vec::new();
    for hash in HashType::ALL {
        v.push(Serialization::new(Method::Files, hash));
        v.push(Serialization::new(Method::Shards { shard_size: 3 }, hash));
    }
    v
}

#[derive(Debug, Clone)]
enum Edit {
    Flip { at: usize, mask: u8 },
    Append(u8),
    Truncate { by: usize },
}

fn tree() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    prop::collection::btree_map(
        prop::sample::select(vec!["a", "b.bin", "d/c", "d/e/f", ".h", "A"]).prop_map(str::to_owned),
        prop::collection::vec(any::<u8>(), 0..40),
        1..5,
    )
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Edit::Flip { at, mask }),
        any::<u8>().prop_map(Edit::Append),
        (1..8usize).prop_map(|by| Edit::Truncate { by }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any single-byte modification, append or truncation of any file
    /// changes the manifest, in every serialization.
    #[test]
    fn any_edit_changes_the_manifest(files in tree(), which in any::<usize>(), e in edit()) {
        let names: Vec<_> = files.keys().cloned().collect();
        let name = &names[which % names.len()];
        let mut edited = files.clone();
        let data = edited.get_mut(name).unwrap();
        match e {
            Edit::Flip { at, mask } => {
                if data.is_empty() { data.push(mask); } else { let i = at % data.len(); data[i] ^= mask; }
            }
            Edit::Append(b) => data.push(b),
            Edit::Truncate { by } => {
                if data.is_empty() { data.push(0); } else { data.truncate(data.len().saturating_sub(by)); }
            }
        }
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        write_tree(a.path(), &files);
        write_tree(b.path(), &edited);
        for s in serializations() {
            let ma = hash_model(a.path(), &s, &HashOptions { jobs: 2, cache: None }).unwrap();
            let mb = hash_model(b.path(), &s, &HashOptions { jobs: 1, cache: None }).unwrap();
            prop_assert!(!ma.diff(&mb).is_empty(), "{:?} {:?}", s.method, s.hash_type);
            prop_assert_ne!(ma.root_digest(), mb.root_digest());
        }
    }

    /// Ignore entries hide exactly the files at or below the path they
    /// name after normalization; entries with `..` are refused; case and
    /// Unicode spelling never match another file.
    #[test]
    fn ignore_paths_hide_only_what_they_name(entries in prop::collection::vec(ignore_entry(), 1..4)) {
        let names = ["a", "A", "b/a", "b/c", "\u{e9}", "e\u{301}", "ab", "a.b", ".a", "x/y/z"];
        let files: BTreeMap<String, Vec<u8>> = names.iter().map(|n| ((*n).to_owned(), n.as_bytes().to_vec())).collect();
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &files);
        let mut s = Serialization::new(Method::Files, HashType::Sha256);
        s.ignore_paths = entries.clone();
        let mut accepted = Vec::new();
        let mut refused = false;
        for e in &entries {
            if let Ok(n) = normalize_ignore_path(e) {
                prop_assert!(!n.split('/').any(|c| c == ".." || c == "." || c.is_empty()));
                accepted.push(n);
            } else {
                refused = true;
                prop_assert!(e.split('/').any(|c| c == "..") || e.starts_with('/') || e.split('/').all(|c| c.is_empty() || c == "."));
            }
        }
        let result = hash_model(dir.path(), &s, &HashOptions::default());
        if refused {
            prop_assert!(matches!(result, Err(HashError::IgnorePath { .. })), "expected an ignore path error");
            return Ok(());
        }
        let m = result.unwrap();
        let listed: Vec<&str> = m.resources.iter().map(|r| r.name.as_str()).collect();
        for n in names {
            let hidden = accepted.iter().any(|i| n == i || n.starts_with(&format!("{i}/")));
            prop_assert_eq!(!listed.contains(&n), hidden, "{} with {:?}", n, accepted);
        }
    }
}

fn ignore_entry() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "A", "./a", "a/", "//a", "b", "b/", "./b/../a", "../a", "..", "/a", "b/./c", "b//c",
        "\u{e9}", "E\u{301}", "e\u{301}", "x", "x/y", "x/y/z/", ".", "./", "", "a/..", "ab/",
        "a.b", ".a", "*", "b/*",
    ])
    .prop_map(str::to_owned)
}

#[test]
fn worker_count_does_not_change_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = BTreeMap::new();
    for i in 0..40u32 {
        let len = (i as usize * 977) % 5000;
        files.insert(
            format!("d{}/f{i}", i % 4),
            (0..len).map(|j| (j as u32 ^ i) as u8).collect::<Vec<u8>>(),
        );
    }
    write_tree(dir.path(), &files);
    for s in serializations() {
        let one = hash_model(
            dir.path(),
            &s,
            &HashOptions {
                jobs: 1,
                cache: None,
            },
        )
        .unwrap();
        for jobs in [2, 7, 64] {
            assert_eq!(
                hash_model(dir.path(), &s, &HashOptions { jobs, cache: None }).unwrap(),
                one
            );
        }
    }
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = hash_model(&missing, &Serialization::default(), &HashOptions::default()).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    let e = hash_model(
        dir.path(),
        &Serialization::new(Method::Shards { shard_size: 0 }, HashType::Sha256),
        &HashOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, HashError::ShardSize(0)));
}

//! Graphviz DOT: parent → child edges labelled by relation, one node per
//! artifact labelled `name@vN` and its short digest, a shape per kind, the
//! root drawn bold and revoked artifacts red and dashed.

use std::fmt::Write as _;

use crate::model::{ArtifactKind, Graph};

use super::common::{handle, short_digest, sorted_edges, sorted_nodes};

/// The graph as a Graphviz `digraph`, nodes and edges sorted.
#[must_use]
pub fn dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph lineage {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
    );
    for n in sorted_nodes(graph) {
        let label = format!("{}\n{}", handle(n), short_digest(&n.digest));
        let mut attrs = vec![
            format!("label={}", quote(&label)),
            format!("shape={}", shape(n.kind)),
        ];
        let mut style = Vec::new();
        if n.digest == graph.root {
            style.push("bold");
        }
        if n.revoked.is_some() {
            style.push("dashed");
            attrs.push("color=red".into());
            attrs.push("fontcolor=red".into());
        }
        if !style.is_empty() {
            attrs.push(format!("style={}", quote(&style.join(","))));
        }
        let _ = writeln!(out, "  {} [{}];", quote(&n.digest), attrs.join(", "));
    }
    for e in sorted_edges(graph) {
        let _ = writeln!(
            out,
            "  {} -> {} [label={}];",
            quote(&e.parent),
            quote(&e.child),
            quote(e.relation.as_str())
        );
    }
    out.push_str("}\n");
    out
}

fn shape(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Dataset => "cylinder",
        ArtifactKind::Model => "box3d",
        ArtifactKind::Code => "note",
        ArtifactKind::Other => "ellipse",
    }
}

/// A DOT double-quoted string. `"` and `\` are escaped; a line break
/// becomes the `\n` label escape; other control characters are dropped.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support::{artifact, edge, graph};
    use crate::model::{Relation, Revocation};

    #[test]
    fn renders_nodes_and_edges() {
        let d = artifact(ArtifactKind::Dataset, "data", 2, 'a');
        let mut m = artifact(ArtifactKind::Model, "model", 1, 'b');
        m.revoked = Some(Revocation {
            digest: m.digest.clone(),
            reason: "r".into(),
            cause: d.digest.clone(),
            created_at: 0,
            created_by: "x".into(),
        });
        let g = graph(
            &d.digest.clone(),
            vec![m.clone(), d.clone()],
            vec![edge(&d, &m, Relation::TrainedOn)],
        );
        let out = dot(&g);
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let want = format!(
            "digraph lineage {{\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n  \
             \"sha256:{a}\" [label=\"data@v2\\nsha256:aaaaaaaa\", shape=cylinder, style=\"bold\"];\n  \
             \"sha256:{b}\" [label=\"model@v1\\nsha256:bbbbbbbb\", shape=box3d, color=red, fontcolor=red, style=\"dashed\"];\n  \
             \"sha256:{a}\" -> \"sha256:{b}\" [label=\"trained_on\"];\n}}\n"
        );
        assert_eq!(out, want);
        let mut shuffled = g.clone();
        shuffled.nodes.reverse();
        assert_eq!(dot(&shuffled), out);
    }

    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("x\ny\r\u{7}z"), r#""x\nyz""#);
        let mut n = artifact(ArtifactKind::Other, "evil\" -> \"x\\", 1, 'c');
        n.digest = "d\"; injected [".into();
        let g = graph("", vec![n], vec![]);
        let out = dot(&g);
        assert!(
            out.contains(
                r#""d\"; injected [" [label="evil\" -> \"x\\@v1\nd\"; injected [", shape=ellipse];"#
            ),
            "{out}"
        );
        // Exactly one statement per line between the braces.
        assert_eq!(out.lines().filter(|l| l.ends_with("];")).count(), 3);
    }
}

//! Chat templates are Jinja code run by the inference server. A sandbox
//! escape walks Python attributes (`__globals__`, `__subclasses__`) from a
//! template global to `os.popen`. This check looks only inside Jinja code
//! blocks (`{{ }}`, `{% %}`), where benign templates never need dunders,
//! obfuscated underscores, or attributes such as `popen`.

use mlsecops_core::Severity;

use crate::ctx::Ctx;

const DANGEROUS_ATTRS: &[&str] = &[
    "os",
    "popen",
    "subprocess",
    "eval",
    "exec",
    "builtins",
    "globals",
    "mro",
    "subclasses",
    "import_module",
    "getattr",
    "load_module",
    "_module",
    "application",
    "func_globals",
    "f_globals",
    "gi_frame",
    "f_back",
    "_TemplateReference__context",
    "environment",
    "modules",
    "spawn",
    "check_output",
    "getoutput",
    "read_text",
    "write_text",
];

/// Code blocks of a Jinja template: the text between `{{`/`}}` and
/// `{%`/`%}`, ending at the first closing delimiter *outside* a string
/// literal (Jinja's lexer does the same).
fn code_blocks(t: &str) -> Vec<&str> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < b.len() {
        let close = match (b[i], b[i + 1]) {
            (b'{', b'{') => b'}',
            (b'{', b'%') => b'%',
            _ => {
                i += 1;
                continue;
            }
        };
        let start = i + 2;
        let mut j = start;
        let mut quote: Option<u8> = None;
        let mut end = b.len();
        while j < b.len() {
            let c = b[j];
            match quote {
                Some(q) => {
                    if c == b'\\' {
                        j += 1;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => {
                    if c == b'\'' || c == b'"' {
                        quote = Some(c);
                    } else if c == close && b.get(j + 1) == Some(&b'}') {
                        end = j;
                        break;
                    }
                }
            }
            j += 1;
        }
        out.push(t.get(start..end).unwrap_or(""));
        i = end + 2;
    }
    out
}

/// A string literal followed by `[` (`'x_'[1]`): slicing characters out of
/// literals is how templates spell names that filters would catch.
fn indexes_a_string_literal(code: &str) -> bool {
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        if q != b'\'' && q != b'"' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < b.len() && b[j] != q {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        let mut k = j + 1;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if b.get(k) == Some(&b'[') {
            return true;
        }
        i = j + 1;
    }
    false
}

/// Names accessed as attributes (`x.name`) or by string subscript (`x['name']`).
fn accessed_names(code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' {
            let s = i + 1;
            let mut e = s;
            while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'_') {
                e += 1;
            }
            if e > s {
                names.push(code[s..e].to_owned());
            }
            i = e.max(i + 1);
        } else if b[i] == b'[' && i + 1 < b.len() && (b[i + 1] == b'\'' || b[i + 1] == b'"') {
            let q = b[i + 1];
            let s = i + 2;
            if let Some(len) = b[s..].iter().position(|&c| c == q) {
                names.push(code[s..s + len].to_owned());
                i = s + len + 1;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Why `template` looks like a sandbox escape, if it does.
#[must_use]
pub fn suspicious(template: &str) -> Option<String> {
    for code in code_blocks(template) {
        let lower = code.to_ascii_lowercase();
        if let Some(i) = code.find("__") {
            let snippet: String = code[i..].chars().take(40).collect();
            return Some(format!("double-underscore access `{snippet}`"));
        }
        for esc in [
            "\\x5f",
            "\\u005f",
            "\\137",
            "%5f",
            "\\x2e",
            "format(95)",
            "%c",
        ] {
            if lower.contains(esc) {
                return Some(format!("obfuscated characters `{esc}`"));
            }
        }
        if lower.contains("attr(") {
            // Benign chat templates never need the `attr` filter; sandbox
            // escapes use it to reach names the `.` syntax cannot spell.
            return Some("use of the attr() filter".into());
        }
        if indexes_a_string_literal(code) {
            return Some("indexing into a string literal (building a name)".into());
        }
        for q in ['\'', '"'] {
            let pat = format!("{q}_");
            if code.contains(&pat) {
                return Some("string literal starting with `_` (building a dunder name)".into());
            }
        }
        for n in accessed_names(code) {
            if DANGEROUS_ATTRS.contains(&n.as_str()) {
                return Some(format!("attribute access to `{n}`"));
            }
        }
    }
    None
}

pub(crate) fn check_template(ctx: &mut Ctx<'_>, template: &str, offset: Option<u64>, key: &str) {
    if let Some(why) = suspicious(template) {
        ctx.report(
            "CHAT-TEMPLATE-INJECTION",
            Severity::Critical,
            offset,
            format!("chat template `{key}` contains a Jinja sandbox-escape pattern: {why}"),
            Some(template.chars().take(200).collect()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::suspicious;

    #[test]
    fn benign_templates_pass() {
        let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        assert_eq!(suspicious(chatml), None);
        let llama2 = "{% for m in messages %}{{ bos_token + '[INST] ' + m['content'] + ' [/INST]' }}{% endfor %}";
        assert_eq!(suspicious(llama2), None);
        let llama = "{% set ns = namespace(system=false) %}{% for m in messages %}{% if m.role == 'system' %}{% set ns.system = true %}{% endif %}{% if loop.first and not ns.system %}{{ bos_token }}{% endif %}{% if m.role not in ['user','assistant'] %}{{ raise_exception('bad role') }}{% endif %}{{ m.content | trim }}{% endfor %}";
        assert_eq!(suspicious(llama), None);
        // `system` is an everyday namespace attribute; `os.system` is caught by `os`.
        assert!(suspicious("{{ x.os.system('id') }}").is_some());
    }

    #[test]
    fn escapes_are_caught() {
        for t in [
            "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ lipsum|attr('\\x5f\\x5fglobals\\x5f\\x5f') }}",
            "{% set x = '_' ~ '_globals' %}{{ joiner|attr(x) }}",
            "{{ self._TemplateReference__context }}",
            "{{ namespace['__init__'] }}",
            "{{ foo.os.popen('x') }}",
            "{{ '}}' ~ cycler.__init__.__globals__.os.popen('id').read() }}",
            "{% set n = 'x_'[1]*2 %}{{ lipsum|attr(n ~ 'globals' ~ n) }}",
        ] {
            assert!(suspicious(t).is_some(), "{t}");
        }
    }
}

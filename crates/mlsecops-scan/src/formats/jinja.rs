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

/// Code blocks of a Jinja template: the text between `{{`/`}}` and `{%`/`%}`.
fn code_blocks(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find(['{']) {
        let after = &rest[i + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let body = &after[1..];
        if let Some(j) = body.find(close) {
            out.push(&body[..j]);
            rest = &body[j + 2..];
        } else {
            out.push(body);
            break;
        }
    }
    out
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
        if let Some(i) = lower.find("attr(") {
            let arg: String = code[i + 5..].chars().take(40).collect();
            if arg.contains('_') || arg.contains('~') || arg.contains('+') {
                return Some(format!("|attr() with a built name `{arg}`"));
            }
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
        ] {
            assert!(suspicious(t).is_some(), "{t}");
        }
    }
}

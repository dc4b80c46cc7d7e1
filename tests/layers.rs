//! The stack's layers call downward only: socket → stack → tcp (input/timers → ack → probe →
//! output → sack → rack → scoreboard) → ip → neigh → dev. This test reads the imports of
//! every module of `linerate-stack` and fails on one that names a module at its own rank or
//! above (test modules excepted). `python3 ../shared/tools/modcycles.py .` checks the whole
//! workspace for cycles; this one pins the order.
use std::collections::BTreeMap;
use std::path::Path;

/// Each module's rank: a module may use only modules of a lower rank.
const RANKS: &[(&str, u32)] = &[
    ("addr", 0),
    ("dev", 0),
    ("hash", 0),
    ("tcp::tw_index", 0),
    ("tcp::tw_queue", 0),
    ("region", 0),
    ("steer", 0),
    ("ratelimit", 0),
    ("ehash", 1),
    ("neigh", 1),
    ("ip_input", 1),
    // The table's storage and collection: methods of the table, above it as tcp's children
    // are above tcp.
    ("neigh::gc", 2),
    ("gso", 1),
    ("ip", 2),
    ("tcp::config", 2),
    ("tcp::info", 2),
    ("tcp", 3),
    ("tcp::header", 4),
    ("tcp::scoreboard", 4),
    ("tcp::segment", 4),
    ("tcp::rack", 5),
    ("tcp::stateless", 5),
    ("tcp::sack", 6),
    ("tcp::zc", 4),
    ("tcp::wnd", 4),
    ("tcp::sendmsg", 5),
    ("tcp::output", 7),
    ("tcp::probe", 8),
    ("tcp::ack", 9),
    ("tcp::input", 10),
    ("tcp::timers", 10),
    ("tcp::timewait", 10),
    ("event", 10),
    ("stack", 11),
    ("socket", 12),
    ("hash_connect", 12),
    ("stats", 12),
    ("wait", 12),
    ("peer::frames", 12),
    ("peer", 13),
    ("pcap", 13),
    ("control", 13),
    ("remote", 13),
    ("zc", 13),
];

fn rank(m: &str) -> Option<u32> {
    RANKS.iter().find(|(n, _)| *n == m).map(|(_, r)| *r)
}

/// Module path of a file under stack/src ("tcp/output.rs" → "tcp::output").
fn module_of(rel: &Path) -> String {
    let s = rel.with_extension("").to_string_lossy().replace('/', "::");
    s.trim_end_matches("::mod").to_string()
}

/// The modules of this crate that `src` names through `crate::` or `super::` paths, `use`
/// lists included, before its first `#[cfg(test)]`.
fn imports(module: &str, src: &str) -> Vec<String> {
    let code = src.split("#[cfg(test)]").next().unwrap_or("");
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let parent = module.rsplit_once("::").map(|(p, _)| p.to_string());
    let mut out = Vec::new();
    for (prefix, base) in [("crate::", None), ("super::", parent.as_deref())] {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let first: Vec<String> = if rest[path.len()..].starts_with('{') {
                // `use super::{a, b}` or `crate::tcp::{x, y}`: every name in the braces.
                let inner = rest[path.len() + 1..].split('}').next().unwrap_or("");
                inner
                    .split(',')
                    .map(|n| format!("{path}{}", n.trim().split("::").next().unwrap_or("")))
                    .collect()
            } else {
                vec![path.clone()]
            };
            for p in first {
                let full = match base {
                    Some(b) => format!("{b}::{p}"),
                    None => p.clone(),
                };
                // The longest prefix that is a module of the crate.
                let parts: Vec<&str> = full.split("::").filter(|s| !s.is_empty()).collect();
                let mut best = None;
                for n in 1..=parts.len() {
                    let cand = parts[..n].join("::");
                    if rank(&cand).is_some() {
                        best = Some(cand);
                    }
                }
                if let Some(b) = best {
                    out.push(b);
                }
            }
        }
    }
    out
}

fn walk(dir: &Path, root: &Path, files: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).expect("stack/src is readable") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            walk(&p, root, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).expect("under src");
            let m = module_of(rel);
            files.insert(m, std::fs::read_to_string(&p).expect("source is readable"));
        }
    }
}

#[test]
fn stack_layers_call_downward_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("stack/src");
    let mut files = BTreeMap::new();
    walk(&root, &root, &mut files);
    let mut upward = Vec::new();
    let mut checked = 0;
    for (m, src) in &files {
        if m == "lib" {
            continue; // the crate root declares and re-exports every module
        }
        let own = rank(m).unwrap_or_else(|| panic!("module {m} has no rank in RANKS"));
        for used in imports(m, src) {
            // A tcp child naming its parent module `tcp` (the connection block) is downward.
            let r = rank(&used).expect("ranked");
            if used != *m && r >= own && !(used == "tcp" && m.starts_with("tcp::")) {
                upward.push(format!("{m} (rank {own}) uses {used} (rank {r})"));
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "the import scan found only {checked} imports");
    assert!(upward.is_empty(), "upward calls:\n{}", upward.join("\n"));
}

#[test]
fn the_scan_sees_an_upward_import() {
    // A lower layer naming a higher one must be caught, in a path and in a `use` list.
    let found = imports("ip", "use crate::tcp::output::write_xmit;\n");
    assert_eq!(found, vec!["tcp::output".to_string()]);
    let found = imports("tcp::rack", "use super::{sack, seq_lt, Tcb};\n");
    assert!(found.contains(&"tcp::sack".to_string()), "{found:?}");
    let found = imports("tcp::rack", "#[cfg(test)]\nmod t { use super::sack; }\n");
    assert!(found.is_empty(), "test modules are skipped: {found:?}");
}

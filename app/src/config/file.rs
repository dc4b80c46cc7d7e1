//! The `--config` TOML file: every key optional, named like the long flags.
use serde::Deserialize;
use std::path::PathBuf;

/// A TOML value that may be written as a number or a string with a unit.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Num {
    Int(u64),
    Float(f64),
    Str(String),
}

impl Num {
    /// The value as its flag would spell it, so one parser serves both.
    pub(super) fn text(&self) -> String {
        match self {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => f.to_string(),
            Num::Str(s) => s.clone(),
        }
    }
}

/// A TOML value that may be one string or a list of them.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The `--config` file: every key is optional; names follow the long flags (`-` or `_`).
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub dpdk: Option<OneOrMany>,
    pub port: Option<Num>,
    pub ip: Option<String>,
    pub gw: Option<String>,
    pub neigh: Option<OneOrMany>,
    pub dst: Option<OneOrMany>,
    #[serde(alias = "P", alias = "parallel")]
    pub connections: Option<Num>,
    #[serde(alias = "t", alias = "duration")]
    pub time: Option<Num>,
    #[serde(alias = "n")]
    pub bytes: Option<Num>,
    pub size: Option<Num>,
    #[serde(alias = "payload_file")]
    pub payload_file: Option<PathBuf>,
    pub rate: Option<Num>,
    pub nodelay: Option<bool>,
    pub mss: Option<Num>,
    pub cc: Option<String>,
    pub pacing: Option<bool>,
    pub sndbuf: Option<Num>,
    pub latency: Option<bool>,
    #[serde(alias = "msg_rate")]
    pub msg_rate: Option<Num>,
    pub json: Option<bool>,
    #[serde(alias = "hist_out")]
    pub hist_out: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    #[serde(alias = "pcap_count")]
    pub pcap_count: Option<Num>,
    pub quiet: Option<bool>,
    pub mbufs: Option<Num>,
    pub workers: Option<Num>,
    #[serde(alias = "ack_peer")]
    pub ack_peer: Option<bool>,
    #[serde(alias = "ack_peer_offloads")]
    pub ack_peer_offloads: Option<bool>,
    #[serde(alias = "ack_peer_tso")]
    pub ack_peer_tso: Option<bool>,
    pub copy: Option<bool>,
    #[serde(alias = "src_range")]
    pub src_range: Option<String>,
    pub hold: Option<bool>,
    #[serde(alias = "hold_interval")]
    pub hold_interval: Option<Num>,
    pub cps: Option<Num>,
    pub rr: Option<String>,
    #[serde(alias = "json_lines")]
    pub json_lines: Option<bool>,
    #[serde(alias = "ack_peer_gro")]
    pub ack_peer_gro: Option<bool>,
}

impl FileConfig {
    pub fn parse(text: &str, path: &str) -> Result<FileConfig, String> {
        toml::from_str(text).map_err(|e| {
            // toml's message spans lines (it quotes the source); keep it to one.
            let msg = e.message().replace('\n', " ");
            match e.span() {
                Some(sp) => {
                    let line = text[..sp.start.min(text.len())].matches('\n').count() + 1;
                    format!("--config {path}: line {line}: {msg}")
                }
                None => format!("--config {path}: {msg}"),
            }
        })
    }

    pub fn load(path: &std::path::Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--config: cannot read {}: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_are_one_line() {
        let e = FileConfig::parse("bogus = 1\n", "c.toml").unwrap_err();
        assert!(e.starts_with("--config c.toml: line 1:"), "{e}");
        assert!(e.contains("bogus"), "{e}");
        assert!(!e.contains('\n'));
        let e = FileConfig::parse("ip = [1", "c.toml").unwrap_err();
        assert!(!e.contains('\n'), "{e}");
    }
}

//! Masking secret values in a log stream, also when a value is split
//! across chunks: the masker holds back the end of the text that could be
//! the start of a secret until the next chunk (or the end) decides.

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret value becomes in the log.
pub const MASK: &str = "***";

/// Secrets shorter than this are not masked (masking `a` would mask every
/// `a`); the worker says so in the log when it drops one.
pub const MIN_SECRET_LEN: usize = 4;

/// A streaming masker.
#[derive(Debug, Default)]
pub struct Masker {
    secrets: Vec<String>,
    matcher: Option<AhoCorasick>,
    pending: String,
}

impl Masker {
    /// A masker for these values (empty and too-short ones are ignored;
    /// see [`Masker::add`]).
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Masker {
        let mut m = Masker::default();
        m.add(secrets);
        m
    }

    /// Adds secret values; returns how many were too short to mask.
    pub fn add<I: IntoIterator<Item = String>>(&mut self, secrets: I) -> usize {
        let mut short = 0;
        for s in secrets {
            // Multi-line values are also masked line by line (Terraform
            // prints them a line at a time, with prefixes).
            let mut parts = vec![s.clone()];
            if s.contains('\n') {
                parts.extend(s.lines().map(str::to_string));
            }
            for p in parts {
                let p = p.trim_end_matches('\r').to_string();
                if p.is_empty() {
                    continue;
                }
                if p.len() < MIN_SECRET_LEN {
                    short += 1;
                    continue;
                }
                if !self.secrets.contains(&p) {
                    self.secrets.push(p);
                }
            }
        }
        self.matcher = if self.secrets.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&self.secrets)
                .ok()
        };
        short
    }

    /// Masks `text`; returns what is safe to emit now.
    pub fn push(&mut self, text: &str) -> String {
        self.pending.push_str(text);
        let Some(m) = &self.matcher else {
            return std::mem::take(&mut self.pending);
        };
        let masked = m.replace_all(&self.pending, &vec![MASK; self.secrets.len()]);
        // Hold back the longest tail that is a proper prefix of a secret.
        let max = self.secrets.iter().map(String::len).max().unwrap_or(0);
        let start = masked.len().saturating_sub(max.saturating_sub(1));
        let mut cut = masked.len();
        for i in start..masked.len() {
            if !masked.is_char_boundary(i) {
                continue;
            }
            let tail = &masked[i..];
            if self
                .secrets
                .iter()
                .any(|s| s.len() > tail.len() && s.starts_with(tail))
            {
                cut = i;
                break;
            }
        }
        self.pending = masked[cut..].to_string();
        masked[..cut].to_string()
    }

    /// Masks and returns what is left at the end of the stream.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        match &self.matcher {
            Some(m) => m.replace_all(&rest, &vec![MASK; self.secrets.len()]),
            None => rest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(m: &mut Masker, chunks: &[&str]) -> String {
        let mut out = String::new();
        for c in chunks {
            out.push_str(&m.push(c));
        }
        out.push_str(&m.finish());
        out
    }

    #[test]
    fn secrets_are_masked_whole_and_split_across_chunks() {
        let secret = "hunter2-s3cr3t";
        let text = format!("password is {secret}; again {secret}.\n");
        // Every split point of the text, into two and three chunks.
        for i in 0..text.len() {
            for j in i..text.len() {
                let mut m = Masker::new([secret.to_string(), "other-value".to_string()]);
                let out = run(&mut m, &[&text[..i], &text[i..j], &text[j..]]);
                assert_eq!(out, "password is ***; again ***.\n", "split at {i},{j}");
            }
        }
    }

    #[test]
    fn text_without_secrets_passes_unchanged_and_prefixes_are_released() {
        let mut m = Masker::new(["abcdef".to_string()]);
        assert_eq!(m.push("xx abc"), "xx ");
        assert_eq!(m.push("x"), "abcx");
        assert_eq!(m.finish(), "");
        let mut m = Masker::new(["abcdef".to_string()]);
        assert_eq!(run(&mut m, &["ends with abcde"]), "ends with abcde");
        let mut none = Masker::new(Vec::<String>::new());
        assert_eq!(run(&mut none, &["héllo ", "wörld"]), "héllo wörld");
    }

    #[test]
    fn short_and_multiline_secrets() {
        let mut m = Masker::default();
        assert_eq!(
            m.add(["ab".to_string(), "line-one\nline-two".to_string()]),
            1
        );
        let out = run(&mut m, &["  + key = line-one\n  + key2 = line-two\n ab"]);
        assert_eq!(out, "  + key = ***\n  + key2 = ***\n ab");
    }
}

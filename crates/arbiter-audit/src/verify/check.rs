//! Checking in order (runs on one thread): the chain, sequence numbers,
//! checkpoints and the Merkle root, with a short lookahead to tell a
//! modified entry from a deleted, inserted or reordered one.

use super::parse::{Item, ParsedEntry};
use super::report::{CheckpointInfo, KeySource, Problem, ProblemKind, Report, VerifyOptions};
use crate::checkpoint::Checkpoint;
use crate::digest::Digest;
use crate::entry::ChainHead;
use crate::export::{ExportHeader, FORMAT_NAME};
use crate::keys::AuditPublicKey;
use crate::merkle::MerkleFrontier;
use std::collections::VecDeque;

/// Lines after an out-of-place entry that are kept to tell what happened to
/// it (a later entry is needed to tell a swap from a deletion).
const MAX_LOOKAHEAD: usize = 64;

/// Recent entries remembered to locate entries inserted before a checkpoint.
const RECENT: usize = 16;

/// The last accepted entry.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    line: u64,
    seq: u64,
    hash: Digest,
    /// A checkpoint signed exactly this entry's hash.
    vouched: bool,
}

/// What follows an entry or checkpoint that is out of place: the next entry
/// and the checkpoints before it.
#[derive(Default)]
struct Lookahead {
    next: Option<(u64, u64, Digest, Digest)>, // line, seq, prev, hash
    checkpoints: Vec<(u64, Digest)>,          // seq, entry_hash
}

impl Lookahead {
    /// Whether what follows confirms that an entry with this seq and hash
    /// belongs to the chain: the next entry links to it, or a checkpoint
    /// right after it signed it.
    fn confirms(&self, seq: u64, hash: &Digest) -> bool {
        self.next
            .is_some_and(|(_, s, prev, _)| seq.checked_add(1) == Some(s) && prev == *hash)
            || self.checkpoints.iter().any(|(s, h)| *s == seq && h == hash)
    }
}

struct Header {
    since: u64,
    start: ChainHead,
}

pub(super) struct Checker {
    trusted: Vec<AuditPublicKey>,
    keys: Vec<AuditPublicKey>,
    key_source: KeySource,
    header: Option<Header>,
    last: Option<Accepted>,
    recent: VecDeque<(u64, u64)>,
    frontier: MerkleFrontier,
    entries: u64,
    checkpoints: u64,
    first_seq: Option<u64>,
    last_checkpoint: Option<CheckpointInfo>,
    /// Highest seq a verified checkpoint covers.
    covered_through: u64,
    queue: VecDeque<Item>,
    /// Items in `queue` that end a lookahead.
    enders: usize,
    problem: Option<Problem>,
    pub(super) lines: u64,
}

impl Checker {
    pub(super) fn new(options: &VerifyOptions) -> Checker {
        Checker {
            trusted: options.trusted_keys.clone(),
            keys: Vec::new(),
            key_source: if options.trusted_keys.is_empty() {
                KeySource::Header
            } else {
                KeySource::Trusted
            },
            header: None,
            last: None,
            recent: VecDeque::with_capacity(RECENT),
            frontier: MerkleFrontier::new(),
            entries: 0,
            checkpoints: 0,
            first_seq: None,
            last_checkpoint: None,
            covered_through: 0,
            queue: VecDeque::new(),
            enders: 0,
            problem: None,
            lines: 0,
        }
    }

    pub(super) fn done(&self) -> bool {
        self.problem.is_some()
    }

    pub(super) fn push(&mut self, item: Item) {
        if self.problem.is_some() {
            return;
        }
        if item.ends_lookahead() {
            self.enders += 1;
        }
        self.queue.push_back(item);
        self.drain(false);
    }

    fn pop(&mut self) -> Option<Item> {
        let item = self.queue.pop_front()?;
        if item.ends_lookahead() {
            self.enders -= 1;
        }
        Some(item)
    }

    fn expected_seq(&self) -> u64 {
        match (&self.last, &self.header) {
            // Entries beyond MAX_SEQ are refused when parsed.
            (Some(l), _) => l.seq.saturating_add(1),
            (None, Some(h)) => h.since,
            (None, None) => 1,
        }
    }

    fn last_hash(&self) -> Digest {
        match (&self.last, &self.header) {
            (Some(l), _) => l.hash,
            (None, Some(h)) => h.start.hash,
            (None, None) => Digest::ZERO,
        }
    }

    fn last_seq(&self) -> u64 {
        self.expected_seq() - 1
    }

    fn drain(&mut self, at_end: bool) {
        while self.problem.is_none() {
            let Some(front) = self.queue.front() else {
                return;
            };
            let front_ends = usize::from(front.ends_lookahead());
            let can_look = at_end || self.enders > front_ends || self.queue.len() > MAX_LOOKAHEAD;
            let ready = match front {
                Item::Bad(_) | Item::Header(..) => true,
                Item::Entry(x) => can_look || self.entry_in_place(x),
                Item::Checkpoint(_, c) => {
                    can_look || (self.header.is_some() && c.seq == self.last_seq())
                }
            };
            if !ready {
                return;
            }
            let Some(item) = self.pop() else { return };
            let result = match item {
                Item::Bad(p) => Err(p),
                Item::Header(line, h) => self.header_line(line, *h),
                Item::Entry(x) => {
                    if self.header.is_none() {
                        Err(missing_header(x.line, "an entry"))
                    } else if self.entry_in_place(&x) {
                        self.accept(&x);
                        Ok(())
                    } else {
                        let la = self.lookahead();
                        self.entry_out_of_place(&x, &la)
                    }
                }
                Item::Checkpoint(line, c) => {
                    if self.header.is_none() {
                        Err(missing_header(line, "a checkpoint"))
                    } else {
                        let la = self.lookahead();
                        self.checkpoint_line(line, &c, &la)
                    }
                }
            };
            if let Err(p) = result {
                self.problem = Some(p);
            }
        }
    }

    fn lookahead(&self) -> Lookahead {
        let mut la = Lookahead::default();
        for item in &self.queue {
            match item {
                Item::Entry(n) => {
                    la.next = Some((n.line, n.seq, n.prev, n.hash));
                    break;
                }
                Item::Checkpoint(_, c) => la.checkpoints.push((c.seq, c.entry_hash)),
                Item::Bad(_) => break,
                Item::Header(..) => {}
            }
        }
        la
    }

    fn entry_in_place(&self, x: &ParsedEntry) -> bool {
        self.header.is_some()
            && x.computed == x.hash
            && x.seq == self.expected_seq()
            && x.prev == self.last_hash()
    }

    fn accept(&mut self, x: &ParsedEntry) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((x.line, x.seq));
        self.last = Some(Accepted {
            line: x.line,
            seq: x.seq,
            hash: x.hash,
            vouched: false,
        });
        self.frontier.push(x.leaf);
        self.entries += 1;
        self.first_seq.get_or_insert(x.seq);
    }

    fn header_line(&mut self, line: u64, h: ExportHeader) -> Result<(), Problem> {
        if self.header.is_some() {
            return Err(Problem::new(
                ProblemKind::Malformed,
                line,
                None,
                "a second header line (the header is the first line only)".into(),
            ));
        }
        self.keys = if self.trusted.is_empty() {
            h.keys
                .iter()
                .filter_map(|d| AuditPublicKey::from_document(d).ok())
                .collect()
        } else {
            self.trusted.clone()
        };
        self.covered_through = h.since - 1;
        self.frontier = h.tree;
        self.header = Some(Header {
            since: h.since,
            start: h.start,
        });
        Ok(())
    }

    /// Classifies an entry that does not simply extend the chain.
    fn entry_out_of_place(&self, x: &ParsedEntry, la: &Lookahead) -> Result<(), Problem> {
        use ProblemKind::*;
        let at = |kind, line, seq, msg: String| Err(Problem::new(kind, line, Some(seq), msg));
        if x.computed != x.hash {
            return at(
                ModifiedEntry,
                x.line,
                x.seq,
                format!(
                    "the entry's fields hash to {} but its hash field says {}: the entry was changed",
                    x.computed, x.hash
                ),
            );
        }
        let e = self.expected_seq();
        let p_hash = self.last_hash();
        let since = self.header.as_ref().map_or(1, |h| h.since);
        if x.seq == e {
            // Right number, wrong link.
            if let Some(p) = self.last {
                if !p.vouched && la.confirms(x.seq, &x.hash) {
                    return at(
                        ModifiedEntry,
                        p.line,
                        p.seq,
                        format!(
                            "entry {} was changed and its hash recomputed: its hash is {} but entry {} (line {}) records its predecessor as {}",
                            p.seq, p.hash, x.seq, x.line, x.prev
                        ),
                    );
                }
                return at(
                    BrokenChain,
                    x.line,
                    x.seq,
                    format!(
                        "prev_hash {} does not match the hash of entry {} on line {} ({})",
                        x.prev, p.seq, p.line, p.hash
                    ),
                );
            }
            let what = if since == 1 {
                "the first entry must link to the zero hash".to_string()
            } else {
                format!(
                    "the header gives {p_hash} as the hash of entry {}",
                    since - 1
                )
            };
            return at(
                BrokenChain,
                x.line,
                x.seq,
                format!("prev_hash {} does not match: {what}", x.prev),
            );
        }
        let after = match self.last {
            Some(p) => format!("entry {} (line {})", p.seq, p.line),
            None => "the header".to_string(),
        };
        if x.seq > e {
            if let Some((n_line, n_seq, _, _)) = la.next {
                if n_seq == e {
                    return at(
                        ReorderedEntries,
                        x.line,
                        x.seq,
                        format!("entry {} comes before entry {e} (line {n_line})", x.seq),
                    );
                }
            }
            if x.prev == p_hash {
                return at(
                    DeletedEntry,
                    x.line,
                    e,
                    format!(
                        "expected entry {e} after {after}, found entry {}, which links to it: its seq was changed, or entries were removed and the chain re-linked",
                        x.seq
                    ),
                );
            }
            let missing = if x.seq - e == 1 {
                format!("entry {e} is missing")
            } else {
                format!("entries {e}..{} are missing", x.seq - 1)
            };
            return at(
                DeletedEntry,
                x.line,
                e,
                format!(
                    "{missing}: line {} holds entry {} after {after}",
                    x.line, x.seq
                ),
            );
        }
        // x.seq < e: a number seen before.
        if let Some(p) = self.last {
            if x.seq == p.seq {
                if x.hash == p.hash {
                    return at(
                        InsertedEntry,
                        x.line,
                        x.seq,
                        format!("line {} repeats entry {} of line {}", x.line, x.seq, p.line),
                    );
                }
                if !p.vouched && la.confirms(x.seq, &x.hash) {
                    return at(
                        InsertedEntry,
                        p.line,
                        p.seq,
                        format!(
                            "two entries claim seq {}: the one on line {} is not part of the chain (what follows line {} links to the other)",
                            p.seq, p.line, x.line
                        ),
                    );
                }
                return at(
                    InsertedEntry,
                    x.line,
                    x.seq,
                    format!(
                        "a second entry {} (the first is on line {}) that is not part of the chain",
                        x.seq, p.line
                    ),
                );
            }
        }
        at(
            ReorderedEntries,
            x.line,
            x.seq,
            format!(
                "entry {} appears after {after}: out of order or replayed",
                x.seq
            ),
        )
    }

    fn checkpoint_line(
        &mut self,
        line: u64,
        c: &Checkpoint,
        la: &Lookahead,
    ) -> Result<(), Problem> {
        use ProblemKind::*;
        let at = |kind, line, seq, msg: String| Err(Problem::new(kind, line, Some(seq), msg));
        let Some(key) = self.keys.iter().find(|k| *k.key_id() == c.key_id) else {
            let known = if self.keys.is_empty() {
                "no key is known".to_string()
            } else {
                let ids: Vec<&str> = self.keys.iter().map(|k| k.key_id().as_str()).collect();
                format!("known: {}", ids.join(", "))
            };
            let whose = match self.key_source {
                KeySource::Trusted => "a key that is not among the trusted keys",
                KeySource::Header => "a key that the header does not list",
            };
            return at(
                UnknownKey,
                line,
                c.seq,
                format!("checkpoint signed with {whose} ({}; {known})", c.key_id),
            );
        };
        if !c.verify(key) {
            return at(
                BadCheckpointSignature,
                line,
                c.seq,
                format!(
                    "the signature does not verify with key {}: the checkpoint was altered or forged",
                    c.key_id
                ),
            );
        }
        let p = self.last_seq();
        if c.seq > p {
            if let Some((n_line, n_seq, n_prev, _)) = la.next {
                if n_seq == p + 1 && n_prev == self.last_hash() && c.seq >= n_seq {
                    return at(
                        ReorderedEntries,
                        line,
                        c.seq,
                        format!(
                            "the checkpoint for entry {} comes before entry {n_seq} (line {n_line}); it belongs right after entry {}",
                            c.seq, c.seq
                        ),
                    );
                }
            }
            let missing = if c.seq == p + 1 {
                format!("entry {} is missing", p + 1)
            } else {
                format!("entries {}..{} are missing", p + 1, c.seq)
            };
            return at(
                DeletedEntry,
                line,
                p + 1,
                format!(
                    "{missing}: the checkpoint on line {line} covers entries up to {} but the last entry before it is {p}",
                    c.seq
                ),
            );
        }
        if c.seq < p {
            if let (Some((_, n_seq, n_prev, _)), Some(last)) = (la.next, self.last) {
                if n_seq == p + 1 && n_prev == last.hash {
                    return at(
                        ReorderedEntries,
                        line,
                        c.seq,
                        format!(
                            "the checkpoint for entry {} comes after entry {p}; it belongs right after entry {}",
                            c.seq, c.seq
                        ),
                    );
                }
            }
            if let Some(&(ins_line, _)) = self.recent.iter().find(|(_, s)| *s == c.seq + 1) {
                return at(
                    InsertedEntry,
                    ins_line,
                    c.seq + 1,
                    format!(
                        "entries {}..{p} stand before the checkpoint of line {line}, which covers only up to entry {}: inserted",
                        c.seq + 1,
                        c.seq
                    ),
                );
            }
            return at(
                ReorderedEntries,
                line,
                c.seq,
                format!(
                    "the checkpoint for entry {} appears after entry {p}: out of order or replayed",
                    c.seq
                ),
            );
        }
        // c.seq == p: the checkpoint is in place; does it agree?
        let head = self.last_hash();
        if c.entry_hash != head {
            return match self.last {
                Some(l) => at(
                    CheckpointMismatch,
                    l.line,
                    l.seq,
                    format!(
                        "entry {} hashes to {} but the checkpoint on line {line} signed {}: this entry was changed (or the chain before it was rewritten and re-hashed)",
                        l.seq, l.hash, c.entry_hash
                    ),
                ),
                None => at(
                    CheckpointMismatch,
                    line,
                    c.seq,
                    format!(
                        "the header gives {head} as the hash of entry {} but the checkpoint signed {}",
                        c.seq, c.entry_hash
                    ),
                ),
            };
        }
        let root = self.frontier.root();
        if c.tree_root != root {
            return at(
                CheckpointMismatch,
                line,
                c.seq,
                format!(
                    "the Merkle root of entries 1..{} is {root} but the checkpoint signed {}",
                    c.seq, c.tree_root
                ),
            );
        }
        if let Some(l) = self.last.as_mut() {
            l.vouched = true;
        }
        self.checkpoints += 1;
        self.covered_through = c.seq;
        self.last_checkpoint = Some(CheckpointInfo {
            seq: c.seq,
            line,
            time: c.time,
            key_id: c.key_id.clone(),
            tree_root: c.tree_root,
        });
        Ok(())
    }

    pub(super) fn finish(mut self) -> Report {
        self.drain(true);
        if self.problem.is_none() && self.header.is_none() {
            self.problem = Some(missing_header(1, "no line at all"));
        }
        let since = self.header.as_ref().map_or(1, |h| h.since);
        let last_seq = self.last.map(|l| l.seq);
        let uncovered = last_seq.map_or(0, |s| s.saturating_sub(self.covered_through));
        let mut warnings = Vec::new();
        if self.header.is_some() && self.key_source == KeySource::Header && self.checkpoints > 0 {
            warnings.push(
                "checkpoint signatures were checked with the key listed in the file itself, which proves only that the file is self-consistent: pass --key with the server's published key (GET /api/v1/audit/key) to prove the server signed it"
                    .to_string(),
            );
        }
        if let Some(last) = last_seq {
            if self.checkpoints == 0 {
                warnings.push(format!(
                    "no checkpoint in the file: entries {}..{last} are chained but signed by nothing, so a rewritten log would not be noticed",
                    self.first_seq.unwrap_or(since)
                ));
            } else if uncovered > 0 {
                warnings.push(format!(
                    "{uncovered} entries after the last checkpoint ({}..{last}) are signed by no checkpoint: changes to them, or entries removed after them, cannot be detected",
                    self.covered_through + 1
                ));
            }
        }
        if since > 1 {
            let anchor = match &self.last_checkpoint {
                Some(c) => format!(
                    "anchored by the checkpoint for entry {} (line {})",
                    c.seq, c.line
                ),
                None => "not anchored by any checkpoint in the file".to_string(),
            };
            warnings.push(format!(
                "partial verification from entry {since}: entries before it are not in the file; the start state in the header is {anchor}"
            ));
        }
        Report {
            valid: self.problem.is_none(),
            partial_from: (since > 1).then_some(since),
            lines: self.lines,
            entries: self.entries,
            checkpoints: self.checkpoints,
            first_seq: self.first_seq,
            last_seq,
            head_hash: self.last.map(|l| l.hash),
            tree_root: last_seq.map(|_| self.frontier.root()),
            last_checkpoint: self.last_checkpoint,
            uncovered_entries: uncovered,
            key_source: self.key_source,
            key_ids: self.keys.iter().map(|k| k.key_id().clone()).collect(),
            warnings,
            problem: self.problem,
        }
    }
}

fn missing_header(line: u64, found: &str) -> Problem {
    Problem::new(
        ProblemKind::MissingHeader,
        line,
        None,
        format!(
            "the first line must be the export header ({{\"type\":\"header\",\"format\":\"{FORMAT_NAME}\",…}}), found {found}"
        ),
    )
}

//! Streaming verification of an export: reads it once, front to back, in
//! bounded memory, and reports the first problem with its line and sequence
//! number, or a summary of what was verified.
//!
//! Two drivers share one line parser and one in-order checker:
//! [`verify_reader`] parses and hashes lines on worker threads while the
//! calling thread checks the chain in order; [`StreamVerifier`] is fed
//! bytes as they arrive (an HTTP body, for instance) and works on the
//! caller's thread.
//!
//! Split by job: `parse` turns one line into an item (on any thread),
//! `check` is the in-order checker, `report` holds the [`Report`], its
//! [`Problem`]s and the [`VerifyOptions`]; this file has the two drivers
//! and the chunked reading.

mod check;
mod parse;
mod report;

pub use report::{CheckpointInfo, KeySource, Problem, ProblemKind, Report, VerifyOptions};

use check::Checker;
use parse::{parse_line, Item};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Longest line accepted, in bytes (entries are a few hundred bytes; a
/// header with many keys a few KB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Verifies an export fed in pieces, on the caller's thread: for bodies
/// that arrive asynchronously (an HTTP response stream). Memory stays
/// bounded by the longest line plus a short lookahead.
pub struct StreamVerifier {
    checker: Checker,
    partial: Vec<u8>,
    next_line: u64,
    overlong: bool,
}

impl StreamVerifier {
    /// A verifier with these options (`threads` is ignored).
    pub fn new(options: &VerifyOptions) -> StreamVerifier {
        StreamVerifier {
            checker: Checker::new(options),
            partial: Vec::new(),
            next_line: 1,
            overlong: false,
        }
    }

    /// Whether a problem was found (more input changes nothing).
    pub fn is_done(&self) -> bool {
        self.checker.done()
    }

    /// Feeds the next bytes of the export.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.checker.done() {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    if self.partial.is_empty() {
                        self.line(&data[..i]);
                    } else {
                        let mut line = std::mem::take(&mut self.partial);
                        line.extend_from_slice(&data[..i]);
                        self.line(&line);
                    }
                    data = &data[i + 1..];
                }
                None => {
                    self.partial.extend_from_slice(data);
                    if self.partial.len() > MAX_LINE_BYTES {
                        self.overlong = true;
                        let line = std::mem::take(&mut self.partial);
                        self.line(&line);
                    }
                    return;
                }
            }
        }
    }

    fn line(&mut self, bytes: &[u8]) {
        let n = self.next_line;
        self.next_line += 1;
        self.checker.lines = n;
        let item = if bytes.len() > MAX_LINE_BYTES || self.overlong {
            Item::Bad(too_long(n))
        } else {
            parse_line(n, bytes)
        };
        self.checker.push(item);
    }

    /// Records that reading the input failed here.
    pub fn read_error(&mut self, error: &io::Error) {
        let line = self.next_line;
        self.checker.push(Item::Bad(Problem::new(
            ProblemKind::Io,
            line,
            None,
            format!("reading the export: {error}"),
        )));
    }

    /// Ends the input and returns the report.
    pub fn finish(mut self) -> Report {
        if !self.partial.is_empty() && !self.checker.done() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        self.checker.finish()
    }
}

fn too_long(line: u64) -> Problem {
    Problem {
        kind: ProblemKind::Malformed,
        line,
        column: Some(1),
        seq: None,
        message: format!("line is longer than {MAX_LINE_BYTES} bytes"),
    }
}

/// Bytes handed to a worker at a time.
const CHUNK_BYTES: usize = 256 * 1024;

struct Chunk {
    index: u64,
    first_line: u64,
    data: Vec<u8>,
    /// Ends the input with a problem at the line after the chunk's lines.
    trailer: Option<Problem>,
}

struct ParsedChunk {
    index: u64,
    first_line: u64,
    lines: u64,
    items: Vec<Item>,
}

fn parse_chunk(chunk: Chunk) -> ParsedChunk {
    let mut items = Vec::with_capacity(chunk.data.len() / 200 + 1);
    let mut line = chunk.first_line;
    let mut rest = chunk.data.as_slice();
    while !rest.is_empty() {
        let (piece, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        items.push(if piece.len() > MAX_LINE_BYTES {
            Item::Bad(too_long(line))
        } else {
            parse_line(line, piece)
        });
        line += 1;
        rest = next;
    }
    if let Some(p) = chunk.trailer {
        items.push(Item::Bad(p));
    }
    ParsedChunk {
        index: chunk.index,
        first_line: chunk.first_line,
        lines: line - chunk.first_line,
        items,
    }
}

/// Reads the input into chunks of whole lines.
fn read_chunks<R: Read>(mut reader: R, tx: mpsc::SyncSender<Chunk>, stop: &AtomicBool) {
    let mut carry: Vec<u8> = Vec::new();
    let mut first_line = 1u64;
    let mut index = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut buf = std::mem::take(&mut carry);
        let target = (buf.len() + 64 * 1024).max(CHUNK_BYTES);
        let mut eof = false;
        let mut error = None;
        while buf.len() < target {
            let old = buf.len();
            buf.resize(target, 0);
            match reader.read(&mut buf[old..]) {
                Ok(0) => {
                    buf.truncate(old);
                    eof = true;
                    break;
                }
                Ok(n) => buf.truncate(old + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(old),
                Err(e) => {
                    buf.truncate(old);
                    error = Some(e);
                    break;
                }
            }
        }
        let cut = if eof || error.is_some() {
            // A read error leaves the partial line unread: drop it, the
            // error is reported at its line.
            if error.is_some() {
                buf.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
            } else {
                buf.len()
            }
        } else {
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None if buf.len() > MAX_LINE_BYTES => {
                    let _ = tx.send(Chunk {
                        index,
                        first_line,
                        data: Vec::new(),
                        trailer: Some(too_long(first_line)),
                    });
                    return;
                }
                None => {
                    carry = buf;
                    continue;
                }
            }
        };
        carry = buf.split_off(cut);
        let mut lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        if buf.last().is_some_and(|&b| b != b'\n') {
            lines += 1;
        }
        let trailer = error.map(|e| {
            Problem::new(
                ProblemKind::Io,
                first_line + lines,
                None,
                format!("reading the export: {e}"),
            )
        });
        let last = eof || trailer.is_some();
        if tx
            .send(Chunk {
                index,
                first_line,
                data: buf,
                trailer,
            })
            .is_err()
        {
            return;
        }
        first_line += lines;
        index += 1;
        if last {
            return;
        }
    }
}

/// Verifies an export read from `reader` (a file, stdin, an HTTP body),
/// parsing and hashing on worker threads while this thread checks the chain
/// in order. Reads the input once; memory is bounded by a few chunks in
/// flight (about 256 KB each per thread). Stops reading at the first problem.
pub fn verify_reader<R: Read + Send>(reader: R, options: &VerifyOptions) -> Report {
    let threads = match options.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4),
        n => n,
    };
    if threads <= 1 {
        return verify_sequential(reader, options);
    }
    let mut checker = Checker::new(options);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (work_tx, work_rx) = mpsc::sync_channel::<Chunk>(threads * 2);
        let (done_tx, done_rx) = mpsc::sync_channel::<ParsedChunk>(threads * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let stop = &stop;
        s.spawn(move || read_chunks(reader, work_tx, stop));
        for _ in 0..threads {
            let rx = Arc::clone(&work_rx);
            let tx = done_tx.clone();
            s.spawn(move || loop {
                let next = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(chunk) = next else { return };
                if tx.send(parse_chunk(chunk)).is_err() {
                    return;
                }
            });
        }
        drop(work_rx);
        drop(done_tx);
        // Chunks come back in any order; check them in input order.
        let mut pending: BTreeMap<u64, ParsedChunk> = BTreeMap::new();
        let mut next = 0u64;
        'outer: while let Ok(parsed) = done_rx.recv() {
            pending.insert(parsed.index, parsed);
            while let Some(chunk) = pending.remove(&next) {
                next += 1;
                checker.lines = (chunk.first_line + chunk.lines).saturating_sub(1);
                for item in chunk.items {
                    checker.push(item);
                    if checker.done() {
                        break 'outer;
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        drop(done_rx);
    });
    checker.finish()
}

fn verify_sequential<R: Read>(mut reader: R, options: &VerifyOptions) -> Report {
    let mut v = StreamVerifier::new(options);
    let mut buf = vec![0u8; 64 * 1024];
    while !v.is_done() {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => v.feed(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                v.read_error(&e);
                break;
            }
        }
    }
    v.finish()
}

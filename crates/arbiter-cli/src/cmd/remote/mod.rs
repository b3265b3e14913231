//! Client commands for a running server, one file per noun: `stack`,
//! `agent`, `submit`, `review`, `user` and `token` (`people`), `policy-set`;
//! the helpers they share (tables, percent-encoding) are here.

use super::client::{dash, js, parse_duration, Client, ServerArgs};
use anyhow::{bail, Context, Result};
use arbiter_api::Page;
use clap::{Args, Subcommand};
use std::path::PathBuf;

fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<pad$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

mod agent;
mod people;
mod policy_set;
mod review;
mod run;
mod stack;
mod submit;
pub use agent::*;
pub use people::*;
pub use policy_set::*;
pub use review::*;
pub use run::*;
pub use stack::*;
pub use submit::*;

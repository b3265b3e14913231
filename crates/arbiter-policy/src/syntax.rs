//! A small Rego lexer and what Arbiter learns from it before regorus parses
//! a module: which syntax (v0 / v1) the file is written in, whether its
//! source is shaped to exhaust the parser (nesting, operator chains), and the
//! rules and functions it defines and refers to (for the recursion check of
//! [`check_references`]).
//!
//! The lexer skips `#` comments, `"strings"` (with escapes) and `` `raw` ``
//! strings, so words inside them never count as keywords or references.

use crate::error::PolicyError;
use std::collections::{BTreeMap, BTreeSet};

/// Deepest bracket nesting accepted (regorus refuses expressions nested more
/// than 32 deep anyway; this fails earlier, with a clear message).
pub const MAX_NESTING: usize = 64;
/// Most `[`/`{` literals nested in each other's first item. regorus parses
/// such a literal twice (first as a comprehension), so the work doubles with
/// each level: 18 levels took 40 s.
pub const MAX_FIRST_ITEM_NESTING: usize = 8;
/// Most operators (and `.`/`[` reference steps) chained in one expression:
/// each one is a level of the syntax tree that regorus walks recursively.
pub const MAX_CHAIN: usize = 256;
/// Longest chain of rules and functions that refer to each other: each link
/// is a nested evaluation on the stack.
pub const MAX_REFERENCE_DEPTH: usize = 128;

/// Kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// Identifier or keyword.
    Ident,
    /// Number.
    Number,
    /// `"string"` or `` `raw` `` string.
    Str,
    /// Punctuation or operator.
    Punct,
}

/// One token: kind, text, 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// Kind.
    pub kind: Tok,
    /// Source text (strings with their quotes).
    pub text: &'a str,
    /// 1-based line.
    pub line: u32,
}

/// Splits Rego source into tokens, skipping whitespace and comments. Never
/// fails: an unterminated string runs to the end of the text.
pub fn lex(src: &str) -> Vec<Token<'_>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line: u32 = 1;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let start_line = line;
        match c {
            b'\n' => {
                line += 1;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push(tok(src, Tok::Str, start, i, start_line));
                continue;
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push(tok(src, Tok::Str, start, i, start_line));
                continue;
            }
            _ => {}
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            out.push(tok(src, Tok::Ident, start, i, line));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            out.push(tok(src, Tok::Number, start, i, line));
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let n = if matches!(two, ":=" | "==" | "!=" | "<=" | ">=") {
                2
            } else {
                1
            };
            i += n;
            out.push(tok(src, Tok::Punct, start, i, line));
        }
    }
    out
}

fn tok(src: &str, kind: Tok, a: usize, b: usize, line: u32) -> Token<'_> {
    Token {
        kind,
        text: src.get(a..b).unwrap_or(""),
        line,
    }
}

/// Rego syntax version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegoSyntax {
    /// Rego v0 (`deny[msg] { … }`, keywords only through `future.keywords`).
    V0,
    /// Rego v1 (`if` / `contains` required).
    V1,
}

/// What a module says about its syntax: `Some(V1)` for `import rego.v1`,
/// `Some(V0)` for `import future.keywords…`, otherwise `None`.
pub fn declared_syntax(tokens: &[Token<'_>]) -> Option<RegoSyntax> {
    let mut declared = None;
    for w in tokens.windows(3) {
        if w[0].text != "import" || w[0].kind != Tok::Ident {
            continue;
        }
        match (w[1].text, w[2].text) {
            ("rego", ".") if tokens_after(tokens, &w[0]).is_some_and(|t| t == "v1") => {
                return Some(RegoSyntax::V1)
            }
            ("future", ".") => declared = Some(RegoSyntax::V0),
            _ => {}
        }
    }
    declared
}

/// The text of the token three places after `t` (`import rego . v1`).
fn tokens_after<'a>(tokens: &[Token<'a>], t: &Token<'a>) -> Option<&'a str> {
    let i = tokens.iter().position(|x| std::ptr::eq(x, t))?;
    tokens.get(i + 3).map(|x| x.text)
}

/// The syntax the code itself indicates: v1 when one of the words that are
/// keywords only in v1 (or in v0 with `future.keywords`, a declared case) —
/// `if`, `contains`, `in`, `every` — appears outside comments and strings as
/// a keyword, otherwise v0. Not as a keyword: a call (`contains(s, "x")`, the
/// v0 builtin most policy libraries use) or a field (`input.in`).
pub fn indicated_syntax(tokens: &[Token<'_>]) -> RegoSyntax {
    let keyword = |i: usize, t: &Token<'_>| {
        t.kind == Tok::Ident
            && matches!(t.text, "if" | "contains" | "in" | "every")
            && tokens.get(i + 1).is_none_or(|n| n.text != "(")
            && (i == 0 || tokens.get(i - 1).is_none_or(|p| p.text != "."))
    };
    if tokens.iter().enumerate().any(|(i, t)| keyword(i, t)) {
        RegoSyntax::V1
    } else {
        RegoSyntax::V0
    }
}

const KEYWORDS: &[&str] = &[
    "if", "contains", "else", "some", "every", "in", "not", "with", "as", "default", "true",
    "false", "null", "package", "import",
];

/// Refuses source shaped to exhaust regorus's parser or evaluator: bracket
/// nesting beyond [`MAX_NESTING`], literals nested in first items beyond
/// [`MAX_FIRST_ITEM_NESTING`], expressions chaining more than [`MAX_CHAIN`]
/// operators. Runs in time linear in the text.
pub fn check_shape(path: &str, tokens: &[Token<'_>]) -> Result<(), PolicyError> {
    let err = |line: u32, message: String| PolicyError::Syntax {
        file: path.to_string(),
        line,
        column: 0,
        message,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut top_chain = 0usize;
    let mut prev: Option<&Token<'_>> = None;
    for t in tokens {
        // A new line after something that ends an expression starts a new one.
        if prev.is_some_and(|p| p.line < t.line && ends_operand(p)) {
            *chain_at(&mut stack, &mut top_chain) = 0;
        }
        match (t.kind, t.text) {
            (Tok::Punct, "(" | "[" | "{") => {
                if t.text == "[" && prev.is_some_and(ends_operand) {
                    // `x[i]`: a reference step.
                    let chain = chain_at(&mut stack, &mut top_chain);
                    *chain += 1;
                    if *chain > MAX_CHAIN {
                        return Err(err(t.line, chain_message()));
                    }
                }
                let literal = t.text != "(" && !prev.is_some_and(|p| opens_query(p, t));
                stack.push(Frame {
                    literal,
                    first: true,
                    chain: 0,
                });
                if stack.len() > MAX_NESTING {
                    return Err(err(
                        t.line,
                        format!("brackets nested more than {MAX_NESTING} deep"),
                    ));
                }
                let first_items = stack.iter().filter(|f| f.literal && f.first).count();
                if first_items > MAX_FIRST_ITEM_NESTING {
                    return Err(err(
                        t.line,
                        format!(
                            "array/set/object literals nested more than {MAX_FIRST_ITEM_NESTING} deep in each other's first item (parsing would take exponential time); give the inner value a name"
                        ),
                    ));
                }
            }
            (Tok::Punct, ")" | "]" | "}") => {
                stack.pop();
            }
            (Tok::Punct, "," | "|" | ":" | ";" | ":=" | "=") => {
                if let Some(f) = stack.last_mut() {
                    if matches!(t.text, "," | "|" | ":") {
                        f.first = false;
                    }
                }
                *chain_at(&mut stack, &mut top_chain) = 0;
            }
            (Tok::Punct, "." | "+" | "-" | "*" | "/" | "%" | "&" | "==" | "!=" | "<" | ">")
            | (Tok::Punct, "<=" | ">=") => {
                let chain = chain_at(&mut stack, &mut top_chain);
                *chain += 1;
                if *chain > MAX_CHAIN {
                    return Err(err(t.line, chain_message()));
                }
            }
            _ => {}
        }
        prev = Some(t);
    }
    Ok(())
}

/// One open bracket: whether it is a literal `[`/`{`, whether the parser is
/// still in its first item, operators chained so far inside it.
struct Frame {
    literal: bool,
    first: bool,
    chain: usize,
}

fn chain_at<'s>(stack: &'s mut [Frame], top: &'s mut usize) -> &'s mut usize {
    match stack.last_mut() {
        Some(f) => &mut f.chain,
        None => top,
    }
}

fn chain_message() -> String {
    format!("an expression chains more than {MAX_CHAIN} operators or reference steps; split it")
}

/// Whether a token can end an operand (so a following `[` indexes it, and a
/// following line break ends the expression).
fn ends_operand(t: &Token<'_>) -> bool {
    match t.kind {
        Tok::Ident => !KEYWORDS.contains(&t.text) || matches!(t.text, "true" | "false" | "null"),
        Tok::Number | Tok::Str => true,
        Tok::Punct => matches!(t.text, ")" | "]" | "}"),
    }
}

/// Whether `{` after `prev` opens a query (rule body, `if {`, `else {`,
/// `every … {`) rather than a set/object literal.
fn opens_query(prev: &Token<'_>, t: &Token<'_>) -> bool {
    t.text == "{"
        && match prev.kind {
            Tok::Ident => matches!(prev.text, "if" | "else") || !KEYWORDS.contains(&prev.text),
            Tok::Punct => matches!(prev.text, ")" | "]"),
            _ => false,
        }
}

/// A rule or function defined by a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// Full path, e.g. `data.main.deny`.
    pub path: String,
    /// Line of the head.
    pub line: u32,
}

/// A reference from one rule/function to a `data` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Full path of the referring rule.
    pub from: String,
    /// Referenced path (`data.lib.f`, or a prefix of rules: `data.lib`).
    pub to: String,
    /// Line of the reference.
    pub line: u32,
}

/// The rules of one module and what they refer to.
#[derive(Debug, Clone, Default)]
pub struct ModuleRefs {
    /// `data.<package>`.
    pub package: String,
    /// Rules and functions defined (by name, first definition).
    pub definitions: Vec<Definition>,
    /// References out of each rule.
    pub references: Vec<Reference>,
}

/// Heads of the module's top-level statements: (statement tokens, name).
fn statements<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        if i > start && depth == 0 && t.kind == Tok::Ident {
            let p = &tokens[i - 1];
            let new_line = p.line < t.line;
            let continues = matches!(t.text, "else" | "if" | "contains" | "in" | "as")
                || (p.kind == Tok::Punct && !matches!(p.text, ")" | "]" | "}"))
                || (p.kind == Tok::Ident
                    && matches!(
                        p.text,
                        "if" | "else"
                            | "contains"
                            | "default"
                            | "not"
                            | "some"
                            | "every"
                            | "in"
                            | "with"
                            | "as"
                    ));
            if new_line && !continues {
                out.push(&tokens[start..i]);
                start = i;
            }
        }
        if t.kind == Tok::Punct {
            match t.text {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    if start < tokens.len() {
        out.push(&tokens[start..]);
    }
    out
}

/// A dotted path starting at `tokens[i]` (an identifier): `a.b["c"].d`.
/// Returns the components and the index after the path.
fn dotted(tokens: &[Token<'_>], mut i: usize) -> (Vec<String>, usize) {
    let mut parts = vec![tokens[i].text.to_string()];
    i += 1;
    loop {
        match (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2)) {
            (Some(d), Some(n), _) if d.text == "." && n.kind == Tok::Ident => {
                parts.push(n.text.to_string());
                i += 2;
            }
            (Some(b), Some(s), Some(e)) if b.text == "[" && s.kind == Tok::Str && e.text == "]" => {
                let inner = s.text.trim_matches(|c| c == '"' || c == '`');
                parts.push(inner.to_string());
                i += 3;
            }
            _ => return (parts, i),
        }
    }
}

/// The rule heads (name and line) of a module whose name satisfies `pred`,
/// in order of first appearance. Ignores comments and strings.
pub fn rule_heads(text: &str, pred: impl Fn(&str) -> bool) -> Vec<(String, u32)> {
    let tokens = lex(text);
    let mut out: Vec<(String, u32)> = Vec::new();
    for st in statements(&tokens) {
        let Some(head) = head_token(st) else { continue };
        if pred(head.text) && !out.iter().any(|(n, _)| n == head.text) {
            out.push((head.text.to_string(), head.line));
        }
    }
    out
}

/// The name token of a rule statement (`default` skipped), or `None` for
/// `package`/`import` and anything that is not a rule.
fn head_token<'a>(st: &[Token<'a>]) -> Option<Token<'a>> {
    let first = st.first()?;
    if first.kind != Tok::Ident || matches!(first.text, "package" | "import") {
        return None;
    }
    if first.text == "default" {
        return st.get(1).filter(|t| t.kind == Tok::Ident).copied();
    }
    Some(*first)
}

/// Extracts the package, rule/function definitions and the `data`
/// references of each rule from a module. Conservative: a bare name that
/// matches a rule of the same package counts as a reference unless the rule
/// declares a local of that name (`:=`, `some`, `every`, a parameter).
pub fn module_refs(tokens: &[Token<'_>]) -> ModuleRefs {
    let stmts = statements(tokens);
    let mut package = String::from("data");
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut heads: Vec<(Token<'_>, &[Token<'_>])> = Vec::new();
    for st in &stmts {
        match st.first().map(|t| t.text) {
            Some("package") if st.len() > 1 => {
                let (parts, _) = dotted(st, 1);
                package = format!("data.{}", parts.join("."));
            }
            Some("import") if st.len() > 1 => {
                let (parts, next) = dotted(st, 1);
                if parts.first().map(String::as_str) != Some("data") {
                    continue;
                }
                let alias = match (st.get(next), st.get(next + 1)) {
                    (Some(a), Some(n)) if a.text == "as" => n.text.to_string(),
                    _ => parts.last().cloned().unwrap_or_default(),
                };
                aliases.insert(alias, parts);
            }
            _ => {
                if let Some(h) = head_token(st) {
                    heads.push((h, st));
                }
            }
        }
    }
    let names: BTreeSet<&str> = heads.iter().map(|(h, _)| h.text).collect();
    let mut out = ModuleRefs {
        package: package.clone(),
        ..ModuleRefs::default()
    };
    for (head, st) in &heads {
        let from = format!("{package}.{}", head.text);
        if !out.definitions.iter().any(|d| d.path == from) {
            out.definitions.push(Definition {
                path: from.clone(),
                line: head.line,
            });
        }
        // Skip the head name and its `.a.b` / `["x"]` continuation.
        let head_idx = st.iter().position(|t| std::ptr::eq(t, head)).unwrap_or(0);
        let (_, mut i) = dotted(st, head_idx);
        let locals = locals_of(st, i);
        while i < st.len() {
            let t = &st[i];
            let after_dot = i > 0 && st[i - 1].text == ".";
            if t.kind != Tok::Ident || after_dot || KEYWORDS.contains(&t.text) {
                i += 1;
                continue;
            }
            if i > 0 && st[i - 1].text == "with" {
                // `with data.x.f as …`: the target is replaced, not evaluated.
                let (_, next) = dotted(st, i);
                i = next;
                continue;
            }
            let (parts, next) = dotted(st, i);
            let target = if t.text == "data" {
                Some(parts.join("."))
            } else if locals.contains(t.text) {
                None
            } else if let Some(base) = aliases.get(t.text) {
                let mut full = base.clone();
                full.extend(parts.iter().skip(1).cloned());
                Some(full.join("."))
            } else if names.contains(t.text) {
                Some(format!("{package}.{}", parts.join(".")))
            } else {
                None
            };
            if let Some(to) = target {
                out.references.push(Reference {
                    from: from.clone(),
                    to,
                    line: t.line,
                });
            }
            i = next;
        }
    }
    out
}

/// Names a rule declares as locals: function parameters, `x :=`, `[a, b] :=`,
/// `some x`, `some k, v in`, `every k, v in`.
fn locals_of<'a>(st: &[Token<'a>], head_end: usize) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    // Parameters: `f(a, b)` right after the head.
    if st.get(head_end).is_some_and(|t| t.text == "(") {
        let mut depth = 0;
        for t in &st[head_end..] {
            match t.text {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ if t.kind == Tok::Ident => {
                    out.insert(t.text);
                }
                _ => {}
            }
        }
    }
    for (i, t) in st.iter().enumerate() {
        if t.text == ":=" && i > 0 {
            // `x :=` or `[a, b] :=` / `{"k": v} :=`.
            let p = &st[i - 1];
            if p.kind == Tok::Ident {
                out.insert(p.text);
            } else if matches!(p.text, "]" | "}") {
                let mut depth = 0;
                for q in st[..i].iter().rev() {
                    match q.text {
                        "]" | "}" | ")" => depth += 1,
                        "[" | "{" | "(" => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ if q.kind == Tok::Ident => {
                            out.insert(q.text);
                        }
                        _ => {}
                    }
                }
            }
        }
        if t.kind == Tok::Ident && matches!(t.text, "some" | "every") {
            for q in &st[i + 1..] {
                match (q.kind, q.text) {
                    (Tok::Ident, "in") => break,
                    (Tok::Ident, _) => {
                        out.insert(q.text);
                    }
                    (Tok::Punct, ",") => {}
                    _ => break,
                }
            }
        }
    }
    out
}

/// Builds the reference graph of a set of modules and refuses recursion
/// (a rule or function that refers to itself, directly or through others,
/// as OPA does) and reference chains deeper than [`MAX_REFERENCE_DEPTH`].
/// `modules` are (file path, extracted references).
pub fn check_references(modules: &[(&str, &ModuleRefs)]) -> Result<(), PolicyError> {
    // Nodes: every definition; where it is defined (first file, line).
    let mut nodes: BTreeMap<&str, (&str, u32)> = BTreeMap::new();
    for (file, m) in modules {
        for d in &m.definitions {
            nodes.entry(d.path.as_str()).or_insert((file, d.line));
        }
    }
    // Edges: from → [(to, file, line)], resolving each reference to the rule
    // it names (longest defined prefix) or to every rule under it.
    let mut edges: BTreeMap<&str, Vec<(&str, &str, u32)>> = BTreeMap::new();
    for (file, m) in modules {
        for r in &m.references {
            let targets = resolve(&nodes, &r.to);
            let Some((&from, _)) = nodes.get_key_value(r.from.as_str()) else {
                continue;
            };
            let list = edges.entry(from).or_default();
            for t in targets {
                if !list.iter().any(|(x, _, _)| *x == t) {
                    list.push((t, file, r.line));
                }
            }
        }
    }
    // Depth-first search: grey nodes are on the current path.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        White,
        Grey,
        Black(usize),
    }
    let mut mark: BTreeMap<&str, Mark> = nodes.keys().map(|k| (*k, Mark::White)).collect();
    for &root in nodes.keys() {
        if mark.get(root) != Some(&Mark::White) {
            continue;
        }
        // Iterative DFS: (node, next edge index), and the path.
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        mark.insert(root, Mark::Grey);
        while let Some(&(node, idx)) = stack.last() {
            let out = edges.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&(next, file, line)) = out.get(idx) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match mark.get(next).copied().unwrap_or(Mark::White) {
                    Mark::Grey => {
                        let pos = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[pos..].iter().map(|(n, _)| *n).collect();
                        cycle.push(next);
                        return Err(PolicyError::Recursion {
                            cycle: cycle.join(" -> "),
                            file: file.to_string(),
                            line,
                        });
                    }
                    Mark::White => {
                        mark.insert(next, Mark::Grey);
                        stack.push((next, 0));
                        if stack.len() > MAX_REFERENCE_DEPTH {
                            return Err(deep_chain(&stack, file, line));
                        }
                    }
                    Mark::Black(d) => {
                        if stack.len() + d > MAX_REFERENCE_DEPTH {
                            return Err(deep_chain(&stack, file, line));
                        }
                    }
                }
            } else {
                // Done with `node`: its depth is 1 + the deepest callee.
                let d = 1 + out
                    .iter()
                    .filter_map(|(n, _, _)| match mark.get(n) {
                        Some(Mark::Black(d)) => Some(*d),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                mark.insert(node, Mark::Black(d));
                stack.pop();
            }
        }
    }
    Ok(())
}

fn deep_chain(stack: &[(&str, usize)], file: &str, line: u32) -> PolicyError {
    PolicyError::Syntax {
        file: file.to_string(),
        line,
        column: 0,
        message: format!(
            "rules and functions refer to each other more than {MAX_REFERENCE_DEPTH} deep (from {})",
            stack.first().map(|(n, _)| *n).unwrap_or_default()
        ),
    }
}

/// The definitions a referenced path reaches.
fn resolve<'n>(nodes: &BTreeMap<&'n str, (&str, u32)>, to: &str) -> Vec<&'n str> {
    // The longest defined prefix: `data.lib.f.x` → `data.lib.f`.
    let mut prefix = to;
    loop {
        if let Some((&k, _)) = nodes.get_key_value(prefix) {
            return vec![k];
        }
        match prefix.rfind('.') {
            Some(i) => prefix = &prefix[..i],
            None => break,
        }
    }
    // A package (or `data`): every rule under it.
    let under = format!("{to}.");
    nodes
        .keys()
        .filter(|k| k.starts_with(&under))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        lex(src).iter().map(|t| t.text).collect()
    }

    #[test]
    fn lexer_skips_comments_and_strings() {
        assert_eq!(
            texts("a := \"if \\\" contains\" # if contains\nb := `raw if` + 1.5"),
            vec![
                "a",
                ":=",
                "\"if \\\" contains\"",
                "b",
                ":=",
                "`raw if`",
                "+",
                "1.5"
            ]
        );
        let t = lex("x\n`a\nb`\ny");
        assert_eq!(t[2].line, 4);
    }

    #[test]
    fn syntax_from_tokens() {
        let v0 = lex("package main\n# if contains\ndeny[msg] { msg := \"if x contains y\" }\ncontains_admin { true }\nnotify_if_x { true }\n");
        assert_eq!(indicated_syntax(&v0), RegoSyntax::V0);
        assert_eq!(declared_syntax(&v0), None);
        let v1 = lex("package main\ndeny contains msg if { msg := 1 }\n");
        assert_eq!(indicated_syntax(&v1), RegoSyntax::V1);
        // The v0 builtin contains() and a field named like a keyword are not
        // the v1 keywords.
        let v0_call = lex("package main\ndeny[msg] {\n  contains(input.name, \"x\")\n  not contains (input.name, \"y\")\n  input.in == 1\n  msg := \"m\"\n}\n");
        assert_eq!(indicated_syntax(&v0_call), RegoSyntax::V0);
        assert_eq!(
            declared_syntax(&lex("package a\nimport rego.v1\n")),
            Some(RegoSyntax::V1)
        );
        assert_eq!(
            declared_syntax(&lex("package a\nimport future.keywords.if\n")),
            Some(RegoSyntax::V0)
        );
    }

    #[test]
    fn rule_heads_finds_both_syntaxes() {
        let t = "package main\n\ndeny[msg] {\n  msg := \"x\"\n}\n\ndeny_public contains msg if {\n msg := \"y\"\n}\nwarn = true\ndenylist := [1]\nx := `\ndeny_raw { true }\n`\n";
        let heads = rule_heads(t, |n| n == "deny" || n.starts_with("deny_") || n == "warn");
        assert_eq!(
            heads,
            vec![
                ("deny".into(), 3),
                ("deny_public".into(), 7),
                ("warn".into(), 10)
            ]
        );
    }

    fn refs(files: &[(&str, &str)]) -> Result<(), PolicyError> {
        let parsed: Vec<(&str, ModuleRefs)> = files
            .iter()
            .map(|(p, t)| (*p, module_refs(&lex(t))))
            .collect();
        let list: Vec<(&str, &ModuleRefs)> = parsed.iter().map(|(p, m)| (*p, m)).collect();
        check_references(&list)
    }

    #[test]
    fn recursion_is_found_in_functions_and_rules() {
        let e = refs(&[(
            "a.rego",
            "package x\nimport rego.v1\nf(x) := y if {\n  y := g(x)\n}\ng(x) := f(x + 1)\n",
        )])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            e.contains("data.x.f -> data.x.g -> data.x.f") && e.contains("a.rego:"),
            "{e}"
        );
        let direct = refs(&[("a.rego", "package x\nf(x) := y if { y := f(x + 1) }\n")]);
        assert!(matches!(
            direct,
            Err(PolicyError::Recursion { line: 2, .. })
        ));
        // Across packages, through an import alias and through data.
        let e = refs(&[
            ("a.rego", "package a\nimport data.b as bee\np if bee.q\n"),
            ("b.rego", "package b\nq if data.a.p\n"),
        ]);
        assert!(matches!(e, Err(PolicyError::Recursion { .. })), "{e:?}");
        // Not recursion: locals, strings, comments, fields with rule names.
        let ok = refs(&[(
            "a.rego",
            "package x\nimport rego.v1\n# f calls f\nf(x) := y if {\n  y := \"f(x)\"\n  z := input.f\n}\ng(f) := f + 1\nh(x) := v if { some f in x; v := f }\nk := f(1)\n",
        )]);
        assert!(ok.is_ok(), "{ok:?}");
        // The whole package refers to every rule in it (OPA does the same).
        assert!(refs(&[("a.rego", "package x\np := data.x\n")]).is_err());
    }

    #[test]
    fn deep_chains_are_refused() {
        let mut s = String::from("package x\nr0 := 1\n");
        for i in 1..=MAX_REFERENCE_DEPTH + 5 {
            s.push_str(&format!("r{i} := r{}\n", i - 1));
        }
        let e = refs(&[("a.rego", &s)]).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("more than 128 deep")));
        let mut s = String::from("package x\nr0 := 1\n");
        for i in 1..100 {
            s.push_str(&format!("r{i} := r{}\n", i - 1));
        }
        assert!(refs(&[("a.rego", &s)]).is_ok());
    }

    #[test]
    fn shapes_that_exhaust_the_parser_are_refused() {
        let nested = format!(
            "package x\nv := {}1{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let e = check_shape("n.rego", &lex(&nested))
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.starts_with("n.rego:2:")), "nesting");
        let first = format!("package x\nv := {}1{}\n", "[".repeat(9), "]".repeat(9));
        assert!(check_shape("f.rego", &lex(&first)).is_err());
        let fine = format!("package x\nv := {}1{}\n", "[1, ".repeat(30), "]".repeat(30));
        assert!(check_shape("f.rego", &lex(&fine)).is_ok());
        let chain = format!("package x\nv := 0{}\n", " + 1".repeat(300));
        assert!(check_shape("c.rego", &lex(&chain)).is_err());
        let neg = format!("package x\nv := {}1\n", "- ".repeat(300));
        assert!(check_shape("c.rego", &lex(&neg)).is_err());
        let lines = format!("package x\n{}", "v := a.b.c + 1\n".repeat(1000));
        assert!(check_shape("c.rego", &lex(&lines)).is_ok());
    }
}

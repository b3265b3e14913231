//! Locating a resource block and a fix step's path in HCL, and the text
//! edits that carry the step out.

use crate::{ResourceAddress, Unlocated};
use arbiter_verdict::fix::{element_matches, FixAction, FixStep, PathSegment};
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Block, Body};
use hcl_edit::Span;
use serde_json::Value;
use std::ops::Range;

/// Replace `range` of the text with `text`.
pub(crate) struct Edit {
    range: Range<usize>,
    text: String,
}

/// The edits of one step, and whether the block has `count`/`for_each`.
pub(crate) struct Located {
    pub counted: bool,
    pub result: Result<Vec<Edit>, Unlocated>,
}

/// The text with the edits made (they do not overlap).
pub(crate) fn apply_edits(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.range.start));
    let mut out = text.to_string();
    for e in edits {
        if e.range.end <= out.len() && e.range.start <= e.range.end {
            out.replace_range(e.range, &e.text);
        }
    }
    out
}

fn label(b: &Block, i: usize) -> Option<&str> {
    b.labels.get(i).map(|l| l.as_str())
}

/// The `source` of `module "name"` in this body, when it is a plain string.
pub(crate) fn module_source(body: &Body, name: &str) -> Option<String> {
    body.get_blocks("module")
        .find(|b| label(b, 0) == Some(name))
        .and_then(|b| b.body.get_attribute("source"))
        .and_then(|a| match &a.value {
            Expression::String(s) => Some(s.value().to_string()),
            _ => None,
        })
}

/// The `resource`/`data` block of the address in this body.
pub(crate) fn find_resource<'a>(body: &'a Body, addr: &ResourceAddress) -> Option<&'a Block> {
    let kind = if addr.data { "data" } else { "resource" };
    body.get_blocks(kind).find(|b| {
        label(b, 0) == Some(addr.resource_type.as_str()) && label(b, 1) == Some(addr.name.as_str())
    })
}

/// The edits that carry out `step` on the resource block of `addr` in `text`
/// (`Err` only when the text does not parse).
pub(crate) fn edit_step(
    text: &str,
    addr: &ResourceAddress,
    step: &FixStep,
    module: Option<&str>,
) -> Result<Located, String> {
    let body = hcl_edit::parser::parse_body(text).map_err(|e| e.to_string())?;
    let Some(block) = find_resource(&body, addr) else {
        return Ok(Located {
            counted: false,
            result: Err(Unlocated::ResourceNotFound {
                block: addr.block_label(),
                dir: std::path::PathBuf::from("."),
            }),
        });
    };
    let counted = block.body.has_attribute("count") || block.body.has_attribute("for_each");
    let cx = Cx {
        text,
        step: step.to_string(),
        module,
    };
    Ok(Located {
        counted,
        result: walk(&cx, block, step.path.segments(), &step.action),
    })
}

struct Cx<'a> {
    text: &'a str,
    step: String,
    module: Option<&'a str>,
}

impl Cx<'_> {
    fn unsupported(&self, why: &str) -> Unlocated {
        Unlocated::Unsupported {
            step: self.step.clone(),
            why: why.to_string(),
        }
    }

    fn dynamic(&self, block: &Block, name: &str) -> Option<Unlocated> {
        block
            .body
            .get_blocks("dynamic")
            .any(|b| label(b, 0) == Some(name))
            .then(|| Unlocated::Dynamic {
                step: self.step.clone(),
                block: name.to_string(),
            })
    }

    /// Why a non-literal expression cannot be edited: a variable or another expression.
    fn not_literal(&self, expr: &Expression) -> Unlocated {
        if let Expression::Traversal(t) = expr {
            if let (Expression::Variable(v), Some(op)) = (&t.expr, t.operators.first()) {
                if v.as_str() == "var" {
                    if let TraversalOperator::GetAttr(name) = op.value() {
                        return Unlocated::FromVariable {
                            step: self.step.clone(),
                            variable: name.as_str().to_string(),
                            module: self.module.map(str::to_string),
                        };
                    }
                }
            }
        }
        let shown = expr
            .span()
            .and_then(|r| self.text.get(r))
            .map(|s| s.trim().chars().take(80).collect::<String>())
            .unwrap_or_else(|| "?".into());
        Unlocated::FromExpression {
            step: self.step.clone(),
            expression: shown,
        }
    }
}

fn walk(
    cx: &Cx<'_>,
    block: &Block,
    segs: &[PathSegment],
    action: &FixAction,
) -> Result<Vec<Edit>, Unlocated> {
    match segs {
        [PathSegment::Key(k)] => leaf(cx, block, k, action),
        [PathSegment::Key(k), PathSegment::Index(n), rest @ ..] => {
            if let Some(u) = cx.dynamic(block, k) {
                return Err(u);
            }
            if let Some(a) = block.body.get_attribute(k) {
                return Err(cx.not_literal(&a.value));
            }
            let blocks: Vec<&Block> = block.body.get_blocks(k).collect();
            if let Some(b) = blocks.get(*n) {
                return walk(cx, b, rest, action);
            }
            match action {
                // Nothing to remove from a block that is not there.
                FixAction::Remove(_) => Ok(Vec::new()),
                FixAction::Set(v) if *n == blocks.len() => {
                    if v.is_null() || v.as_array().is_some_and(Vec::is_empty) {
                        return Ok(Vec::new());
                    }
                    let inner = indent_inside(cx.text, block).ok_or_else(|| {
                        cx.unsupported("the block is written on one line: edit it by hand")
                    })?;
                    let mut content = String::new();
                    build_block(cx, k, rest, v, &inner, &mut content)?;
                    insert_into(cx, block, &content).map(|e| vec![e])
                }
                FixAction::Set(_) => Err(cx.unsupported("the block to set does not exist")),
            }
        }
        [PathSegment::Key(k), PathSegment::All, rest @ ..] => {
            if let Some(u) = cx.dynamic(block, k) {
                return Err(u);
            }
            if let Some(a) = block.body.get_attribute(k) {
                return Err(cx.not_literal(&a.value));
            }
            let mut edits = Vec::new();
            for b in block.body.get_blocks(k) {
                edits.extend(walk(cx, b, rest, action)?);
            }
            Ok(edits)
        }
        [PathSegment::Key(k), PathSegment::Where(field, value), rest @ ..] => {
            if let Some(u) = cx.dynamic(block, k) {
                return Err(u);
            }
            if let Some(a) = block.body.get_attribute(k) {
                return Err(cx.not_literal(&a.value));
            }
            let mut edits = Vec::new();
            for b in block.body.get_blocks(k) {
                let selected = b
                    .body
                    .get_attribute(field)
                    .and_then(|a| literal(&a.value))
                    .is_some_and(|l| {
                        arbiter_verdict::fix::field_is(
                            &serde_json::json!({ field: l }),
                            field,
                            value,
                        )
                    });
                if selected {
                    edits.extend(walk(cx, b, rest, action)?);
                }
            }
            Ok(edits)
        }
        [PathSegment::Key(_), PathSegment::Key(_), ..] => Err(
            cx.unsupported("the path goes into an object attribute; only nested blocks are edited")
        ),
        _ => Err(cx.unsupported("the path is not a block or attribute path")),
    }
}

/// `k { rest = v }` (nested as the path says) at indentation `indent`.
fn build_block(
    cx: &Cx<'_>,
    k: &str,
    rest: &[PathSegment],
    v: &Value,
    indent: &str,
    out: &mut String,
) -> Result<(), Unlocated> {
    out.push_str(&format!("{indent}{k} {{\n"));
    let inner = format!("{indent}  ");
    match rest {
        [PathSegment::Key(leaf)] => {
            out.push_str(&format!("{inner}{} = {}\n", key(leaf), render(v)));
        }
        [PathSegment::Key(b), PathSegment::Index(0), more @ ..] => {
            build_block(cx, b, more, v, &inner, out)?;
        }
        _ => return Err(cx.unsupported("cannot create that nested block")),
    }
    out.push_str(&format!("{indent}}}\n"));
    Ok(())
}

fn leaf(cx: &Cx<'_>, block: &Block, k: &str, action: &FixAction) -> Result<Vec<Edit>, Unlocated> {
    let attr = block.body.get_attribute(k);
    let blocks: Vec<&Block> = block.body.get_blocks(k).collect();
    match action {
        FixAction::Set(v) => {
            let clears_blocks = v.as_array().is_some_and(Vec::is_empty);
            if clears_blocks && (!blocks.is_empty() || cx.dynamic(block, k).is_some()) {
                if let Some(u) = cx.dynamic(block, k) {
                    return Err(u);
                }
                return Ok(blocks
                    .iter()
                    .filter_map(|b| remove_lines(cx.text, *b))
                    .collect());
            }
            if let Some(a) = attr {
                let Some(current) = literal(&a.value) else {
                    return Err(cx.not_literal(&a.value));
                };
                if &current == v {
                    return Ok(Vec::new());
                }
                if v.is_null() {
                    return Ok(remove_lines(cx.text, a).into_iter().collect());
                }
                let range = a
                    .value
                    .span()
                    .ok_or_else(|| cx.unsupported("no position for the value"))?;
                return Ok(vec![Edit {
                    range,
                    text: render(v),
                }]);
            }
            if !blocks.is_empty() {
                return Err(cx.unsupported(&format!("{k} is a block here, not an attribute")));
            }
            // Absent is already null, and no blocks is already none.
            if v.is_null() || clears_blocks {
                return Ok(Vec::new());
            }
            let inner = indent_inside(cx.text, block).ok_or_else(|| {
                cx.unsupported("the block is written on one line: edit it by hand")
            })?;
            let line = format!("{inner}{} = {}\n", key(k), render(v));
            insert_into(cx, block, &line).map(|e| vec![e])
        }
        FixAction::Remove(x) => {
            if let Some(a) = attr {
                let Some(current) = literal(&a.value) else {
                    return Err(cx.not_literal(&a.value));
                };
                let Some(items) = current.as_array() else {
                    return Err(cx.unsupported(&format!("{k} is not a list")));
                };
                let kept: Vec<Value> = items
                    .iter()
                    .filter(|i| !element_matches(i, x))
                    .cloned()
                    .collect();
                if kept.len() == items.len() {
                    return Ok(Vec::new());
                }
                let range = a
                    .value
                    .span()
                    .ok_or_else(|| cx.unsupported("no position for the value"))?;
                return Ok(vec![Edit {
                    range,
                    text: render(&Value::Array(kept)),
                }]);
            }
            if let Some(u) = cx.dynamic(block, k) {
                if x.is_object() {
                    return Err(u);
                }
            }
            let mut edits = Vec::new();
            for b in blocks {
                if block_matches(b, x) {
                    edits.extend(remove_lines(cx.text, b));
                }
            }
            Ok(edits)
        }
    }
}

/// Whether a nested block has each field of `x` as a literal attribute with that value.
fn block_matches(b: &Block, x: &Value) -> bool {
    let Some(fields) = x.as_object() else {
        return false;
    };
    fields.iter().all(|(k, v)| {
        b.body
            .get_attribute(k)
            .and_then(|a| literal(&a.value))
            .is_some_and(|l| &l == v)
    })
}

/// The JSON value of a literal expression (null, bool, number, string, and
/// lists and objects of them); `None` for anything that refers to something.
fn literal(e: &Expression) -> Option<Value> {
    Some(match e {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(n) => serde_json::from_str(&n.value().to_string()).ok()?,
        Expression::String(s) => Value::String(s.value().to_string()),
        Expression::Array(a) => Value::Array(a.iter().map(literal).collect::<Option<Vec<_>>>()?),
        Expression::Object(o) => {
            let mut m = serde_json::Map::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(i) => i.as_str().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
                    ObjectKey::Expression(_) => return None,
                };
                m.insert(key, literal(v.expr())?);
            }
            Value::Object(m)
        }
        Expression::Parenthesis(p) => literal(p.inner())?,
        _ => return None,
    })
}

/// HCL text for a JSON value.
fn render(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '$' | '%' if chars.peek() == Some(&'{') => {
                        out.push(c);
                        out.push(c);
                    }
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => {
            if m.is_empty() {
                return "{}".into();
            }
            format!(
                "{{ {} }}",
                m.iter()
                    .map(|(k, v)| format!("{} = {}", key(k), render(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}

/// An attribute or object key: bare when it is an identifier.
fn key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ident {
        k.to_string()
    } else {
        render(&Value::String(k.to_string()))
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The indentation of the lines inside a multi-line block (`None` for a
/// block whose closing brace shares a line with content).
fn indent_inside(text: &str, block: &Block) -> Option<String> {
    let span = block.span()?;
    let close = span.end.checked_sub(1)?;
    if text.as_bytes().get(close) != Some(&b'}') {
        return None;
    }
    let open_line = line_start(text, span.start);
    let own: String = text[open_line..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let ls = line_start(text, close);
    let before_close = &text[ls..close];
    let body = text.get(span.start..close)?;
    let empty_body = body
        .find('{')
        .is_some_and(|i| body[i + 1..].trim().is_empty());
    if before_close.trim().is_empty() || empty_body {
        Some(format!("{own}  "))
    } else {
        None
    }
}

/// An edit inserting `content` (whole lines) at the end of the block's body.
fn insert_into(cx: &Cx<'_>, block: &Block, content: &str) -> Result<Edit, Unlocated> {
    let text = cx.text;
    let span = block
        .span()
        .ok_or_else(|| cx.unsupported("no position for the block"))?;
    let close = span.end - 1;
    let ls = line_start(text, close);
    if text[ls..close].trim().is_empty() {
        // Separate the new lines from a run of attributes above, so that
        // `terraform fmt` does not want them aligned with it.
        let prev = text[..ls].trim_end_matches('\n');
        let prev_line = &prev[line_start(prev, prev.len())..];
        let prev_trim = prev_line.trim();
        let blank = if prev_trim.is_empty() || prev_trim.ends_with('{') || ls == 0 {
            ""
        } else {
            "\n"
        };
        return Ok(Edit {
            range: ls..ls,
            text: format!("{blank}{content}"),
        });
    }
    // `name {}` written on one line with an empty body.
    let open = text[span.start..close]
        .find('{')
        .map(|i| span.start + i)
        .ok_or_else(|| cx.unsupported("no opening brace"))?;
    let own: String = text[line_start(text, span.start)..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    Ok(Edit {
        range: open + 1..close,
        text: format!("\n{content}{own}"),
    })
}

/// An edit removing the whole lines of a structure (and one blank line
/// after it when it is preceded by one).
fn remove_lines<S: Span>(text: &str, s: &S) -> Option<Edit> {
    let span = s.span()?;
    let start = line_start(text, span.start);
    if !text[start..span.start].trim().is_empty() {
        return None;
    }
    let mut end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i + 1);
    if !text[span.end..end].trim().is_empty() && !text[span.end..end].trim().starts_with('#') {
        return None;
    }
    let blank_before = start >= 2 && text[..start].ends_with("\n\n");
    if blank_before && text[end..].starts_with('\n') {
        end += 1;
    }
    Some(Edit {
        range: start..end,
        text: String::new(),
    })
}

//! A small RFC 4180 CSV reader: quoted fields, doubled quotes, commas and
//! line breaks inside quotes. Shared by `build.rs` (which turns the price
//! CSVs into static tables) and by the loader of user catalogues, so both
//! read the files the same way.

/// One record and the 1-based line it starts on.
pub struct Record {
    /// Line number of the record's first character.
    pub line: usize,
    /// Field values, unquoted.
    pub fields: Vec<String>,
}

/// Splits CSV text into records. Fails with the line and a message when a
/// quoted field is not closed or a quote appears inside an unquoted field.
pub fn parse(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut in_quotes = false;
    let mut quoted_field = false;
    let mut at_field_start = true;
    let mut chars = text.chars().peekable();
    let text_is_empty = text.trim().is_empty();
    if text_is_empty {
        return Ok(records);
    }
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                quoted_field = true;
                at_field_start = false;
            }
            '"' => {
                return Err((line, "a quote inside an unquoted field".to_string()));
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
                quoted_field = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if !(fields.len() == 1 && fields[0].is_empty() && !quoted_field) {
                    records.push(Record {
                        line: start_line,
                        fields: std::mem::take(&mut fields),
                    });
                } else {
                    fields.clear();
                }
                line += 1;
                start_line = line;
                at_field_start = true;
                quoted_field = false;
            }
            _ => {
                if quoted_field && !at_field_start {
                    return Err((line, "text after a closing quote".to_string()));
                }
                at_field_start = false;
                field.push(c);
            }
        }
    }
    if in_quotes {
        return Err((start_line, "a quoted field is not closed".to_string()));
    }
    if !field.is_empty() || !fields.is_empty() || quoted_field {
        fields.push(field);
        records.push(Record {
            line: start_line,
            fields,
        });
    }
    Ok(records)
}

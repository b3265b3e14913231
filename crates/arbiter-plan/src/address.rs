//! Resource addresses: `module.a["x"].module.b[0].aws_instance.web["k"]`.

/// Removes every instance key (`[0]`, `["x"]`) from an address, giving the
/// address of the block in the configuration. Quoted keys may contain any
/// character, including `]` and `.`.
pub fn config_address(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut chars = address.chars();
    while let Some(c) = chars.next() {
        if c == '[' {
            skip_key(&mut chars);
        } else {
            out.push(c);
        }
    }
    out
}

/// Skips an instance key after its `[` up to and including the matching `]`.
fn skip_key(chars: &mut std::str::Chars<'_>) {
    let mut in_string = false;
    let mut escaped = false;
    for c in chars.by_ref() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ']' {
            return;
        }
    }
}

/// The module path of a configuration address (`module.a.module.b` for
/// `module.a.module.b.aws_instance.x`), empty for the root module.
pub fn module_path(config_address: &str) -> &str {
    let mut end = 0;
    let mut rest = config_address;
    let mut offset = 0;
    while let Some(after) = rest.strip_prefix("module.") {
        match after.find('.') {
            Some(dot) => {
                end = offset + "module.".len() + dot;
                offset = end + 1;
                rest = &config_address[offset..];
            }
            None => break,
        }
    }
    &config_address[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_instance_keys() {
        assert_eq!(config_address("aws_instance.web[0]"), "aws_instance.web");
        assert_eq!(
            config_address(r#"module.svc["a.b]"].module.x[2].aws_s3_bucket.b["k\"]"]"#),
            "module.svc.module.x.aws_s3_bucket.b"
        );
        assert_eq!(
            config_address("data.aws_iam_policy_document.p"),
            "data.aws_iam_policy_document.p"
        );
    }

    #[test]
    fn module_paths() {
        assert_eq!(module_path("aws_instance.web"), "");
        assert_eq!(module_path("module.a.aws_instance.web"), "module.a");
        assert_eq!(
            module_path("module.a.module.b.data.x.y"),
            "module.a.module.b"
        );
    }
}

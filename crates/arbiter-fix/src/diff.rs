//! A unified diff of two texts (one hunk per run of changed lines, three
//! lines of context), as `patch -p0` and `git apply` read it.

/// The unified diff turning `old` into `new`, both named `path`; empty when
/// they are equal.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = line_ops(&a, &b);
    // Group into hunks with 3 lines of context.
    const CTX: usize = 3;
    let mut out = format!("--- {path}\n+++ {path}\n");
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| !matches!(o, Op::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CTX);
        let mut end = changed[i];
        while i < changed.len() && changed[i] <= end + 2 * CTX + 1 {
            end = changed[i];
            i += 1;
        }
        let end = (end + CTX + 1).min(ops.len());
        let (mut a0, mut b0) = (0, 0);
        for o in &ops[..start] {
            match o {
                Op::Same(..) => {
                    a0 += 1;
                    b0 += 1
                }
                Op::Del(_) => a0 += 1,
                Op::Add(_) => b0 += 1,
            }
        }
        let (mut na, mut nb) = (0, 0);
        let mut body = String::new();
        for o in &ops[start..end] {
            let (mark, line) = match o {
                Op::Same(l) => {
                    na += 1;
                    nb += 1;
                    (' ', *l)
                }
                Op::Del(l) => {
                    na += 1;
                    ('-', *l)
                }
                Op::Add(l) => {
                    nb += 1;
                    ('+', *l)
                }
            };
            body.push(mark);
            body.push_str(line);
            if !line.ends_with('\n') {
                body.push_str("\n\\ No newline at end of file\n");
            }
        }
        let first = |n: usize, at: usize| if n == 0 { at } else { at + 1 };
        out.push_str(&format!(
            "@@ -{},{na} +{},{nb} @@\n{body}",
            first(na, a0),
            first(nb, b0)
        ));
    }
    out
}

enum Op<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

/// Line operations from a longest common subsequence over the lines between
/// the common prefix and suffix (the changes of a fix are small).
fn line_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<Op<'a>> = a[..pre].iter().map(|l| Op::Same(l)).collect();
    // LCS table over the middle parts.
    let (n, m) = (am.len(), bm.len());
    let mut t = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            t[i * (m + 1) + j] = if am[i] == bm[j] {
                t[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                t[(i + 1) * (m + 1) + j].max(t[i * (m + 1) + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && am[i] == bm[j] {
            ops.push(Op::Same(am[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1]) {
            // Deletions before additions, as diff(1) writes them.
            ops.push(Op::Del(am[i]));
            i += 1;
        } else {
            ops.push(Op::Add(bm[j]));
            j += 1;
        }
    }
    ops.extend(a[a.len() - suf..].iter().map(|l| Op::Same(l)));
    ops
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn one_hunk_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        assert_eq!(
            unified_diff("m.tf", old, new),
            "--- m.tf\n+++ m.tf\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
        assert_eq!(unified_diff("m.tf", old, old), "");
    }

    #[test]
    fn far_apart_changes_make_two_hunks_that_patch_applies() {
        let old: String = (0..20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("\n2\n", "\n2\nx\n").replace("\n17\n", "\n");
        let d = unified_diff("f.tf", &old, &new);
        assert_eq!(d.matches("@@ ").count(), 2, "{d}");
        // `patch` (as a person or an agent would use it) turns old into new.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.tf"), &old).unwrap();
        std::fs::write(dir.path().join("d.patch"), &d).unwrap();
        let st = std::process::Command::new("patch")
            .args(["-p0", "-i", "d.patch"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stdout)
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("f.tf")).unwrap(),
            new
        );
    }
}

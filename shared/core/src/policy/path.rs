//! Lexical normalisation of file targets (no filesystem access): the form the path rules see.
//!
//! `\` is a separator, empty and `.` segments are dropped, `..` is resolved lexically,
//! absolute paths (and relative ones, which are relative to the repository root) are made
//! relative to the repository root. A path that leaves the root, starts at a home directory
//! (`~`) or a variable (`$HOME`), or is absolute without a known root is *outside*.

use unicode_normalization::UnicodeNormalization as _;

/// One normalised spelling of a file target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NormalPath {
    /// Repository-relative (`iam/x.tf`, `.` for the root itself) when inside; otherwise the
    /// lexically cleaned absolute (`/etc/passwd`), home (`~/x`) or escaping (`../x`) form.
    pub text: String,
    /// Leaves the repository root.
    pub outside: bool,
}

/// The canonical form of `raw` (recorded as the decision's `target`) followed by the forms of
/// its equivalent respellings on other filesystems and in other notations (Unicode NFKC,
/// ignorable code points removed, Windows' trailing dots and spaces and `:stream` suffixes
/// dropped, text after a NUL cut, `%XX` decoded, a `file:` URL's path, shell quotes removed,
/// `\\?\` and `/proc/self/cwd` prefixes resolved, a drive letter dropped, the part after a
/// `~`/`$VAR` prefix read from the root). Rules are matched against every form; the strictest
/// outcome wins.
pub(crate) fn spellings(raw: &str, repo_root: Option<&str>) -> Vec<NormalPath> {
    let mut raws = vec![raw.to_owned()];
    let mut base = vec![raw.to_owned()];
    let push = |list: &mut Vec<String>, s: String| {
        if !list.contains(&s) {
            list.push(s);
        }
    };
    // Notations: quotes, percent-encoding (twice, also of the NFKC form: `％２ｅ`), `file:` URLs.
    let nfkc: String = raw.nfkc().collect();
    push(&mut base, nfkc);
    if let Ok(words) = shell_words::split(raw)
        && let [word] = words.as_slice()
    {
        push(&mut base, word.clone());
    }
    for k in 0..base.len() {
        let once = percent_decoded(&base[k]);
        let twice = percent_decoded(&once);
        push(&mut base, once);
        push(&mut base, twice);
    }
    for k in 0..base.len() {
        if let Some(p) = file_url_path(&base[k]) {
            push(&mut base, p);
        }
    }
    for b in base {
        let nul_cut = b.split('\0').next().unwrap_or_default().to_owned();
        let nfkc: String = b.nfkc().collect();
        let bare: String = nfkc
            .chars()
            .filter(|c| !crate::text::is_invisible(*c))
            .collect();
        push(&mut raws, b);
        for candidate in [nul_cut, nfkc, bare] {
            let windows = windows_trimmed(&candidate);
            push(&mut raws, candidate);
            push(&mut raws, windows);
        }
    }
    // Prefixes that name the root or another spelling of an absolute path.
    for k in 0..raws.len() {
        for extra in prefix_readings(&raws[k]) {
            push(&mut raws, extra);
        }
    }
    let mut out: Vec<NormalPath> = Vec::new();
    for r in raws {
        let n = normalise(&r, repo_root);
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// `%XX` decoded (invalid escapes and non-UTF-8 results left as they are).
fn percent_decoded(raw: &str) -> String {
    if !raw.contains('%') {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'%', Some(v)) = (b, hex) {
            out.push(v);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}

/// The path of a `file:` URL (`file:///abs/x`, `file://localhost/abs/x`, `file:/abs/x`);
/// another host is a UNC path (`//host/x`).
fn file_url_path(raw: &str) -> Option<String> {
    let lower = raw.get(..5)?.to_ascii_lowercase();
    if lower != "file:" {
        return None;
    }
    let rest = &raw[5..];
    let Some(after) = rest.strip_prefix("//") else {
        return Some(rest.to_owned());
    };
    let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
    if host.is_empty() || host.eq_ignore_ascii_case("localhost") {
        Some(if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        })
    } else {
        Some(format!("//{after}"))
    }
}

/// Other readings of a path's start: `\\?\C:\x`/`\\.\C:\x` → `C:/x`; `C:/x` → `/x` (the same
/// path seen from a POSIX root); `/proc/self/cwd/x` → `x`, `/proc/self/root/x` → `/x`; the part
/// after a `$VAR` prefix (or a `~` prefix that climbs with `..`) read from the root, and from
/// `/`, since the variable may name either.
fn prefix_readings(raw: &str) -> Vec<String> {
    let path = raw.replace('\\', "/");
    let mut out = Vec::new();
    let mut trimmed = path.as_str();
    for prefix in ["//?/", "//./", "/??/"] {
        if let Some(rest) = trimmed.strip_prefix(prefix) {
            trimmed = rest;
            let rest = rest
                .strip_prefix("UNC/")
                .or_else(|| rest.strip_prefix("unc/"))
                .map_or_else(|| rest.to_owned(), |r| format!("//{r}"));
            out.push(rest);
            break;
        }
    }
    let bytes = trimmed.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        out.push(format!("/{}", trimmed[2..].trim_start_matches('/')));
    }
    let segs: Vec<&str> = path.split('/').collect();
    if segs.len() >= 4
        && segs[0].is_empty()
        && segs[1] == "proc"
        && matches!(segs[3], "cwd" | "root")
    {
        let rest = segs[4..].join("/");
        out.push(if segs[3] == "cwd" {
            rest
        } else {
            format!("/{rest}")
        });
    }
    let first = segs.first().copied().unwrap_or_default();
    let climbs = segs.iter().any(|s| s.trim() == "..");
    if first.starts_with('$') || (first.starts_with('~') && climbs) {
        let rest = segs[1..].join("/");
        out.push(format!("/{rest}"));
        out.push(rest);
    }
    out
}

/// The UTS #39 confusable skeleton of the lowercase, mark-free text (`іam` and `ıam` read as
/// `iam`, `∕` as `/`); patterns are compared in the same form.
pub(crate) fn skeleton(text: &str) -> String {
    let lower: String = text
        .to_lowercase()
        .nfkd()
        .filter(|c| {
            !unicode_normalization::char::is_combining_mark(*c) && !crate::text::is_invisible(*c)
        })
        .collect();
    unicode_security::skeleton(&lower).collect()
}

/// How many readings [`wildcard_readings`] gives at most.
const MAX_WILDCARD_READINGS: usize = 64;

/// Readings of `text` (a normalised path) with each segment that may stand for another name —
/// a Windows 8.3 short name (`GITHUB~1`, `SECRET~1.YAM`) or a glob (`workflow?`, `[m]ain.tf`,
/// `{a,b}`, `*`) — replaced by each `vocabulary` segment (the pack's pattern segments) it may
/// name. Bounded.
pub(crate) fn wildcard_readings(text: &str, vocabulary: &[String]) -> Vec<String> {
    let segs: Vec<&str> = text.split('/').collect();
    if !segs.iter().any(|s| is_wildcard(s)) {
        return Vec::new();
    }
    let mut readings: Vec<Vec<String>> = vec![Vec::new()];
    for seg in &segs {
        let mut options = vec![(*seg).to_owned()];
        if is_wildcard(seg) {
            for word in vocabulary {
                for name in names_of(word, seg) {
                    if may_name(seg, &name) && !options.contains(&name) {
                        options.push(name);
                    }
                }
            }
        }
        let mut next = Vec::new();
        for r in &readings {
            for o in &options {
                if next.len() >= MAX_WILDCARD_READINGS {
                    break;
                }
                let mut r = r.clone();
                r.push(o.clone());
                next.push(r);
            }
        }
        readings = next;
    }
    readings
        .into_iter()
        .map(|r| r.join("/"))
        .filter(|r| r != text)
        .collect()
}

fn is_wildcard(seg: &str) -> bool {
    short_name(seg).is_some() || seg.contains(['*', '?', '[', '{'])
}

/// An 8.3 short name's lowercase base (up to 6 characters before `~N`) and extension.
fn short_name(seg: &str) -> Option<(String, String)> {
    let (name, ext) = seg.rsplit_once('.').unwrap_or((seg, ""));
    let (base, num) = name.rsplit_once('~')?;
    let ok = !base.is_empty()
        && base.chars().count() <= 6
        && !base.contains(['.', ' '])
        && !num.is_empty()
        && num.len() <= 6
        && num.bytes().all(|b| b.is_ascii_digit())
        && ext.chars().count() <= 3;
    ok.then(|| (base.to_lowercase(), ext.to_lowercase()))
}

/// Concrete names of a vocabulary segment to try for `seg`: itself, or with its `*`s filled
/// with nothing or with the short name's base or extension.
fn names_of(word: &str, seg: &str) -> Vec<String> {
    if !word.contains('*') {
        return vec![word.to_owned()];
    }
    let mut fills = vec![String::new(), "x".to_owned()];
    if let Some((base, ext)) = short_name(seg) {
        fills.push(base);
        fills.push(ext);
    }
    fills.into_iter().map(|f| word.replace('*', &f)).collect()
}

/// Whether the wildcard segment `seg` may name `name`.
fn may_name(seg: &str, name: &str) -> bool {
    if let Some((base, ext)) = short_name(seg) {
        let trimmed = name.trim_start_matches(['.', ' ']);
        let (long_base, long_ext) = match trimmed.rsplit_once('.') {
            Some((b, e)) if !b.is_empty() => (b.to_owned(), e.to_owned()),
            _ => (trimmed.to_owned(), String::new()),
        };
        let long_base: String = long_base
            .chars()
            .filter(|c| !matches!(c, '.' | ' '))
            .collect();
        return long_base.starts_with(&base)
            && long_ext.starts_with(&ext)
            && (ext.is_empty() == long_ext.is_empty());
    }
    super::command::glob_regex(seg).is_some_and(|re| re.is_match(name))
}

/// Each segment with Windows' trailing dots/spaces and a `::$DATA` stream suffix removed,
/// and leading/trailing whitespace trimmed (a segment that would become empty is kept).
fn windows_trimmed(raw: &str) -> String {
    raw.replace('\\', "/")
        .split('/')
        .map(|seg| {
            let mut s = seg;
            // `name:stream:$DATA` is a stream of `name`; a drive letter (`C:`) is not cut.
            let drive = s.len() == 2 && s.as_bytes()[0].is_ascii_alphabetic();
            if let Some(colon) = s.find(':')
                && !drive
                && colon > 0
            {
                s = &s[..colon];
            }
            let t = s.trim().trim_end_matches(['.', ' ']);
            if t.is_empty() || s == "." || s == ".." {
                seg
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The root marker of an absolute path: `/` or a drive letter segment (`C:`).
fn split_root(path: &str) -> (Option<String>, &str) {
    if let Some(rest) = path.strip_prefix('/') {
        return (Some("/".to_owned()), rest);
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        let drive = path[..2].to_ascii_uppercase();
        let rest = path[2..].trim_start_matches('/');
        return (Some(format!("{drive}/")), rest);
    }
    (None, path)
}

/// Resolves segments lexically on top of `base`; returns the stack and how many `..` climbed
/// above the start of `base`.
fn resolve<'a>(base: Vec<&'a str>, rest: &'a str) -> (Vec<&'a str>, usize) {
    let mut stack = base;
    let mut above = 0usize;
    for seg in rest.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    above = above.saturating_add(1);
                }
            }
            s => stack.push(s),
        }
    }
    (stack, above)
}

/// Normalises one spelling (see the module doc).
pub(crate) fn normalise(raw: &str, repo_root: Option<&str>) -> NormalPath {
    let path = raw.replace('\\', "/");
    let root = repo_root.map(|r| r.replace('\\', "/"));
    let root_parts = root.as_deref().and_then(|r| {
        let (marker, rest) = split_root(r);
        marker.map(|m| (m, resolve(Vec::new(), rest).0))
    });
    let first = path.split('/').next().unwrap_or_default();
    if first.starts_with('~') || first.starts_with('$') {
        let (stack, _) = resolve(vec![first], path.get(first.len()..).unwrap_or_default());
        return NormalPath {
            text: stack.join("/"),
            outside: true,
        };
    }
    let (marker, rest) = split_root(&path);
    if let Some((root_marker, root_segs)) = &root_parts
        && marker.as_deref().is_none_or(|m| m == root_marker)
    {
        {
            // Absolute under the same root marker, or relative to the repository root.
            let base = if marker.is_some() {
                Vec::new()
            } else {
                root_segs.clone()
            };
            let (stack, _) = resolve(base, rest);
            if stack.len() >= root_segs.len() && stack[..root_segs.len()] == root_segs[..] {
                let inner = stack[root_segs.len()..].join("/");
                return NormalPath {
                    text: if inner.is_empty() {
                        ".".to_owned()
                    } else {
                        inner
                    },
                    outside: false,
                };
            }
            return NormalPath {
                text: format!("{root_marker}{}", stack.join("/")),
                outside: true,
            };
        }
    }
    if let Some(marker) = marker {
        let (stack, _) = resolve(Vec::new(), rest);
        return NormalPath {
            text: format!("{marker}{}", stack.join("/")),
            outside: true,
        };
    }
    let (stack, above) = resolve(Vec::new(), rest);
    let mut parts: Vec<&str> = std::iter::repeat_n("..", above).collect();
    parts.extend(stack);
    let text = parts.join("/");
    NormalPath {
        text: if text.is_empty() {
            ".".to_owned()
        } else {
            text
        },
        outside: above > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_resolves_dots_separators_and_the_root() {
        let root = Some("/abs/repo");
        let cases: &[(&str, &str, bool)] = &[
            ("./iam/x.tf", "iam/x.tf", false),
            ("docs/../iam/x.tf", "iam/x.tf", false),
            ("/abs/repo/iam/x.tf", "iam/x.tf", false),
            ("/abs/repo", ".", false),
            ("iam\\x.tf", "iam/x.tf", false),
            ("../x", "/abs/x", true),
            ("../repo/iam/x.tf", "iam/x.tf", false),
            ("/etc/passwd", "/etc/passwd", true),
            ("~/x", "~/x", true),
            ("", ".", false),
        ];
        for (raw, text, outside) in cases {
            assert_eq!(
                normalise(raw, root),
                NormalPath {
                    text: (*text).to_owned(),
                    outside: *outside
                },
                "{raw}"
            );
        }
        assert_eq!(normalise("../x", None).text, "../x");
        assert!(normalise("/abs/repo/x", None).outside);
    }
}

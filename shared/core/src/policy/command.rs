//! Reading a shell command line the way a shell would, to the commands it runs.
//!
//! A line is split at unquoted `;`, `&`, `&&`, `|`, `||`, `|&`, `(`, `)` and newlines; each
//! part is tokenised with `shell-words`, loses leading `NAME=value` assignments, shell keywords
//! and wrappers (`env`, `sudo`, `timeout 5`, `xargs -n1`, …), has its executable reduced to the
//! basename (aliases applied), and for tools with subcommands the global options before the
//! subcommand are skipped. `sh -c BODY` (and `eval`, `watch`, `su -c`, `env -S`, here-strings
//! fed to a shell, `find -exec`) are read recursively, to a bounded depth.

use std::collections::BTreeMap;

/// How deep `sh -c "sh -c …"` is followed.
pub(crate) const MAX_DEPTH: usize = 8;
/// How many commands one line may hold.
pub(crate) const MAX_PARTS: usize = 256;

/// Why a line (or part of it) is never `allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Unbalanced quotes, a redirection without a target, nothing to run, too deep, too long.
    Unparseable(String),
    /// `$(…)`, backticks, `<(…)`, `>(…)`.
    Substitution,
}

/// Why one command is never `allow` although a pattern allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cap {
    /// Leading `NAME=value` (or `env NAME=value`): `PATH=.`, `LD_PRELOAD=…` change the program.
    Environment,
    /// `sudo`, `doas`, `su`, `runuser`, `chroot`.
    Privileged(String),
    /// `$VAR`, `${…}`, `$'…'`, globs or braces: the text is not what runs.
    Dynamic,
}

/// A redirection's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirect {
    /// `>`, `>>`, `&>`, `<>`: written; `<`: read.
    pub write: bool,
    /// The file as written (unquoted).
    pub path: String,
}

/// One command of the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    /// Canonical argv: executable basename (alias applied), subcommand, remaining arguments.
    pub argv: Vec<String>,
    /// Texts the patterns are matched against (the canonical one first), e.g. each reading of
    /// an ambiguous global option, or `git push origin main` for `git push -f origin HEAD:main`.
    pub candidates: Vec<String>,
    /// Why an `allow` match does not allow it.
    pub caps: Vec<Cap>,
    /// The words as they run, after assignments, keywords and wrappers: the executable as
    /// written (path and case kept), then every argument, global options included.
    pub raw: Vec<String>,
    /// What it runs through, outermost first: wrappers (`env`, `sudo`, `xargs`, …), shells and
    /// `eval`/`watch`/`su` reading a body, `find` running `-exec`, `$(…)` substitutions.
    pub via: Vec<String>,
    /// Its text holds an unquoted glob or brace (`*`, `?`, `[`, `{a,b}`) outside `$…`: the
    /// shell may replace the words before it runs (any file name, `-delete` included).
    pub globbed: bool,
}

/// A parsed line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Every command, nested ones included, in order.
    pub commands: Vec<Command>,
    /// Files the line reads or writes through redirections.
    pub redirects: Vec<Redirect>,
    /// Line-level reasons it is never `allow`.
    pub problems: Vec<Problem>,
}

/// What the parser needs from the pack.
pub(crate) struct Env<'a> {
    /// Lowercase executable → the executable the rules know it as (`tofu` → `terraform`).
    pub aliases: &'a BTreeMap<String, String>,
    /// Lowercase executables the pack's command patterns name (to resolve `terr*form`).
    pub known: &'a [String],
}

/// Parses a whole line.
pub(crate) fn parse(line: &str, env: &Env<'_>) -> Parsed {
    let mut out = Parsed::default();
    parse_into(line, env, 0, &[], &[], &mut out);
    if out.commands.is_empty() && out.problems.is_empty() {
        out.problems
            .push(Problem::Unparseable("nothing to run".to_owned()));
    }
    out
}

fn parse_into(
    line: &str,
    env: &Env<'_>,
    depth: usize,
    inherited: &[Cap],
    via: &[String],
    out: &mut Parsed,
) {
    if depth > MAX_DEPTH {
        out.problems.push(Problem::Unparseable(format!(
            "nested shells deeper than {MAX_DEPTH}"
        )));
        return;
    }
    let scan = scan(line);
    if let Some(why) = scan.error {
        out.problems.push(Problem::Unparseable(why));
    }
    if !scan.substitutions.is_empty() {
        out.problems.push(Problem::Substitution);
    }
    let mut substituted = via.to_vec();
    substituted.push("$(…)".to_owned());
    for inner in &scan.substitutions {
        parse_into(inner, env, depth + 1, inherited, &substituted, out);
    }
    for seg in scan.segments {
        if out.commands.len() >= MAX_PARTS {
            out.problems.push(Problem::Unparseable(format!(
                "more than {MAX_PARTS} commands"
            )));
            return;
        }
        match shell_words::split(&seg.text) {
            Err(e) => out.problems.push(Problem::Unparseable(format!(
                "{e} in {:?}",
                seg.text.trim()
            ))),
            Ok(words) => {
                let mut caps = inherited.to_vec();
                if seg.dynamic {
                    caps.push(Cap::Dynamic);
                }
                let here: Vec<String> = seg.here_strings.clone();
                let ctx = Context {
                    depth,
                    caps,
                    via: via.to_vec(),
                    globbed: seg.glob,
                };
                command_words(words, env, ctx, &here, out);
            }
        }
        for (write, raw) in seg.redirects {
            let path = shell_words::split(&raw)
                .ok()
                .filter(|w| w.len() == 1)
                .and_then(|mut w| w.pop())
                .unwrap_or(raw);
            out.redirects.push(Redirect { write, path });
        }
    }
}

const KEYWORDS: &[&str] = &[
    "!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "esac",
    "coproc", "function", "select",
];
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "posh", "rbash", "lksh", "oksh",
    "pdksh", "fish", "csh", "tcsh",
];

/// A wrapper: options that take a value, how many positional words it consumes, privileged.
struct Wrapper {
    name: &'static str,
    value_opts: &'static [&'static str],
    positional: usize,
    privileged: bool,
}

const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        name: "env",
        value_opts: &["-u", "--unset", "-C", "--chdir", "-P"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "sudo",
        value_opts: &[
            "-u",
            "-g",
            "-C",
            "-D",
            "-h",
            "-p",
            "-r",
            "-t",
            "-T",
            "-U",
            "--user",
            "--group",
            "--prompt",
            "--chdir",
            "--host",
            "--role",
            "--type",
            "--close-from",
            "--other-user",
            "--command-timeout",
        ],
        positional: 0,
        privileged: true,
    },
    Wrapper {
        name: "doas",
        value_opts: &["-u", "-C"],
        positional: 0,
        privileged: true,
    },
    Wrapper {
        name: "runuser",
        value_opts: &["-u", "-g", "-G", "--user", "--group", "--supp-group"],
        positional: 0,
        privileged: true,
    },
    Wrapper {
        name: "chroot",
        value_opts: &["--userspec", "--groups"],
        positional: 1,
        privileged: true,
    },
    Wrapper {
        name: "nice",
        value_opts: &["-n", "--adjustment"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "nohup",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "time",
        value_opts: &["-f", "-o", "--format", "--output"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "timeout",
        value_opts: &["-s", "-k", "--signal", "--kill-after"],
        positional: 1,
        privileged: false,
    },
    Wrapper {
        name: "command",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "builtin",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "exec",
        value_opts: &["-a"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "xargs",
        value_opts: &[
            "-I",
            "-L",
            "-n",
            "-P",
            "-s",
            "-d",
            "-E",
            "-a",
            "--arg-file",
            "--delimiter",
            "--max-args",
            "--max-procs",
            "--max-lines",
            "--max-chars",
            "--eof",
            "--process-slot-var",
        ],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "stdbuf",
        value_opts: &["-i", "-o", "-e", "--input", "--output", "--error"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "ionice",
        value_opts: &["-c", "-n", "-p", "-P", "-u", "--class", "--classdata"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "chrt",
        value_opts: &["-T", "-P", "-D"],
        positional: 1,
        privileged: false,
    },
    Wrapper {
        name: "taskset",
        value_opts: &[],
        positional: 1,
        privileged: false,
    },
    Wrapper {
        name: "setsid",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "unbuffer",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "nocache",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "faketime",
        value_opts: &[],
        positional: 1,
        privileged: false,
    },
    Wrapper {
        name: "strace",
        value_opts: &[
            "-e", "-o", "-p", "-s", "-u", "-E", "-a", "-P", "-b", "-I", "-S", "-X",
        ],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "ltrace",
        value_opts: &["-e", "-o", "-p", "-s", "-u", "-a", "-n"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "busybox",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
];

/// `terraform`-like tools: value-taking and flag global options; `anywhere`: the CLI accepts
/// its global options after the subcommand too (they are removed wherever they appear).
struct Tool {
    name: &'static str,
    value_opts: &'static [&'static str],
    flags: &'static [&'static str],
    anywhere: bool,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "terraform",
        value_opts: &["-chdir", "--chdir"],
        flags: &["-help", "-version", "-v", "--help", "--version"],
        anywhere: false,
    },
    Tool {
        name: "git",
        value_opts: &[
            "-C",
            "-c",
            "--git-dir",
            "--work-tree",
            "--namespace",
            "--config-env",
            "--super-prefix",
            "--exec-path",
            "--list-cmds",
        ],
        flags: &[
            "-p",
            "-P",
            "--paginate",
            "--no-pager",
            "--bare",
            "--no-replace-objects",
            "--literal-pathspecs",
            "--glob-pathspecs",
            "--noglob-pathspecs",
            "--icase-pathspecs",
            "--no-optional-locks",
            "--no-advice",
            "--version",
            "--help",
        ],
        anywhere: false,
    },
    Tool {
        name: "kubectl",
        value_opts: &[
            "-n",
            "--namespace",
            "--context",
            "--cluster",
            "--user",
            "-s",
            "--server",
            "--kubeconfig",
            "--token",
            "--as",
            "--as-group",
            "--as-uid",
            "--certificate-authority",
            "--client-certificate",
            "--client-key",
            "--request-timeout",
            "--tls-server-name",
            "--cache-dir",
            "-v",
            "--v",
            "--log-file",
            "--profile",
            "--password",
            "--username",
        ],
        flags: &[
            "--insecure-skip-tls-verify",
            "--match-server-version",
            "--warnings-as-errors",
        ],
        anywhere: true,
    },
    Tool {
        name: "helm",
        value_opts: &[
            "-n",
            "--namespace",
            "--kube-context",
            "--kubeconfig",
            "--kube-apiserver",
            "--kube-token",
            "--kube-as-user",
            "--registry-config",
            "--repository-config",
            "--repository-cache",
        ],
        flags: &["--debug"],
        anywhere: true,
    },
    Tool {
        name: "aws",
        value_opts: &[
            "--profile",
            "--region",
            "--output",
            "--endpoint-url",
            "--query",
            "--color",
            "--cli-read-timeout",
            "--cli-connect-timeout",
            "--ca-bundle",
            "--cli-binary-format",
        ],
        flags: &[
            "--debug",
            "--no-verify-ssl",
            "--no-paginate",
            "--no-sign-request",
            "--no-cli-pager",
            "--cli-auto-prompt",
            "--no-cli-auto-prompt",
        ],
        anywhere: true,
    },
    Tool {
        name: "az",
        value_opts: &["--subscription", "--output", "-o", "--query"],
        flags: &["--debug", "--verbose", "--only-show-errors"],
        anywhere: true,
    },
    Tool {
        name: "gcloud",
        value_opts: &[
            "--project",
            "--account",
            "--configuration",
            "--format",
            "--verbosity",
            "--billing-project",
            "--impersonate-service-account",
            "--flags-file",
            "--trace-token",
        ],
        flags: &[
            "--quiet",
            "-q",
            "--log-http",
            "--no-user-output-enabled",
            "--user-output-enabled",
        ],
        anywhere: true,
    },
    Tool {
        name: "npm",
        value_opts: &[
            "--prefix",
            "-w",
            "--workspace",
            "--userconfig",
            "--cache",
            "--registry",
            "--loglevel",
        ],
        flags: &[
            "-s",
            "--silent",
            "-q",
            "--quiet",
            "-d",
            "--verbose",
            "-ws",
            "--workspaces",
            "--if-present",
            "-g",
            "--global",
        ],
        anywhere: false,
    },
    Tool {
        name: "docker",
        value_opts: &[
            "-H",
            "--host",
            "--context",
            "-c",
            "--config",
            "-l",
            "--log-level",
        ],
        flags: &["-D", "--debug", "--tls", "--tlsverify"],
        anywhere: false,
    },
];

fn is_assignment(word: &str) -> bool {
    let Some(eq) = word.find('=') else {
        return false;
    };
    let name = word[..eq].trim_end_matches('+');
    let name = name.split('[').next().unwrap_or_default();
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `/usr/bin/Terraform.EXE` → `terraform`.
fn basename(word: &str) -> String {
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let lower = base.to_lowercase();
    lower
        .strip_suffix(".exe")
        .map_or(lower.clone(), str::to_owned)
}

/// Skips a wrapper's options (and positional words) starting at `i` (after its name).
fn skip_options(words: &[String], mut i: usize, value_opts: &[&str], positional: usize) -> usize {
    while let Some(w) = words.get(i) {
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') {
            break;
        }
        if w == "-" {
            // `env -` = `env -i`.
            i += 1;
            continue;
        }
        i += if value_opts.contains(&w.as_str()) {
            2
        } else {
            1
        };
    }
    let mut left = positional;
    while left > 0 && i < words.len() {
        i += 1;
        left -= 1;
    }
    i
}

/// Where a shell's `-c` body is, if it has one: `None` no `-c`, `Some(None)` `-c` without one.
#[allow(clippy::option_option)]
fn shell_body(words: &[String]) -> Option<Option<String>> {
    let mut i = 1;
    let mut has_c = false;
    while let Some(w) = words.get(i) {
        if w == "--" || w == "-" {
            i += 1;
            break;
        }
        if !(w.starts_with('-') || w.starts_with('+')) {
            break;
        }
        if matches!(
            w.as_str(),
            "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file"
        ) {
            i += 2;
            continue;
        }
        if w == "--command" || (!w.starts_with("--") && w[1..].contains('c')) {
            has_c = true;
        }
        i += 1;
    }
    has_c.then(|| words.get(i).cloned())
}

/// What a command inherits from where it appears.
struct Context {
    depth: usize,
    caps: Vec<Cap>,
    via: Vec<String>,
    globbed: bool,
}

#[allow(clippy::too_many_lines)]
fn command_words(
    mut words: Vec<String>,
    env: &Env<'_>,
    ctx: Context,
    here_strings: &[String],
    out: &mut Parsed,
) {
    let Context {
        depth,
        mut caps,
        mut via,
        globbed,
    } = ctx;
    let mut stripped = false;
    // Bounded: every round removes at least one word.
    loop {
        let Some(first) = words.first() else {
            if stripped {
                out.problems.push(Problem::Unparseable(
                    "nothing to run after assignments and wrappers".to_owned(),
                ));
            }
            return;
        };
        if KEYWORDS.contains(&first.as_str()) {
            words.remove(0);
            continue;
        }
        if is_assignment(first) {
            caps.push(Cap::Environment);
            stripped = true;
            words.remove(0);
            continue;
        }
        let exe = basename(first);
        if exe == "env" {
            // `env -S 'terraform apply'` splits its string into words.
            if let Some(pos) = words.iter().position(|w| {
                w == "-S" || w.starts_with("--split-string") || (w.starts_with("-S") && w.len() > 2)
            }) {
                let w = &words[pos];
                let (value, used) = if w == "-S" || w == "--split-string" {
                    (words.get(pos + 1).cloned().unwrap_or_default(), 2)
                } else if let Some(v) = w.strip_prefix("--split-string=") {
                    (v.to_owned(), 1)
                } else {
                    (w[2..].to_owned(), 1)
                };
                let end = (pos + used).min(words.len());
                let rest: Vec<String> = words[end..].to_vec();
                let Ok(mut split) = shell_words::split(&value) else {
                    out.problems.push(Problem::Unparseable(
                        "env -S string has unbalanced quotes".to_owned(),
                    ));
                    return;
                };
                split.extend(rest);
                words = split;
                via.push(exe.clone());
                stripped = true;
                continue;
            }
        }
        if let Some(w) = WRAPPERS.iter().find(|w| w.name == exe) {
            if w.privileged {
                caps.push(Cap::Privileged(exe.clone()));
            }
            via.push(exe.clone());
            let at = skip_options(&words, 1, w.value_opts, w.positional);
            words.drain(..at.min(words.len()));
            stripped = true;
            continue;
        }
        if exe == "eval" || exe == "watch" {
            via.push(exe.clone());
            let at = if exe == "watch" {
                let exec = words.iter().any(|w| w == "-x" || w == "--exec");
                let at = skip_options(
                    &words,
                    1,
                    &["-n", "--interval", "-q", "--equexit", "--differences"],
                    0,
                );
                if exec {
                    words.drain(..at.min(words.len()));
                    stripped = true;
                    continue;
                }
                at
            } else {
                1
            };
            let body = words.get(at..).unwrap_or_default().join(" ");
            parse_into(&body, env, depth + 1, &caps, &via, out);
            return;
        }
        if exe == "su" {
            caps.push(Cap::Privileged(exe.clone()));
            let mut body = None;
            for (k, w) in words.iter().enumerate() {
                if w == "-c" || w == "--command" {
                    body = words.get(k + 1).cloned();
                } else if let Some(v) = w.strip_prefix("--command=") {
                    body = Some(v.to_owned());
                }
            }
            if let Some(body) = body {
                let mut via = via.clone();
                via.push(exe.clone());
                parse_into(&body, env, depth + 1, &caps, &via, out);
                return;
            }
        }
        if SHELLS.contains(&exe.as_str()) {
            let mut via = via.clone();
            via.push(exe.clone());
            match shell_body(&words) {
                Some(Some(body)) => {
                    parse_into(&body, env, depth + 1, &caps, &via, out);
                    return;
                }
                Some(None) => {
                    out.problems
                        .push(Problem::Unparseable(format!("{exe} -c without a command")));
                    return;
                }
                None => {
                    for text in here_strings {
                        parse_into(text, env, depth + 1, &caps, &via, out);
                    }
                }
            }
        }
        if exe == "find" {
            let mut k = 1;
            while k < words.len() {
                if matches!(words[k].as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
                    let start = k + 1;
                    let end = words[start..]
                        .iter()
                        .position(|w| w == ";" || w == "+")
                        .map_or(words.len(), |p| start + p);
                    let inner: Vec<String> = words[start..end].to_vec();
                    if depth < MAX_DEPTH {
                        let mut via = via.clone();
                        via.push("find".to_owned());
                        let ctx = Context {
                            depth: depth + 1,
                            caps: caps.clone(),
                            via,
                            globbed,
                        };
                        command_words(inner, env, ctx, &[], out);
                    }
                    k = end;
                }
                k += 1;
            }
        }
        break;
    }
    let exe_word = words[0].clone();
    let mut exe = basename(&exe_word);
    if let Some(target) = env.aliases.get(&exe) {
        exe = target.to_lowercase();
    }
    let mut exes = vec![exe.clone()];
    if exe_word.contains(['$', '`']) {
        caps.push(Cap::Dynamic);
    }
    if exe.contains(['*', '?', '[', '{']) {
        caps.push(Cap::Dynamic);
        if let Some(re) = glob_regex(&exe) {
            for known in env.known {
                if re.is_match(known) && !exes.contains(known) {
                    exes.push(known.clone());
                }
            }
        }
    }
    let args: Vec<String> = words[1..].to_vec();
    let mut candidates: Vec<String> = Vec::new();
    let mut canonical: Option<Vec<String>> = None;
    for exe in &exes {
        for variant in arg_variants(exe, &args) {
            let mut argv = vec![exe.clone()];
            argv.extend(variant);
            if canonical.is_none() {
                canonical = Some(argv.clone());
            }
            for extra in git_push_variants(&argv) {
                let text = extra.join(" ");
                if !candidates.contains(&text) {
                    candidates.push(text);
                }
            }
            let text = argv.join(" ");
            if !candidates.contains(&text) {
                candidates.push(text);
            }
        }
    }
    let argv = canonical.unwrap_or_else(|| vec![exe.clone()]);
    // The canonical text first.
    let first = argv.join(" ");
    candidates.retain(|c| c != &first);
    candidates.insert(0, first);
    caps.dedup();
    out.commands.push(Command {
        argv,
        candidates,
        caps,
        raw: words,
        via,
        globbed,
    });
}

/// A shell glob (with `{a,b}`) as a whole-word regex, for matching known executables.
pub(crate) fn glob_regex(glob: &str) -> Option<regex::Regex> {
    let mut re = String::from("^(?i:");
    let mut in_class = false;
    for c in glob.chars() {
        match c {
            '*' if !in_class => re.push_str(".*"),
            '?' if !in_class => re.push('.'),
            '[' if !in_class => {
                in_class = true;
                re.push('[');
            }
            ']' if in_class => {
                in_class = false;
                re.push(']');
            }
            '!' if in_class && re.ends_with('[') => re.push('^'),
            '{' if !in_class => re.push('('),
            '}' if !in_class => re.push(')'),
            ',' if !in_class => re.push('|'),
            c => {
                let mut buf = [0u8; 4];
                re.push_str(&regex::escape(c.encode_utf8(&mut buf)));
            }
        }
    }
    re.push_str(")$");
    regex::Regex::new(&re).ok()
}

/// The argument lists a tool's command may mean: global options removed; an option the table
/// does not know is read both as a flag and as taking the next word.
fn arg_variants(exe: &str, args: &[String]) -> Vec<Vec<String>> {
    let Some(tool) = TOOLS.iter().find(|t| t.name == exe) else {
        return vec![args.to_vec()];
    };
    let args: Vec<String> = if tool.anywhere {
        let mut kept = Vec::new();
        let mut i = 0;
        while let Some(w) = args.get(i) {
            if w == "--" {
                kept.extend_from_slice(&args[i..]);
                break;
            }
            let name = w.split('=').next().unwrap_or(w);
            if tool.value_opts.contains(&w.as_str()) {
                i += 2;
            } else if (w.contains('=') && tool.value_opts.contains(&name))
                || tool.flags.contains(&w.as_str())
            {
                i += 1;
            } else {
                kept.push(w.clone());
                i += 1;
            }
        }
        kept
    } else {
        args.to_vec()
    };
    let mut starts = Vec::new();
    leading(&args, 0, tool, &mut starts);
    let mut out: Vec<Vec<String>> = Vec::new();
    for s in starts {
        let v = args.get(s..).unwrap_or_default().to_vec();
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Collects where the subcommand may start (the canonical reading first).
fn leading(args: &[String], i: usize, tool: &Tool, out: &mut Vec<usize>) {
    if out.len() >= 16 {
        return;
    }
    if i > 64 {
        // Bounded recursion: past 64 leading options, the rest is the subcommand.
        out.push(i.min(args.len()));
        return;
    }
    let Some(w) = args.get(i) else {
        out.push(i);
        return;
    };
    if w == "--" {
        out.push(i + 1);
        return;
    }
    if !w.starts_with('-') || w == "-" {
        out.push(i);
        return;
    }
    let short_attached = tool
        .value_opts
        .iter()
        .any(|o| !o.starts_with("--") && w.len() > o.len() && w.starts_with(o) && o.len() == 2);
    if tool.value_opts.contains(&w.as_str()) {
        leading(args, i + 2, tool, out);
    } else if w.contains('=') || tool.flags.contains(&w.as_str()) || short_attached {
        leading(args, i + 1, tool, out);
    } else {
        leading(args, i + 1, tool, out);
        leading(args, i + 2, tool, out);
    }
}

/// `git push [opts] REMOTE REFSPEC…` → `git push REMOTE DST` for each destination branch
/// (`HEAD:main`, `+main`, `refs/heads/main`, `:main` all name `main`; `--all`/`--mirror`
/// push `main` and `master` too).
fn git_push_variants(argv: &[String]) -> Vec<Vec<String>> {
    if argv.len() < 2 || argv[0] != "git" || argv[1] != "push" {
        return Vec::new();
    }
    let value_opts = ["--repo", "-o", "--push-option", "--receive-pack", "--exec"];
    let mut positional = Vec::new();
    let mut all = false;
    let mut i = 2;
    while let Some(w) = argv.get(i) {
        if w == "--" {
            positional.extend(argv[i + 1..].iter().cloned());
            break;
        }
        if w.starts_with('-') {
            if w == "--all" || w == "--mirror" || w == "--branches" {
                all = true;
            }
            i += if value_opts.contains(&w.as_str()) {
                2
            } else {
                1
            };
            continue;
        }
        positional.push(w.clone());
        i += 1;
    }
    let Some(remote) = positional.first() else {
        return Vec::new();
    };
    let mut dsts: Vec<String> = positional[1..]
        .iter()
        .map(|spec| {
            let spec = spec.trim_start_matches('+');
            let dst = spec.rsplit(':').next().unwrap_or(spec);
            dst.trim_start_matches("refs/heads/").to_owned()
        })
        .collect();
    if all {
        dsts.push("main".to_owned());
        dsts.push("master".to_owned());
    }
    dsts.into_iter()
        .map(|d| vec!["git".into(), "push".into(), remote.clone(), d])
        .collect()
}

/// One scanned command: its text without redirections, the redirections, flags.
#[derive(Debug, Default)]
struct Segment {
    text: String,
    /// (written?, raw word)
    redirects: Vec<(bool, String)>,
    here_strings: Vec<String>,
    dynamic: bool,
    /// An unquoted `*`, `?`, `[` or brace-expansion `{`.
    glob: bool,
}

#[derive(Debug, Default)]
struct Scan {
    segments: Vec<Segment>,
    substitutions: Vec<String>,
    error: Option<String>,
}

/// Index of the `)` closing the `(` just before `start`, skipping quotes and escapes.
fn closing_paren(chars: &[char], start: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => i += 1,
            '\'' => i = (i + 1..chars.len()).find(|&j| chars[j] == '\'')?,
            '"' => {
                let mut j = i + 1;
                while *chars.get(j)? != '"' {
                    if chars[j] == '\\' {
                        j += 1;
                    }
                    j += 1;
                }
                i = j;
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index of the closing backtick, skipping escapes.
fn closing_backtick(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => i += 1,
            '`' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether the `{` at `start` opens a brace expansion: a `,` or `..` before its `}`, within
/// one word (`{a,b}`, `{1..3}`; not `@{u}`, `{}`, `{ cmd; }`).
fn brace_expands(chars: &[char], start: usize) -> bool {
    let mut i = start + 1;
    let mut prev = '{';
    while let Some(&c) = chars.get(i) {
        match c {
            '}' => return false,
            ',' => return true,
            '.' if prev == '.' => return true,
            c if c.is_whitespace() || is_operator(c) => return false,
            _ => {}
        }
        prev = c;
        i += 1;
    }
    false
}

fn is_operator(c: char) -> bool {
    matches!(c, ';' | '&' | '|' | '(' | ')' | '<' | '>' | '\n')
}

/// Handles `$` and backticks at `i` (outside single quotes); returns the next index.
fn dollar(chars: &[char], i: usize, seg: &mut Segment, scan: &mut Scan) -> usize {
    let c = chars[i];
    if c == '`' {
        if let Some(end) = closing_backtick(chars, i + 1) {
            scan.substitutions.push(chars[i + 1..end].iter().collect());
            seg.text.extend(&chars[i..=end]);
            return end + 1;
        }
        scan.error = Some("unbalanced backtick".to_owned());
        return chars.len();
    }
    match chars.get(i + 1) {
        Some('(') => {
            if let Some(end) = closing_paren(chars, i + 2) {
                scan.substitutions.push(chars[i + 2..end].iter().collect());
                seg.text.extend(&chars[i..=end]);
                return end + 1;
            }
            scan.error = Some("unbalanced $(".to_owned());
            chars.len()
        }
        Some(n)
            if n.is_alphanumeric()
                || matches!(
                    n,
                    '{' | '_' | '\'' | '"' | '@' | '*' | '#' | '?' | '-' | '$' | '!'
                ) =>
        {
            seg.dynamic = true;
            seg.text.push('$');
            i + 1
        }
        _ => {
            seg.text.push('$');
            i + 1
        }
    }
}

/// Splits a line into commands at unquoted operators, recording redirections and
/// substitutions. Quotes are kept in the text for `shell-words`.
#[allow(clippy::too_many_lines)]
fn scan(line: &str) -> Scan {
    let chars: Vec<char> = line.chars().collect();
    let mut scan = Scan::default();
    let mut seg = Segment::default();
    let mut word_start = 0usize; // byte index in seg.text where the current word begins
    let mut at_word_start = true;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                if chars.get(i + 1) == Some(&'\n') {
                    i += 2;
                    continue;
                }
                seg.text.push('\\');
                if let Some(&n) = chars.get(i + 1) {
                    seg.text.push(n);
                }
                i += 2;
                at_word_start = false;
            }
            '\'' => {
                let Some(end) = (i + 1..chars.len()).find(|&j| chars[j] == '\'') else {
                    scan.error = Some("unbalanced single quote".to_owned());
                    break;
                };
                seg.text.extend(&chars[i..=end]);
                i = end + 1;
                at_word_start = false;
            }
            '"' => {
                seg.text.push('"');
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        '\\' => {
                            if chars.get(i + 1) == Some(&'\n') {
                                i += 2;
                                continue;
                            }
                            seg.text.push('\\');
                            if let Some(&n) = chars.get(i + 1) {
                                seg.text.push(n);
                            }
                            i += 2;
                        }
                        '"' => {
                            seg.text.push('"');
                            i += 1;
                            closed = true;
                            break;
                        }
                        '$' | '`' => i = dollar(&chars, i, &mut seg, &mut scan),
                        other => {
                            seg.text.push(other);
                            i += 1;
                        }
                    }
                }
                if !closed && scan.error.is_none() {
                    scan.error = Some("unbalanced double quote".to_owned());
                }
                if scan.error.is_some() {
                    break;
                }
                at_word_start = false;
            }
            '$' | '`' => {
                i = dollar(&chars, i, &mut seg, &mut scan);
                if scan.error.is_some() {
                    break;
                }
                at_word_start = false;
            }
            '#' if at_word_start => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ' ' | '\t' | '\r' => {
                seg.text.push(' ');
                i += 1;
                at_word_start = true;
                word_start = seg.text.len();
            }
            '<' | '>' | '&' if c != '&' || chars.get(i + 1) == Some(&'>') => {
                if c == '<' && chars.get(i + 1) == Some(&'(')
                    || c == '>' && chars.get(i + 1) == Some(&'(')
                {
                    // Process substitution.
                    if let Some(end) = closing_paren(&chars, i + 2) {
                        scan.substitutions.push(chars[i + 2..end].iter().collect());
                        seg.text.push_str(" _procsub_ ");
                        i = end + 1;
                        continue;
                    }
                    scan.error = Some("unbalanced process substitution".to_owned());
                    break;
                }
                // An fd number (`2>`) or `{var}` directly before belongs to the operator.
                if !at_word_start {
                    let word = &seg.text[word_start..];
                    if word.chars().all(|ch| ch.is_ascii_digit())
                        || (word.starts_with('{') && word.ends_with('}'))
                    {
                        seg.text.truncate(word_start);
                    }
                }
                let mut op = String::new();
                while let Some(&o) = chars.get(i) {
                    if matches!(o, '<' | '>' | '&' | '|' | '-') && op.len() < 3 {
                        if o == '-' && op != "<<" {
                            break;
                        }
                        if o == '|' && op != ">" {
                            break;
                        }
                        if o == '&' && !op.is_empty() && !op.ends_with(['<', '>']) {
                            break;
                        }
                        op.push(o);
                        i += 1;
                    } else {
                        break;
                    }
                }
                while matches!(chars.get(i), Some(' ' | '\t')) {
                    i += 1;
                }
                let begin = i;
                while let Some(&w) = chars.get(i) {
                    if w.is_whitespace() || is_operator(w) {
                        break;
                    }
                    match w {
                        '\\' => i += 2,
                        '\'' => {
                            i = (i + 1..chars.len())
                                .find(|&j| chars[j] == '\'')
                                .map_or(chars.len(), |e| e + 1);
                        }
                        '"' => {
                            let mut j = i + 1;
                            while j < chars.len() && chars[j] != '"' {
                                if chars[j] == '\\' {
                                    j += 1;
                                }
                                j += 1;
                            }
                            i = j + 1;
                        }
                        '$' | '`' => {
                            seg.dynamic = true;
                            if chars.get(i + 1) == Some(&'(') || w == '`' {
                                scan.substitutions.push(String::new());
                            }
                            i += 1;
                        }
                        _ => i += 1,
                    }
                }
                let end = i.min(chars.len());
                let word: String = chars[begin..end].iter().collect();
                if word.is_empty() {
                    scan.error = Some(format!("redirection {op} without a target"));
                    break;
                }
                match op.as_str() {
                    "<<" | "<<-" => {}
                    "<<<" => seg.here_strings.push(
                        shell_words::split(&word)
                            .ok()
                            .map_or(word.clone(), |w| w.join(" ")),
                    ),
                    ">&" | "<&" if word == "-" || word.chars().all(|ch| ch.is_ascii_digit()) => {}
                    "<" | "<&" => seg.redirects.push((false, word)),
                    _ => seg.redirects.push((true, word)),
                }
                seg.text.push(' ');
                at_word_start = true;
                word_start = seg.text.len();
            }
            c if is_operator(c) => {
                scan.segments.push(std::mem::take(&mut seg));
                // Always consumes the operator itself; then the rest of `&&`, `||`, `;;`, `|&`
                // (an `&` that starts `&>` is left for the redirection).
                i += 1;
                if matches!(c, ';' | '&' | '|') {
                    while matches!(chars.get(i), Some(';' | '|'))
                        || (chars.get(i) == Some(&'&') && chars.get(i + 1) != Some(&'>'))
                    {
                        i += 1;
                    }
                }
                at_word_start = true;
                word_start = 0;
            }
            other => {
                if matches!(other, '*' | '?' | '[') || (other == '{' && brace_expands(&chars, i)) {
                    seg.glob = true;
                }
                seg.text.push(other);
                i += 1;
                at_word_start = false;
            }
        }
    }
    scan.segments.push(seg);
    scan.segments
        .retain(|s| !s.text.trim().is_empty() || !s.redirects.is_empty());
    scan
}

//! Reading a shell command line the way a shell would, to the commands it runs.
//!
//! A line is split at unquoted `;`, `&`, `&&`, `|`, `||`, `|&`, `(`, `)` and newlines; each
//! part is tokenised with `shell-words`, loses leading `NAME=value` assignments, shell keywords
//! and wrappers (`env`, `sudo`, `timeout 5`, `xargs -n1`, …), has its executable reduced to the
//! basename (aliases applied), and for tools with subcommands the global options before the
//! subcommand are skipped. `sh -c BODY` (and `eval`, `watch`, `su -c`, `env -S`, here-strings
//! fed to a shell, `find -exec`) are read recursively, to a bounded depth.

use std::collections::BTreeMap;

use unicode_normalization::UnicodeNormalization as _;

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
    /// What runs cannot be read from the words: an interpreter's inline code (`python -c`),
    /// shell expansion in the command, or a substitution's output. The engine also looks for
    /// blocked commands among its words.
    pub opaque: bool,
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
    /// Other readings of the line's commands, evaluated like them but not listed: the line's
    /// NFKC form, `\r` as a line break, an option read as taking a value, `sh -c` bodies with
    /// their positional parameters filled in, git aliases.
    pub alternatives: Vec<Command>,
    /// `alias NAME=VALUE` definitions seen so far (expanded in later commands).
    aliases: BTreeMap<String, String>,
    /// `NAME=VALUE` statements seen so far (`x=terraform; $x apply`).
    vars: BTreeMap<String, String>,
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
    // Spellings a terminal or another shell may read differently: NFKC (`ｔｅｒｒａｆｏｒｍ`, a
    // no-break space), ignorable code points dropped or read as spaces, `\r`, `\v`, `\f` as
    // line breaks.
    let unusual = |c: char| !c.is_ascii() || matches!(c, '\r' | '\x0b' | '\x0c');
    if line.chars().any(unusual) {
        let nfkc: String = line
            .nfkc()
            .map(|c| {
                if matches!(c, '\r' | '\x0b' | '\x0c') {
                    '\n'
                } else {
                    c
                }
            })
            .collect();
        let dropped: String = nfkc
            .chars()
            .filter(|c| !crate::text::is_invisible(*c))
            .collect();
        let spaced: String = nfkc
            .chars()
            .map(|c| if crate::text::is_invisible(c) { ' ' } else { c })
            .collect();
        for alt in [nfkc, dropped, spaced] {
            if alt != line {
                alternative(&alt, env, 0, &[], &[], &mut out);
            }
        }
    }
    out
}

/// Parses `line` as another reading: its commands (and theirs) become `out`'s alternatives;
/// its problems are not the line's.
fn alternative(
    line: &str,
    env: &Env<'_>,
    depth: usize,
    inherited: &[Cap],
    via: &[String],
    out: &mut Parsed,
) {
    if out.alternatives.len() >= MAX_PARTS {
        return;
    }
    let mut scratch = Parsed {
        aliases: out.aliases.clone(),
        vars: out.vars.clone(),
        ..Parsed::default()
    };
    parse_into(line, env, depth, inherited, via, &mut scratch);
    out.alternatives.append(&mut scratch.commands);
    out.alternatives.append(&mut scratch.alternatives);
    out.redirects.append(&mut scratch.redirects);
}

/// Records `NAME=VALUE` statements (also after `export`, `declare`, `local`, `readonly`,
/// `typeset`); a command's own prefix assignments do not set the shell's variables.
fn record_vars(words: &[String], vars: &mut BTreeMap<String, String>) {
    let skip = usize::from(words.first().is_some_and(|w| {
        matches!(
            w.as_str(),
            "export" | "declare" | "local" | "readonly" | "typeset"
        )
    }));
    let rest = words.get(skip..).unwrap_or_default();
    if rest.is_empty() || !rest.iter().all(|w| is_assignment(w) || w.starts_with('-')) {
        return;
    }
    for w in rest {
        if let Some((name, value)) = w.split_once('=')
            && vars.len() < MAX_PARTS
        {
            vars.insert(name.trim_end_matches('+').to_owned(), value.to_owned());
        }
    }
}

/// `text` with `$NAME` and `${NAME}` (also `${NAME:-…}`) of the known `vars` replaced by their
/// values.
fn with_vars(text: &str, vars: &BTreeMap<String, String>) -> String {
    if vars.is_empty() {
        return text.to_owned();
    }
    let Ok(re) = regex::Regex::new(
        r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:[:]?[-=+?][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))",
    ) else {
        return text.to_owned();
    };
    re.replace_all(text, |c: &regex::Captures<'_>| {
        let name = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        vars.get(name).map_or_else(
            || c.get(0).map_or(String::new(), |m| m.as_str().to_owned()),
            |v| shell_words::quote(v).into_owned(),
        )
    })
    .into_owned()
}

/// What `echo`/`printf` with literal arguments print (to read a pipe into a shell or `xargs`).
fn printed_text(words: &[String]) -> Option<String> {
    let (exe, args) = words.split_first()?;
    match basename(exe).as_str() {
        "echo" => {
            let args: Vec<&String> = args
                .iter()
                .skip_while(|w| matches!(w.as_str(), "-n" | "-e" | "-E" | "-ne" | "-en"))
                .collect();
            let text = args
                .iter()
                .map(|w| w.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            Some(text.replace("\\n", "\n"))
        }
        "printf" => Some(
            args.iter()
                .filter(|w| w.as_str() != "--")
                .map(|w| w.replace("%s", " ").replace("\\n", "\n"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
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
    let mut printed: Option<String> = None;
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
                    // Variables the line set earlier, filled in as another reading.
                    let filled = with_vars(&seg.text, &out.vars);
                    if filled != seg.text {
                        alternative(&filled, env, depth + 1, inherited, via, out);
                    }
                }
                record_vars(&words, &mut out.vars);
                let here: Vec<String> = seg.here_strings.clone();
                let stdin = if seg.piped { printed.take() } else { None };
                printed = printed_text(&words);
                let ctx = Context {
                    depth,
                    caps,
                    via: via.to_vec(),
                    globbed: seg.glob,
                    stdin,
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
        name: "flock",
        value_opts: &["-w", "--wait", "--timeout", "-E", "--conflict-exit-code"],
        positional: 1,
        privileged: false,
    },
    Wrapper {
        name: "pkexec",
        value_opts: &["--user"],
        positional: 0,
        privileged: true,
    },
    Wrapper {
        name: "run0",
        value_opts: &[
            "-u",
            "--user",
            "-g",
            "--group",
            "-D",
            "--chdir",
            "--setenv",
            "--property",
            "--unit",
            "--description",
            "--slice",
            "--nice",
        ],
        positional: 0,
        privileged: true,
    },
    Wrapper {
        name: "systemd-run",
        value_opts: &[
            "-u",
            "--unit",
            "-p",
            "--property",
            "--uid",
            "--gid",
            "-E",
            "--setenv",
            "--working-directory",
            "-M",
            "--machine",
            "--description",
            "--slice",
        ],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "unshare",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "nsenter",
        value_opts: &[
            "-t", "--target", "-S", "--setuid", "-G", "--setgid", "-w", "--wd", "-r", "--root",
        ],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "firejail",
        value_opts: &["--profile", "--private", "--net"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "proxychains",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "proxychains4",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "torsocks",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "valgrind",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "caffeinate",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "prlimit",
        value_opts: &["-p", "--pid", "-o", "--output"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "wsl",
        value_opts: &["-d", "--distribution", "-u", "--user", "--cd"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "numactl",
        value_opts: &[],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "chpst",
        value_opts: &[
            "-u", "-U", "-e", "-/", "-n", "-l", "-L", "-m", "-d", "-o", "-p", "-f", "-c",
        ],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "cgexec",
        value_opts: &["-g"],
        positional: 0,
        privileged: false,
    },
    Wrapper {
        name: "trickle",
        value_opts: &["-d", "-u", "-w", "-t", "-l", "-n"],
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
    [".exe", ".cmd", ".bat", ".com"]
        .iter()
        .find_map(|ext| lower.strip_suffix(ext))
        .map_or(lower.clone(), str::to_owned)
}

/// The known executable a versioned name stands for (`terraform1.5`, `terraform_1.6.0`,
/// `kubectl-1.29`, `aws2`).
fn versioned(exe: &str, known: &[String]) -> Option<String> {
    known.iter().find_map(|k| {
        let rest = exe.strip_prefix(k.as_str())?;
        let rest = rest.trim_start_matches(['-', '_', '.', '@']);
        let rest = rest.strip_prefix('v').unwrap_or(rest);
        let version = !rest.is_empty()
            && rest.starts_with(|c: char| c.is_ascii_digit())
            && rest.chars().all(|c| c.is_ascii_digit() || c == '.');
        version.then(|| k.clone())
    })
}

/// `docker run [opts] IMAGE CMD…`, `docker exec [opts] CONTAINER CMD…` (podman, nerdctl too),
/// `kubectl exec … -- CMD…`: the command lines they may run in the container — `CMD…`, and
/// the image's own tool (`hashicorp/terraform apply` → `terraform apply`, `--entrypoint X`).
fn container_lines(words: &[String], known: &[String]) -> Vec<String> {
    const VALUE: &[&str] = &[
        "-v",
        "--volume",
        "-e",
        "--env",
        "-w",
        "--workdir",
        "--name",
        "--entrypoint",
        "-p",
        "--publish",
        "--network",
        "--net",
        "-u",
        "--user",
        "--env-file",
        "--mount",
        "--platform",
        "-l",
        "--label",
        "-h",
        "--hostname",
        "--cpus",
        "-m",
        "--memory",
        "--pull",
        "--restart",
        "--add-host",
        "--dns",
        "--device",
        "--cap-add",
        "--cap-drop",
        "--security-opt",
        "--volumes-from",
        "--ipc",
        "--pid",
        "--runtime",
        "--shm-size",
        "--ulimit",
        "--gpus",
    ];
    let exe = words.first().map(|w| basename(w)).unwrap_or_default();
    let sub = words.get(1).map(String::as_str).unwrap_or_default();
    let quoted = |ws: &[String]| shell_words::join(ws);
    if exe == "kubectl" || exe == "oc" {
        return match words.iter().position(|w| w == "--") {
            Some(k) if words.iter().any(|w| w == "exec") => vec![quoted(&words[k + 1..])],
            _ => Vec::new(),
        };
    }
    if !matches!(exe.as_str(), "docker" | "podman" | "nerdctl")
        || !matches!(sub, "run" | "exec" | "create")
    {
        return Vec::new();
    }
    let entrypoint = words.iter().enumerate().find_map(|(k, w)| {
        if w == "--entrypoint" {
            words.get(k + 1).cloned()
        } else {
            w.strip_prefix("--entrypoint=").map(str::to_owned)
        }
    });
    let at = skip_options(words, 2, VALUE, 0);
    let Some(image) = words.get(at) else {
        return Vec::new();
    };
    let rest = words.get(at + 1..).unwrap_or_default();
    let mut out = vec![quoted(rest)];
    let name = image.rsplit('/').next().unwrap_or(image);
    let name = name.split([':', '@']).next().unwrap_or(name).to_lowercase();
    let tools = known.iter().filter(|k| name.contains(k.as_str())).cloned();
    for tool in entrypoint.into_iter().chain(tools) {
        let mut line = vec![tool];
        line.extend(rest.iter().cloned());
        out.push(quoted(&line));
    }
    out
}

/// How many words an option takes: 2 when it (or the last letter of a short bundle, as getopt
/// reads `-iu root`) takes the next word as its value, else 1 (`--opt=value`, `-uroot`, flags).
fn option_width(w: &str, value_opts: &[&str]) -> usize {
    if value_opts.contains(&w) {
        return 2;
    }
    if w.starts_with("--") || !w.starts_with('-') {
        return 1;
    }
    for (k, c) in w.char_indices().skip(1) {
        let mut buf = [0u8; 4];
        let opt = format!("-{}", c.encode_utf8(&mut buf));
        if value_opts.contains(&opt.as_str()) {
            // The rest of the bundle is the value, or the next word when nothing is left.
            return if k + c.len_utf8() == w.len() { 2 } else { 1 };
        }
    }
    1
}

/// The body of `-c BODY` (`su`, `runuser`, `script`, `flock`): `-c`, a short bundle holding
/// `c` (`-lc`, `-qc`, `-cBODY`), `--command[=]`, `--session-command[=]`.
fn dash_c_body(words: &[String]) -> Option<String> {
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if w == "--" {
            return None;
        }
        for long in ["--command", "--session-command"] {
            if w == long {
                return words.get(i + 1).cloned();
            }
            if let Some(v) = w.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
                return Some(v.to_owned());
            }
        }
        if w.len() > 1
            && w.starts_with('-')
            && !w.starts_with("--")
            && let Some(k) = w.find('c')
        {
            return if k + 1 == w.len() {
                words.get(i + 1).cloned()
            } else {
                Some(w[k + 1..].to_owned())
            };
        }
        i += 1;
    }
    None
}

/// `ssh [options] HOST COMMAND…`: the remote command line, if any.
fn ssh_command(words: &[String]) -> Option<String> {
    const VALUE: &[&str] = &[
        "-B", "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o",
        "-p", "-Q", "-R", "-S", "-W", "-w",
    ];
    let at = skip_options(words, 1, VALUE, 1);
    let rest = words.get(at..)?;
    (!rest.is_empty()).then(|| rest.join(" "))
}

/// GNU `parallel [options] COMMAND… ::: ARGS…`: the command lines it runs (bounded).
fn parallel_lines(words: &[String]) -> Vec<String> {
    const VALUE: &[&str] = &[
        "-j",
        "--jobs",
        "-S",
        "--sshlogin",
        "-a",
        "--arg-file",
        "--delay",
        "--timeout",
        "-n",
        "-N",
        "-L",
        "-P",
        "--results",
        "--joblog",
        "-I",
        "--tagstring",
        "--colsep",
        "-C",
        "-d",
        "--delimiter",
        "-E",
        "--env",
        "--workdir",
        "--wd",
        "--halt",
        "--memfree",
        "--load",
    ];
    let at = skip_options(words, 1, VALUE, 0);
    let rest = words.get(at..).unwrap_or_default();
    let sep = rest
        .iter()
        .position(|w| w.starts_with(":::") || w == "::::")
        .unwrap_or(rest.len());
    let template = rest[..sep].join(" ");
    let args: Vec<&String> = rest[sep..]
        .iter()
        .filter(|w| !w.starts_with(":::") && w.as_str() != "::::")
        .take(16)
        .collect();
    if args.is_empty() {
        return vec![template];
    }
    args.into_iter()
        .map(|a| {
            if template.is_empty() {
                a.clone()
            } else if template.contains("{}") {
                template.replace("{}", &shell_words::quote(a))
            } else {
                format!("{template} {}", shell_words::quote(a))
            }
        })
        .collect()
}

/// `sh -c BODY NAME ARGS…`: the body with `$0`…`$9`, `${N}`, `$@`, `$*` filled in.
fn with_positionals(body: &str, args: &[String]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| shell_words::quote(a).into_owned())
        .collect();
    let all = quoted.get(1..).unwrap_or_default().join(" ");
    let mut out = body
        .replace("\"$@\"", &all)
        .replace("\"$*\"", &all)
        .replace("${@}", &all)
        .replace("${*}", &all)
        .replace("$@", &all)
        .replace("$*", &all);
    for (n, q) in quoted.iter().enumerate().take(10).rev() {
        out = out
            .replace(&format!("${{{n}}}"), q)
            .replace(&format!("${n}"), q);
    }
    out
}

/// Executables whose inline code or script the line does not show (`python -c`, `awk`, …).
fn is_interpreter(exe: &str) -> bool {
    const NAMES: &[&str] = &[
        "perl",
        "ruby",
        "node",
        "nodejs",
        "deno",
        "bun",
        "php",
        "lua",
        "luajit",
        "rscript",
        "osascript",
        "pwsh",
        "powershell",
        "tclsh",
        "wish",
        "expect",
        "awk",
        "gawk",
        "mawk",
        "nawk",
        "sed",
        "gsed",
        "jq",
        "groovy",
        "julia",
        "java",
        "jshell",
        "irb",
        "erl",
        "elixir",
        "swift",
        "busybox",
        "vim",
        "vi",
        "nvim",
        "emacs",
        "less",
        "more",
        "make",
        "gmake",
        "cmake",
        "just",
        "task",
        "rake",
        "npm",
        "yarn",
        "pnpm",
        "cargo",
        "go",
        "gdb",
        "source",
        ".",
        "exec",
        "trap",
        "sqlite3",
        "psql",
        "mysql",
        "ssh",
        "cmd",
        "sg",
    ];
    NAMES.contains(&exe)
        || exe.starts_with("python")
        || exe.starts_with("pypy")
        || exe.starts_with("perl")
        || exe.starts_with("ruby")
        || exe.starts_with("php")
        || SHELLS.contains(&exe)
}

/// Runners that run their first operand as a command: `npx terraform apply`, `pipx run …`.
/// (name, sub-command word it needs or "", value options).
const RUNNERS: &[(&str, &str, &[&str])] = &[
    ("npx", "", &["-p", "--package", "-c", "--call"]),
    ("pnpx", "", &[]),
    ("bunx", "", &["-p", "--package"]),
    ("uvx", "", &["--from", "--with", "-p", "--python"]),
    ("pipx", "run", &["--spec", "--python"]),
    (
        "uv",
        "run",
        &["--with", "-p", "--python", "--project", "--directory"],
    ),
    ("poetry", "run", &[]),
    ("pdm", "run", &[]),
    ("hatch", "run", &[]),
    ("pnpm", "exec", &[]),
    ("pnpm", "dlx", &[]),
    ("yarn", "exec", &[]),
    ("yarn", "dlx", &[]),
    ("npm", "exec", &["-c", "--call", "-p", "--package"]),
    ("bundle", "exec", &[]),
    ("mise", "exec", &[]),
    ("mise", "x", &[]),
    ("asdf", "exec", &[]),
    ("direnv", "exec", &[]),
    ("nix", "run", &[]),
    ("devbox", "run", &[]),
    ("microk8s", "kubectl", &[]),
    ("k3s", "kubectl", &[]),
    ("minikube", "kubectl", &[]),
];

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
        i += option_width(w, value_opts);
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
    /// Known text on its standard input (`echo 'terraform apply' | sh`).
    stdin: Option<String>,
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
        mut stdin,
    } = ctx;
    let mut stripped = false;
    let mut expansions = 0usize;
    // `NAME=value` prefixes: `GIT_SSH_COMMAND='…' git fetch`, `GIT_CONFIG_KEY_0=alias.x`.
    let mut assigned: Vec<String> = Vec::new();
    // Bounded: every round removes at least one word, or expands one of at most 8 aliases.
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
            let keyword = words.remove(0);
            // `function NAME {`, `coproc NAME {`: the name is not a command.
            let named = keyword == "function"
                || (keyword == "coproc" && words.get(1).is_some_and(|w| w == "{"));
            if named && !words.is_empty() {
                words.remove(0);
            }
            continue;
        }
        if let Some(value) = out.aliases.get(first)
            && expansions < MAX_DEPTH
        {
            expansions += 1;
            let Ok(mut expanded) = shell_words::split(value) else {
                break;
            };
            expanded.extend(words.drain(1..));
            words = expanded;
            via.push("alias".to_owned());
            continue;
        }
        if is_assignment(first) {
            caps.push(Cap::Environment);
            stripped = true;
            assigned.push(words.remove(0));
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
        if matches!(exe.as_str(), "su" | "runuser" | "script" | "flock")
            && let Some(body) = dash_c_body(&words)
        {
            if matches!(exe.as_str(), "su" | "runuser") {
                caps.push(Cap::Privileged(exe.clone()));
            }
            via.push(exe.clone());
            parse_into(&body, env, depth + 1, &caps, &via, out);
            return;
        }
        // `cmd /c BODY`, `cmd /k BODY` (Windows).
        if exe == "cmd"
            && let Some(k) = words
                .iter()
                .position(|w| w.eq_ignore_ascii_case("/c") || w.eq_ignore_ascii_case("/k"))
        {
            via.push(exe.clone());
            let body = words.get(k + 1..).unwrap_or_default().join(" ");
            parse_into(&body, env, depth + 1, &caps, &via, out);
            return;
        }
        if exe == "ssh"
            && let Some(remote) = ssh_command(&words)
        {
            // The remote command is still the command: `ssh host terraform apply`.
            via.push(exe.clone());
            parse_into(&remote, env, depth + 1, &caps, &via, out);
            return;
        }
        if exe == "parallel" {
            via.push(exe.clone());
            for line in parallel_lines(&words) {
                parse_into(&line, env, depth + 1, &caps, &via, out);
            }
            return;
        }
        if let Some((_, sub, value_opts)) = RUNNERS.iter().find(|(name, sub, _)| {
            *name == exe && (sub.is_empty() || words.get(1).is_some_and(|w| w == sub))
        }) {
            via.push(exe.clone());
            // `microk8s kubectl …`: the sub-command is the command.
            let from = if sub.is_empty() || *sub == "kubectl" {
                1
            } else {
                2
            };
            let at = skip_options(&words, from, value_opts, 0);
            words.drain(..at.min(words.len()));
            stripped = true;
            continue;
        }
        if let Some(w) = WRAPPERS.iter().find(|w| w.name == exe) {
            if w.privileged {
                caps.push(Cap::Privileged(exe.clone()));
            }
            via.push(exe.clone());
            let at = skip_options(&words, 1, w.value_opts, w.positional);
            words.drain(..at.min(words.len()));
            // `echo apply | xargs terraform`: xargs appends what it reads.
            if exe == "xargs"
                && let Some(text) = stdin.take()
                && let Ok(more) = shell_words::split(&text)
            {
                words.extend(more);
            }
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
        }
        if SHELLS.contains(&exe.as_str()) {
            let mut via = via.clone();
            via.push(exe.clone());
            match shell_body(&words) {
                Some(Some(body)) => {
                    parse_into(&body, env, depth + 1, &caps, &via, out);
                    // `sh -c 'terraform "$@"' _ apply`: also read with the arguments in place.
                    if body.contains('$') {
                        let at = words.iter().position(|w| *w == body).unwrap_or(words.len());
                        let args = words.get(at + 1..).unwrap_or_default();
                        let filled = with_positionals(&body, args);
                        if filled != body {
                            alternative(&filled, env, depth + 1, &caps, &via, out);
                        }
                    }
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
                    // `echo 'terraform apply' | sh`: a shell without a script reads its input.
                    let script = words.iter().skip(1).any(|w| !w.starts_with(['-', '+']))
                        && !words.iter().any(|w| w == "-s");
                    if let Some(text) = stdin.take()
                        && !script
                    {
                        parse_into(&text, env, depth + 1, &caps, &via, out);
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
                            stdin: None,
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
    if !env.known.contains(&exe)
        && let Some(k) = versioned(&exe, env.known)
    {
        let k = env.aliases.get(&k).cloned().unwrap_or(k);
        exes.push(k);
    }
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
    if exe == "alias" {
        for a in &args {
            if let Some((name, value)) = a.split_once('=')
                && out.aliases.len() < MAX_PARTS
            {
                out.aliases.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    if exe == "git" {
        let mut settings = config_from_env(&assigned);
        settings.extend(args.iter().cloned());
        git_alias_readings(&settings, &args, env, depth, &caps, &via, out);
    }
    // Values of prefix assignments that name a program (`PAGER`, `*_COMMAND`, `EDITOR`, …).
    for a in &assigned {
        if let Some((name, value)) = a.split_once('=') {
            let name = name.to_uppercase();
            let runs = [
                "COMMAND", "PAGER", "EDITOR", "SHELL", "PROGRAM", "DIFF", "ENV", "SSH", "EXEC",
            ]
            .iter()
            .any(|k| name.contains(k))
                || name == "PROMPT_COMMAND"
                || name.starts_with("LESS");
            if runs && !value.is_empty() {
                let mut via = via.clone();
                via.push(format!("${name}"));
                alternative(value, env, depth + 1, &caps, &via, out);
            }
        }
    }
    let container = container_lines(&words, env.known);
    if !container.is_empty() {
        let mut via = via.clone();
        via.push(exe.clone());
        for line in container.iter().take(8) {
            alternative(line, env, depth + 1, &caps, &via, out);
        }
    }
    let mut candidates: Vec<String> = Vec::new();
    let mut canonical: Option<Vec<String>> = None;
    for exe in &exes {
        for variant in arg_variants(exe, &args) {
            let mut argv = vec![exe.clone()];
            argv.extend(variant);
            if canonical.is_none() {
                canonical = Some(argv.clone());
            }
            for extra in git_push_variants(&argv)
                .into_iter()
                .chain(equivalent_variants(&argv))
            {
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
    // Through a wrapper whose options are not all known, the command may start later
    // (`systemd-run --unit x terraform apply`): searched too.
    let opaque = is_interpreter(&exe) || caps.contains(&Cap::Dynamic) || !via.is_empty();
    out.commands.push(Command {
        argv,
        candidates,
        caps,
        raw: words,
        via,
        globbed,
        opaque,
    });
}

/// `git -c alias.NAME=VALUE NAME …` also read as `git VALUE …` (or the shell command of a
/// `!VALUE`), as an alternative.
fn git_alias_readings(
    settings: &[String],
    args: &[String],
    env: &Env<'_>,
    depth: usize,
    caps: &[Cap],
    via: &[String],
    out: &mut Parsed,
) {
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while let Some(w) = settings.get(i) {
        if !w.starts_with('-') {
            break;
        }
        let setting = if w == "-c" {
            i += 1;
            settings.get(i).cloned()
        } else {
            w.strip_prefix("-c").map(str::to_owned)
        };
        if let Some(setting) = setting
            && let Some((key, value)) = setting.split_once('=')
        {
            let key = key.to_lowercase();
            if let Some(name) = key.strip_prefix("alias.") {
                aliases.push((name.to_owned(), value.to_owned()));
            } else if [
                "pager",
                "editor",
                "command",
                "program",
                "helper",
                "external",
                "fsmonitor",
                "hook",
                "textconv",
            ]
            .iter()
            .any(|k| key.ends_with(k))
                || key.starts_with("pager.")
            {
                // `core.sshCommand`, `core.pager`, `diff.external`, …: a program git runs.
                let mut via = via.to_vec();
                via.push(format!("git -c {key}"));
                alternative(
                    value.trim_start_matches('!'),
                    env,
                    depth + 1,
                    caps,
                    &via,
                    out,
                );
            }
        }
        i += 1;
    }
    if aliases.is_empty() {
        return;
    }
    for variant in arg_variants("git", args) {
        let Some((sub, rest)) = variant.split_first() else {
            continue;
        };
        let rest = rest
            .iter()
            .map(|w| shell_words::quote(w).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        for (name, value) in &aliases {
            if name == &sub.to_lowercase() {
                let line = match value.strip_prefix('!') {
                    Some(shell) => format!("{shell} {rest}"),
                    None => format!("git {value} {rest}"),
                };
                let mut via = via.to_vec();
                via.push("git alias".to_owned());
                alternative(&line, env, depth + 1, caps, &via, out);
            }
        }
    }
}

/// `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n` and `GIT_CONFIG_PARAMETERS`
/// assignments as `-c key=value` options.
fn config_from_env(assigned: &[String]) -> Vec<String> {
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for a in assigned {
        let Some((name, value)) = a.split_once('=') else {
            continue;
        };
        if let Some(n) = name.strip_prefix("GIT_CONFIG_KEY_") {
            keys.insert(n.to_owned(), value.to_owned());
        } else if let Some(n) = name.strip_prefix("GIT_CONFIG_VALUE_") {
            values.insert(n.to_owned(), value.to_owned());
        } else if name == "GIT_CONFIG_PARAMETERS" {
            for p in shell_words::split(value).unwrap_or_default() {
                out.push("-c".to_owned());
                out.push(p);
            }
        }
    }
    for (n, key) in keys {
        out.push("-c".to_owned());
        out.push(format!(
            "{key}={}",
            values.get(&n).cloned().unwrap_or_default()
        ));
    }
    out
}

/// Other spellings of the same action: `terraform destroy` is `terraform apply -destroy`;
/// gcloud's release tracks (`gcloud beta …`) run the same command.
fn equivalent_variants(argv: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    match (
        argv.first().map(String::as_str),
        argv.get(1).map(String::as_str),
    ) {
        (Some("terraform"), Some(sub)) if sub.eq_ignore_ascii_case("destroy") => {
            let mut v = vec![
                "terraform".to_owned(),
                "apply".to_owned(),
                "-destroy".to_owned(),
            ];
            v.extend(argv[2..].iter().cloned());
            out.push(v);
        }
        (Some("terraform"), Some(sub))
            if ["run-all", "run", "apply-all", "destroy-all"]
                .contains(&sub.to_lowercase().as_str()) =>
        {
            // terragrunt: `run-all apply`, `run --all apply`, `apply-all`, `destroy-all`.
            let rest: Vec<String> = argv[2..]
                .iter()
                .filter(|w| !w.starts_with('-') || w.as_str() == "-destroy")
                .cloned()
                .collect();
            let mut v = vec!["terraform".to_owned()];
            match sub.to_lowercase().as_str() {
                "apply-all" => v.push("apply".to_owned()),
                "destroy-all" => {
                    v.push("apply".to_owned());
                    v.push("-destroy".to_owned());
                }
                _ => {}
            }
            v.extend(rest);
            out.extend(equivalent_variants(&v));
            out.push(v);
        }
        (Some("gcloud"), Some(track))
            if ["alpha", "beta", "preview"].contains(&track.to_lowercase().as_str()) =>
        {
            let mut v = vec!["gcloud".to_owned()];
            v.extend(argv[2..].iter().cloned());
            out.push(v);
        }
        _ => {}
    }
    out
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
    let mut repo: Option<String> = None;
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
            if w == "--repo" {
                repo = argv.get(i + 1).cloned();
            } else if let Some(r) = w.strip_prefix("--repo=") {
                repo = Some(r.to_owned());
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
    // `--repo=R` names the remote; then every positional word is a refspec.
    let (remote, specs) = match (repo, positional.split_first()) {
        (Some(r), _) => (r, positional.clone()),
        (None, Some((r, specs))) => (r.clone(), specs.to_vec()),
        (None, None) => ("origin".to_owned(), Vec::new()),
    };
    let mut dsts: Vec<String> = specs
        .iter()
        .map(|spec| {
            let spec = spec.trim_start_matches('+');
            let dst = spec.rsplit(':').next().unwrap_or(spec);
            dst.trim_start_matches("refs/heads/").to_owned()
        })
        .collect();
    // No refspec pushes the current branch, as does `HEAD`/`@`: it may be `main`.
    let current = specs.is_empty()
        || dsts
            .iter()
            .any(|d| d.is_empty() || d.eq_ignore_ascii_case("head") || d == "@");
    if all || current {
        dsts.push("main".to_owned());
        dsts.push("master".to_owned());
    }
    // Any remote may be the protected repository (`upstream`, a URL): also read as `origin`.
    let mut remotes = vec![remote];
    if remotes[0] != "origin" {
        remotes.push("origin".to_owned());
    }
    let mut out = Vec::new();
    for r in &remotes {
        for d in &dsts {
            out.push(vec!["git".into(), "push".into(), r.clone(), d.clone()]);
        }
    }
    out
}

/// One scanned command: its text without redirections, the redirections, flags.
#[derive(Debug, Default)]
struct Segment {
    /// Its standard input is the previous command's output (`a | b`).
    piped: bool,
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

#[allow(clippy::many_single_char_names)]
/// The text of a `$'…'` string starting at `start` (after the quote) and the index of its
/// closing quote: `\n`, `\t`, `\xHH`, `\NNN` (octal), `\uHHHH`, `\cX`, … decoded.
fn ansi_c(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut i = start;
    loop {
        let c = *chars.get(i)?;
        match c {
            '\'' => return Some((out, i)),
            '\\' => {
                let e = *chars.get(i + 1)?;
                i += 2;
                let digits = |i: &mut usize, radix: u32, max: usize| {
                    let mut v = 0u32;
                    let mut n = 0;
                    while n < max {
                        let Some(d) = chars.get(*i).and_then(|c| c.to_digit(radix)) else {
                            break;
                        };
                        v = v.saturating_mul(radix).saturating_add(d);
                        *i += 1;
                        n += 1;
                    }
                    (n > 0).then_some(v)
                };
                let decoded = match e {
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'e' | 'E' => Some('\x1b'),
                    'f' => Some('\x0c'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\x0b'),
                    'x' => digits(&mut i, 16, 2).and_then(char::from_u32),
                    'u' => digits(&mut i, 16, 4).and_then(char::from_u32),
                    'U' => digits(&mut i, 16, 8).and_then(char::from_u32),
                    'c' => {
                        let x = chars.get(i).copied();
                        i += 1;
                        x.and_then(|x| char::from_u32(u32::from(x) & 0x1f))
                    }
                    '0'..='7' => {
                        i -= 1;
                        digits(&mut i, 8, 3).and_then(char::from_u32)
                    }
                    other => Some(other),
                };
                if let Some(d) = decoded {
                    out.push(d);
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
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
            '$' if chars.get(i + 1) == Some(&'\'') => {
                // ANSI-C quoting: decoded, then kept single-quoted for `shell-words`.
                let Some((decoded, end)) = ansi_c(&chars, i + 2) else {
                    scan.error = Some("unbalanced $' quote".to_owned());
                    break;
                };
                seg.dynamic = true;
                seg.text.push('\'');
                seg.text.push_str(&decoded.replace('\'', "'\\''"));
                seg.text.push('\'');
                i = end + 1;
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
                let pipe = c == '|' && chars.get(i + 1) != Some(&'|');
                scan.segments.push(std::mem::take(&mut seg));
                seg.piped = pipe;
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

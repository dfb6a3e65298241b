//! Builds the directive tree of an nginx configuration, following `include`
//! the way nginx does, so every directive keeps the file and line it was
//! written on.
//!
//! Relative include paths resolve against the directory of the main
//! configuration file: that is nginx's "conf prefix" (`cycle->conf_prefix`,
//! set from the `-c` file, or from the compiled `--conf-path` without `-c`).
//! A pattern with `*`, `?` or `[` is a glob, expanded sorted and allowed to
//! match nothing; any other missing target is an error naming the `include`.
//! Files are host data, so reading is bounded (files, bytes, nesting) and an
//! include cycle, which would make nginx recurse until it fails, is an error.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::lexer::{Token, TokenKind, tokenize};
use super::source::{Disk, Dump, Source};

/// One directive: `name args...;` or `name args... { block }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Directive {
    /// The first word, e.g. `proxy_pass`.
    pub name: String,
    /// The remaining words, unquoted and unescaped. For `*_by_lua_block` the
    /// last argument is the raw Lua body.
    pub args: Vec<String>,
    /// The file the directive is written in.
    pub file: PathBuf,
    /// The 1-based line of its name.
    pub line: usize,
    /// The directives inside `{ }`, or None for a simple directive.
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    /// The i-th argument, if present.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }

    /// The directives of the block (empty for a simple directive).
    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// A whole configuration with includes spliced in place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Config {
    /// The main configuration file.
    pub main: PathBuf,
    /// Every file read, in the order first read (the main file first).
    pub files: Vec<PathBuf>,
    /// The top-level (main context) directives.
    pub directives: Vec<Directive>,
}

impl Config {
    /// Prepends the directives given with `nginx -g`, which nginx reads before
    /// the configuration file; they are attributed to the file "command line".
    pub fn with_globals(mut self, globals: &str) -> Result<Config, ConfError> {
        let name = Path::new("command line");
        let mut parsed = parse_str(globals, name)?.directives;
        parsed.append(&mut self.directives);
        self.directives = parsed;
        Ok(self)
    }
}

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    /// A file could not be read.
    #[error("cannot read {}: {source}; check the path and that you may read it (run as root?)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The text is not valid nginx syntax.
    #[error("{}:{line}: {message}; `nginx -t` reports the same", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The 1-based line.
        line: usize,
        /// nginx's wording of the problem.
        message: String,
    },
    /// The file ends inside a block: nginx names the end of the file, so this
    /// also says which blocks are still open and where each was opened.
    #[error("{}:{line}: unexpected end of file, expecting \"}}\": {}; add the missing \"}}\" where the block should end", file.display(), open_blocks(open))]
    Unclosed {
        /// The file.
        file: PathBuf,
        /// Its end, as nginx counts lines (one more than the newlines read).
        line: usize,
        /// The blocks left open in that file, innermost first.
        open: Vec<OpenBlock>,
    },
    /// An `include` without wildcards names a file that does not exist.
    #[error("{}:{line}: included file {} does not exist; nginx will refuse this configuration", file.display(), target.display())]
    MissingInclude {
        /// File holding the `include`.
        file: PathBuf,
        /// Line of the `include`.
        line: usize,
        /// The resolved target.
        target: PathBuf,
    },
    /// An include pattern could not be used.
    #[error("{}:{line}: bad include pattern {pattern:?}: {reason}", file.display())]
    BadPattern {
        /// File holding the `include`.
        file: PathBuf,
        /// Line of the `include`.
        line: usize,
        /// The resolved pattern.
        pattern: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A file includes itself, directly or through others.
    #[error("{}:{line}: {} is already being read (include cycle); nginx would recurse until it fails", file.display(), target.display())]
    IncludeCycle {
        /// File holding the `include`.
        file: PathBuf,
        /// Line of the `include`.
        line: usize,
        /// The file included again.
        target: PathBuf,
    },
    /// A safety bound was exceeded.
    #[error("{}:{line}: configuration too large: more than {limit} {what}; pass a smaller configuration with --conf", file.display())]
    TooLarge {
        /// File being read when the bound was hit.
        file: PathBuf,
        /// Line being read.
        line: usize,
        /// What was counted.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// `parse_dump` was given text without `# configuration file` lines.
    #[error("not `nginx -T` output: no \"# configuration file PATH:\" line found")]
    NotADump,
}

/// A block that was opened and not yet closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBlock {
    /// The directive that opened it as written, e.g. `location /api/`
    /// (made safe to print and shortened).
    pub directive: String,
    /// The line of its name.
    pub line: usize,
}

impl OpenBlock {
    fn of(words: &[(String, usize)]) -> OpenBlock {
        let text: Vec<&str> = words.iter().map(|(w, _)| w.as_str()).collect();
        let text = crate::sanitize::for_terminal(text.join(" ").as_bytes());
        OpenBlock {
            directive: crate::sanitize::truncate(&text, 60),
            line: words.first().map_or(0, |(_, line)| *line),
        }
    }
}

/// `"location / {" opened at line 3 is never closed`, or for several
/// `"server {" opened at line 2 and "http {" at line 1 are never closed`.
fn open_blocks(open: &[OpenBlock]) -> String {
    let named: Vec<String> = open
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let at = if i == 0 { "opened at line" } else { "at line" };
            format!("\"{} {{\" {at} {}", b.directive, b.line)
        })
        .collect();
    match named.as_slice() {
        [] => "a block is never closed".to_owned(),
        [one] => format!("{one} is never closed"),
        [rest @ .., last] => format!("{} and {last} are never closed", rest.join(", ")),
    }
}

/// Most distinct files read.
pub const MAX_FILES: u64 = 1000;
/// Most bytes read over all distinct files.
pub const MAX_BYTES: u64 = 16 << 20;
/// Most bytes parsed counting every inclusion (a file included by many
/// servers is parsed many times); stops exponential include fan-out.
pub const MAX_EXPANDED_BYTES: u64 = 64 << 20;
/// Deepest nesting of blocks and includes together.
pub const MAX_DEPTH: u64 = 100;

/// Reads and parses a configuration from disk, following includes. Give an
/// absolute `main`: a relative one makes includes relative to the current directory.
pub fn parse_file(main: &Path) -> Result<Config, ConfError> {
    parse_with(&Disk, main)
}

/// Parses the standard output of `nginx -T`: the first dumped file is the main
/// one, and includes resolve against the other dumped files.
pub fn parse_dump(text: &str) -> Result<Config, ConfError> {
    let dump = Dump::split(text).ok_or(ConfError::NotADump)?;
    let main = dump.order.first().cloned().ok_or(ConfError::NotADump)?;
    parse_with(&dump, &main)
}

/// Parses configuration text held in memory as if it were the file `name`.
/// Only wildcard includes are allowed (and match nothing): there are no other files.
pub fn parse_str(text: &str, name: &Path) -> Result<Config, ConfError> {
    parse_with(&Dump::single(name, text), name)
}

fn parse_with(source: &dyn Source, main: &Path) -> Result<Config, ConfError> {
    let mut loader = Loader {
        source,
        conf_dir: main.parent().map(Path::to_path_buf).unwrap_or_default(),
        reading: Vec::new(),
        seen: HashSet::new(),
        files: Vec::new(),
        bytes: 0,
        expanded: 0,
    };
    let directives = loader.load(main, None, 0)?;
    Ok(Config {
        main: main.to_path_buf(),
        files: loader.files,
        directives,
    })
}

struct Loader<'a> {
    source: &'a dyn Source,
    conf_dir: PathBuf,
    /// Identities of the files being read now (the include stack).
    reading: Vec<PathBuf>,
    /// Identities of every file read so far.
    seen: HashSet<PathBuf>,
    files: Vec<PathBuf>,
    bytes: u64,
    expanded: u64,
}

/// The file being read: where it ends and the blocks open in it now.
struct Reading<'p> {
    path: &'p Path,
    end_line: usize,
    open: Vec<OpenBlock>,
}

/// Where an include was written: (file, line).
type Origin<'p> = Option<(&'p Path, usize)>;

impl Loader<'_> {
    fn load(&mut self, path: &Path, from: Origin, depth: u64) -> Result<Vec<Directive>, ConfError> {
        let (file, line) = from.unwrap_or((path, 0));
        let too_large = |what, limit| ConfError::TooLarge {
            file: file.to_path_buf(),
            line,
            what,
            limit,
        };
        let id = self.source.identity(path);
        if self.reading.contains(&id) {
            return Err(ConfError::IncludeCycle {
                file: file.to_path_buf(),
                line,
                target: path.to_path_buf(),
            });
        }
        let fresh = !self.seen.contains(&id);
        if fresh && self.seen.len() as u64 >= MAX_FILES {
            return Err(too_large("files", MAX_FILES));
        }
        // A file already read passed the bound once; re-read it whole.
        let budget = if fresh {
            MAX_BYTES.saturating_sub(self.bytes)
        } else {
            MAX_BYTES
        };
        let text = self
            .source
            .read(path, budget)
            .map_err(|source| self.read_error(path, from, source))?;
        let size = text.len() as u64;
        if size > budget {
            return Err(too_large("bytes of configuration", MAX_BYTES));
        }
        self.expanded += size;
        if self.expanded > MAX_EXPANDED_BYTES {
            return Err(too_large(
                "bytes after expanding includes",
                MAX_EXPANDED_BYTES,
            ));
        }
        if fresh {
            self.bytes += size;
            self.seen.insert(id.clone());
            self.files.push(path.to_path_buf());
        }
        let tokens = tokenize(&text).map_err(|e| syntax(path, e.line, e.message))?;
        self.reading.push(id);
        let mut file = Reading {
            path,
            // nginx counts lines by the newlines it has read.
            end_line: memchr::memchr_iter(b'\n', &text).count() + 1,
            open: Vec::new(),
        };
        let result = self.block(&mut tokens.into_iter(), &mut file, depth);
        self.reading.pop();
        result
    }

    fn read_error(&self, path: &Path, from: Origin, source: std::io::Error) -> ConfError {
        match from {
            Some((file, line)) if source.kind() == std::io::ErrorKind::NotFound => {
                ConfError::MissingInclude {
                    file: file.to_path_buf(),
                    line,
                    target: path.to_path_buf(),
                }
            }
            _ => ConfError::Read {
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// Builds the directives up to the `}` closing the innermost block open
    /// in `file` (or up to the end of the file when none is open).
    fn block(
        &mut self,
        tokens: &mut std::vec::IntoIter<Token>,
        file: &mut Reading,
        depth: u64,
    ) -> Result<Vec<Directive>, ConfError> {
        let mut out = Vec::new();
        let mut words: Vec<(String, usize)> = Vec::new();
        while let Some(Token { kind, line }) = tokens.next() {
            match kind {
                TokenKind::Word(w) => words.push((w, line)),
                TokenKind::End => {
                    let d = directive(std::mem::take(&mut words), file.path, None)?;
                    if d.name == "include" {
                        out.extend(self.include(&d, depth)?);
                    } else {
                        out.push(d);
                    }
                }
                TokenKind::Opaque(body) => {
                    words.push((body, line));
                    out.push(directive(std::mem::take(&mut words), file.path, None)?);
                }
                TokenKind::BlockStart => {
                    if depth + 1 > MAX_DEPTH {
                        return Err(ConfError::TooLarge {
                            file: file.path.to_path_buf(),
                            line,
                            what: "levels of nested blocks and includes",
                            limit: MAX_DEPTH,
                        });
                    }
                    file.open.push(OpenBlock::of(&words));
                    let children = self.block(tokens, file, depth + 1)?;
                    file.open.pop();
                    out.push(directive(
                        std::mem::take(&mut words),
                        file.path,
                        Some(children),
                    )?);
                }
                TokenKind::BlockEnd if !file.open.is_empty() => return Ok(out),
                TokenKind::BlockEnd => return Err(syntax(file.path, line, "unexpected \"}\"")),
            }
        }
        if !file.open.is_empty() {
            return Err(ConfError::Unclosed {
                file: file.path.to_path_buf(),
                line: file.end_line,
                open: file.open.iter().rev().cloned().collect(),
            });
        }
        Ok(out)
    }

    fn include(&mut self, d: &Directive, depth: u64) -> Result<Vec<Directive>, ConfError> {
        let [target] = d.args.as_slice() else {
            return Err(syntax(
                &d.file,
                d.line,
                "invalid number of arguments in \"include\" directive",
            ));
        };
        let path = self.conf_dir.join(target);
        let from = Some((d.file.as_path(), d.line));
        if !target.contains(['*', '?', '[']) {
            return self.load(&path, from, depth + 1);
        }
        let pattern = path.to_string_lossy().into_owned();
        let matches = self
            .source
            .glob(&pattern)
            .map_err(|reason| ConfError::BadPattern {
                file: d.file.clone(),
                line: d.line,
                pattern,
                reason,
            })?;
        let mut out = Vec::new();
        for file in matches {
            out.extend(self.load(&file, from, depth + 1)?);
        }
        Ok(out)
    }
}

fn syntax(file: &Path, line: usize, message: impl Into<String>) -> ConfError {
    ConfError::Syntax {
        file: file.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn directive(
    words: Vec<(String, usize)>,
    file: &Path,
    block: Option<Vec<Directive>>,
) -> Result<Directive, ConfError> {
    let mut words = words.into_iter();
    // The lexer never ends a statement without a word; stay safe regardless.
    let Some((name, line)) = words.next() else {
        return Err(syntax(file, 0, "directive without a name"));
    };
    Ok(Directive {
        name,
        args: words.map(|(w, _)| w).collect(),
        file: file.to_path_buf(),
        line,
        block,
    })
}

#[cfg(test)]
mod tests;

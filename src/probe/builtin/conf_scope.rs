//! Directives in effect where a pass directive is written, read from the
//! configuration's tree: the `resolver` a location inherits from its
//! server or `http {}`, an `upstream {}` block and what it holds. The model
//! keeps what every diagnosis needs; the few directives only one fix needs
//! are looked up here, with the file:line a fix edits.

use std::collections::BTreeMap;
use std::path::Path;

use crate::nginx::{Config, Directive};

/// [`path_to`] the pass directive a built-in's `file` and `line`
/// parameters name.
pub fn pass_path<'a>(
    cfg: &'a Config,
    params: &BTreeMap<String, String>,
) -> Option<Vec<&'a Directive>> {
    let line = params.get("line")?.parse().ok()?;
    path_to(cfg, Path::new(params.get("file")?), line)
}

/// The blocks enclosing the directive written at `file:line`, outermost
/// first, ending with that directive itself (the innermost one, when a
/// block and its directives share the line).
pub fn path_to<'a>(cfg: &'a Config, file: &Path, line: usize) -> Option<Vec<&'a Directive>> {
    fn walk<'a>(
        list: &'a [Directive],
        file: &Path,
        line: usize,
        path: &mut Vec<&'a Directive>,
    ) -> bool {
        for d in list {
            path.push(d);
            if walk(d.children(), file, line, path) || (d.file == file && d.line == line) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    walk(&cfg.directives, file, line, &mut path).then_some(path)
}

/// The directive `name` in effect for the last of `path`: written in the
/// innermost block that has one (nginx's inheritance for `resolver`).
pub fn in_effect<'a>(cfg: &'a Config, path: &[&'a Directive], name: &str) -> Option<&'a Directive> {
    let blocks = path[..path.len().saturating_sub(1)].iter().rev();
    blocks
        .map(|b| b.children())
        .chain(std::iter::once(cfg.directives.as_slice()))
        .find_map(|list| list.iter().find(|d| d.name == name))
}

/// The `upstream NAME {}` block.
pub fn upstream<'a>(cfg: &'a Config, name: &str) -> Option<&'a Directive> {
    let http = cfg.directives.iter().filter(|d| d.name == "http");
    http.flat_map(Directive::children)
        .find(|d| d.name == "upstream" && d.arg(0) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::parse_str;

    const CONF: &str = "http {
    resolver 10.0.0.2;
    upstream app { server app:80; keepalive 8; }
    server {
        resolver 10.0.0.3 valid=5s;
        location / { proxy_pass http://$h; }
        location /b { location /b/c { proxy_pass http://x; } }
    }
    server { location / { proxy_pass http://y; } }
}
";

    fn cfg() -> Config {
        parse_str(CONF, Path::new("/n.conf")).unwrap()
    }

    #[test]
    fn the_innermost_resolver_is_in_effect() {
        let cfg = cfg();
        let path = path_to(&cfg, Path::new("/n.conf"), 6).unwrap();
        assert_eq!(path.last().unwrap().name, "proxy_pass");
        let pass = path_to(&cfg, Path::new("/n.conf"), 7).unwrap();
        let r = in_effect(&cfg, &pass, "resolver").unwrap();
        assert_eq!((r.line, r.args.join(" ")), (5, "10.0.0.3 valid=5s".into()));
        let other = path_to(&cfg, Path::new("/n.conf"), 9).unwrap();
        assert_eq!(in_effect(&cfg, &other, "resolver").unwrap().line, 2);
    }

    #[test]
    fn an_upstream_block_is_found_by_name() {
        let cfg = cfg();
        assert_eq!(upstream(&cfg, "app").map(|d| d.line), Some(3));
        assert!(upstream(&cfg, "x").is_none());
    }
}

//! The words a cause doc's command uses for the failing address, filled in
//! from the line.
//!
//! `rules/80-causes.yaml` writes commands as a person types them, with
//! placeholder words where the address goes (`ss -Htlnp 'sport = :PORT'`).
//! The values come from a hostile line, so only those that cannot change
//! what a pasted command does are used; anything else leaves the word in
//! place for the reader to replace.

use crate::logs::{ErrorLine, UpstreamAddr};
use crate::shell;

/// The words a cause doc's command may use for the failing address (see
/// `rules/80-causes.yaml`), with the values this line gives them. Only
/// values that cannot change a shell command's meaning are filled in: IP
/// literals, port numbers, and names and paths of plain characters.
#[derive(Debug, Default)]
pub struct Tokens {
    ip: Option<String>,
    port: Option<String>,
    peer: Option<String>,
    socket: Option<String>,
    group: Option<String>,
    name: Option<String>,
    file: Option<String>,
    line: Option<String>,
}

impl Tokens {
    /// The values `line` gives the tokens.
    pub fn of(line: &ErrorLine) -> Tokens {
        let mut tokens = Tokens {
            name: resolved_name(&line.message)
                .filter(|n| is_plain(n, "-."))
                .map(str::to_owned),
            ..Tokens::default()
        };
        if let Some(at) = line
            .config_location
            .as_ref()
            .filter(|c| is_plain(&c.file, "/._+@-"))
        {
            tokens.file = Some(at.file.clone());
            tokens.line = Some(at.line.to_string());
        }
        match line.upstream_ref().map(|u| u.address) {
            Some(peer @ UpstreamAddr::Tcp { host, port }) => {
                tokens.ip = Some(host.to_string());
                tokens.port = Some(port.to_string());
                tokens.peer = Some(peer.to_string());
            }
            Some(UpstreamAddr::Unix(path)) if is_plain(&path, "/._@+-") => {
                tokens.socket = Some(path);
            }
            Some(UpstreamAddr::Group(group)) if is_plain(&group, "-._") => {
                tokens.group = Some(group);
            }
            _ => {}
        }
        tokens
    }

    fn value(&self, word: &str) -> Option<&str> {
        let slot = match word {
            "IP" => &self.ip,
            "PORT" => &self.port,
            "PEER" => &self.peer,
            "SOCKET" => &self.socket,
            "GROUP" => &self.group,
            "NAME" => &self.name,
            "FILE" => &self.file,
            "LINE" => &self.line,
            _ => return None,
        };
        slot.as_deref()
    }

    /// Whether `command` suits this line's transport: a command about a
    /// unix socket is left out for a TCP peer, and one about a port for a
    /// unix socket. Without a known peer every command fits. A command
    /// about the configuration's file and line needs the line to name them:
    /// no reader could guess them.
    pub fn fits(&self, command: &str) -> bool {
        let words = || pieces(command).filter_map(|(word, is_word)| is_word.then_some(word));
        if self.file.is_none() && words().any(|w| matches!(w, "FILE" | "LINE")) {
            return false;
        }
        let mut words = words();
        if self.socket.is_some() {
            !words.any(|w| matches!(w, "IP" | "PORT" | "PEER"))
        } else if self.port.is_some() {
            !words.any(|w| w == "SOCKET")
        } else {
            true
        }
    }

    /// `command` with each known token word replaced.
    pub fn fill(&self, command: &str) -> String {
        pieces(command)
            .map(|(piece, is_word)| {
                let value = is_word.then(|| self.value(piece)).flatten();
                value.unwrap_or(piece)
            })
            .collect()
    }
}

/// `text` cut into words and the runs between them, each with whether it is
/// a word. A word is a maximal run of letters, digits and `_`, so `sport`
/// or `IPAddress` never hold a token.
fn pieces(text: &str) -> impl Iterator<Item = (&str, bool)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut rest = text;
    std::iter::from_fn(move || {
        let word = rest.starts_with(is_word);
        let end = rest
            .find(|c: char| is_word(c) != word)
            .unwrap_or(rest.len());
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        (!piece.is_empty()).then_some((piece, word))
    })
}

/// The host name a resolver or config-time message names.
fn resolved_name(message: &str) -> Option<&str> {
    if let Some((name, _)) = message.split_once(" could not be resolved (") {
        return Some(name);
    }
    if let Some(name) = message.strip_prefix("no resolver defined to resolve ") {
        return Some(name);
    }
    let quoted = message.strip_prefix("host not found in upstream \"")?;
    let (target, _) = quoted.split_once('"')?;
    Some(target.rsplit_once(':').map_or(target, |(host, _)| host))
}

/// A value that may be pasted as an operand ([`shell::is_plain`]) and
/// looks like what its token holds: ASCII letters, digits and the
/// characters of `extra` only.
fn is_plain(value: &str, extra: &str) -> bool {
    shell::is_plain(value, shell::Paste::Value)
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::nginx_line::parse_line;

    const REFUSED: &str = r#"2026/11/24 21:18:00 [error] 20734#20734: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", upstream: "http://127.0.0.1:9001/refused", host: "127.0.0.1:8080""#;

    #[test]
    fn tokens_replace_whole_words_only() {
        let t = Tokens {
            ip: Some("10.0.0.1".into()),
            port: Some("80".into()),
            ..Tokens::default()
        };
        assert_eq!(
            t.fill("ip route get IP; ss 'sport = :PORT'; {{.IPAddress}} PORTS"),
            "ip route get 10.0.0.1; ss 'sport = :80'; {{.IPAddress}} PORTS"
        );
        assert_eq!(t.fill("ls SOCKET"), "ls SOCKET");
    }

    #[test]
    fn socket_path_with_shell_characters_is_not_filled_in() {
        let line = REFUSED.replace(
            "http://127.0.0.1:9001/refused",
            "fastcgi://unix:/run/$(reboot).sock:",
        );
        let parsed = parse_line(&line, 0).expect("parses");
        assert_eq!(Tokens::of(&parsed).socket, None);
        let plain = REFUSED.replace(
            "http://127.0.0.1:9001/refused",
            "fastcgi://unix:/run/php/php8.2-fpm.sock:",
        );
        let parsed = parse_line(&plain, 0).expect("parses");
        assert_eq!(
            Tokens::of(&parsed).socket.as_deref(),
            Some("/run/php/php8.2-fpm.sock")
        );
    }

    #[test]
    fn file_and_line_come_from_the_place_a_config_error_names() {
        let command = "sudo awk 'NR >= LINE - 2 && NR <= LINE' FILE";
        let named = parse_line(
            r#"2026/12/07 18:18:38 [emerg] 1#1: unknown directive "x" in /etc/nginx/sites-enabled/default:6"#,
            0,
        )
        .expect("parses");
        let t = Tokens::of(&named);
        assert!(t.fits(command));
        assert_eq!(
            t.fill(command),
            "sudo awk 'NR >= 6 - 2 && NR <= 6' /etc/nginx/sites-enabled/default"
        );
        let hostile = parse_line(
            r#"2026/12/07 18:18:38 [emerg] 1#1: unknown directive "x" in /etc/$(reboot):6"#,
            0,
        )
        .expect("parses");
        assert!(!Tokens::of(&hostile).fits(command));
        assert!(!Tokens::of(&parse_line(REFUSED, 0).expect("parses")).fits(command));
    }

    #[test]
    fn names_come_from_resolver_and_config_messages() {
        assert_eq!(
            resolved_name("app.invalid could not be resolved (3: Host not found)"),
            Some("app.invalid")
        );
        assert_eq!(
            resolved_name("no resolver defined to resolve app.invalid"),
            Some("app.invalid")
        );
        assert_eq!(
            resolved_name(
                r#"host not found in upstream "app-container:8080" in /etc/nginx/a.conf:1"#
            ),
            Some("app-container")
        );
        assert_eq!(
            resolved_name("connect() failed (111: Connection refused)"),
            None
        );
    }
}

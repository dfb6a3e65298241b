//! Reading a line that was cut before nginx said what it was doing.
//!
//! The ` while ACTION` part decides what a message means: `upstream timed
//! out` is a 504 while connecting or reading the header, and a cut-off
//! response while reading the body. When a line lost it (cut by a terminal
//! or a shipper, or pasted as the message alone), the phases in which nginx
//! logs that message are what is left: if they all mean the same failure,
//! that failure is the reading; if not, the explanation lists them. A line
//! cut inside the literal (` while reading `) keeps the phases it may still
//! be. The meanings come from the classifier itself, tried once per phase,
//! so they cannot drift from it.

use crate::logs::{Action, ErrorLine, Signature, classify};

/// An errno cut short: ` (13: Permission den` at the end of a message, with
/// no closing parenthesis. The number is whole when a space or `:` follows it.
pub fn cut_errno(message: &str) -> Option<(i32, &str)> {
    let (_, inside) = message.rsplit_once(" (")?;
    let (number, text) = inside.split_once(':')?;
    let whole =
        !number.is_empty() && number.len() <= 5 && number.bytes().all(|b| b.is_ascii_digit());
    let text = text.strip_prefix(' ').unwrap_or(text);
    if !whole || text.contains(')') {
        return None;
    }
    Some((number.parse().ok()?, text))
}

/// The phases `line` may have been in when nginx logged it: all of them
/// when it has no ` while ...`, those whose literal starts with what is
/// left when it was cut inside one (` while reading `), none when it names
/// an action of no upstream phase (` while logging to syslog`) or has one.
pub fn open_phases(line: &ErrorLine) -> Vec<Action> {
    if line.action.is_some() {
        return Vec::new();
    }
    let Some((_, tail)) = line.message.rsplit_once(" while ") else {
        return Action::ALL.iter().map(|(a, _)| *a).collect();
    };
    Action::ALL
        .iter()
        .filter(|(_, literal)| literal.starts_with(tail))
        .map(|(a, _)| *a)
        .collect()
}

/// The message of `line` without a ` while ...` cut inside its literal.
pub fn without_cut_action(message: &str) -> &str {
    message
        .rsplit_once(" while ")
        .map_or(message, |(head, _)| head)
}

/// Of `open`, the phases in which nginx logs `line`'s message, each with
/// the failure it means there. Empty when it means none in any.
///
/// The body phase (`reading upstream`, `proxying upgraded connection`) is
/// no message of its own: the classifier reads any error there as a cut-off
/// response. It counts only for the messages nginx logs when a read fails,
/// which it logs in the body phase as in the header phase (catalogue §3.F):
/// a timeout, a close, a reset.
pub fn phases(line: &ErrorLine, open: &[Action]) -> Vec<(Action, Signature)> {
    let mut trial = line.clone();
    trial.message = without_cut_action(&line.message).to_owned();
    let mut read = |action: Action| {
        trial.action = Some(action);
        classify(&trial)
    };
    let read_failure = matches!(
        read(Action::ReadingResponseHeader),
        Some(
            Signature::ReadHeaderTimeout | Signature::PrematureCloseHeader | Signature::ResetHeader
        )
    );
    open.iter()
        .filter_map(|action| {
            let sig = read(*action)?;
            (sig != Signature::BodyPhase || read_failure).then_some((*action, sig))
        })
        .collect()
}

/// The one failure the phases agree on, with the first phase that gives it.
pub fn agreed(phases: &[(Action, Signature)]) -> Option<(Action, Signature)> {
    let (first, rest) = phases.split_first()?;
    rest.iter()
        .all(|(_, sig)| *sig == first.1)
        .then_some(*first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Level;
    use crate::logs::fragment::{Prefix, parse_fragment};

    fn message(text: &str) -> ErrorLine {
        let prefix = Prefix {
            time: None,
            level: Level::Error,
            pid: None,
            tid: None,
            conn: None,
        };
        parse_fragment(prefix, text).0
    }

    #[test]
    fn a_cut_errno_keeps_its_number() {
        assert_eq!(
            cut_errno("connect() to unix:/x.sock failed (13: Permission den"),
            Some((13, "Permission den"))
        );
        assert_eq!(cut_errno("connect() failed (111:"), Some((111, "")));
        assert_eq!(cut_errno("connect() failed (11"), None);
        assert_eq!(
            cut_errno("connect() failed (111: Connection refused)"),
            None
        );
        assert_eq!(cut_errno("a (b: c"), None);
    }

    fn all(line: &ErrorLine) -> Vec<(Action, Signature)> {
        phases(line, &open_phases(line))
    }

    #[test]
    fn connect_refused_is_only_ever_logged_while_connecting() {
        let found = all(&message("connect() failed (111: Connection refused)"));
        assert_eq!(
            agreed(&found),
            Some((Action::ConnectingToUpstream, Signature::ConnRefusedTcp))
        );
    }

    #[test]
    fn a_header_only_message_is_no_body_phase_failure() {
        for (text, want) in [
            ("upstream sent too big header", Signature::TooBigHeader),
            ("no live upstreams", Signature::NoLiveUpstreams),
            (
                "connect() to unix:/x.sock failed (13: Permission denied)",
                Signature::UnixSocketEacces,
            ),
        ] {
            let found = all(&message(text));
            assert_eq!(
                agreed(&found).map(|(_, s)| s),
                Some(want),
                "{text}: {found:?}"
            );
        }
    }

    #[test]
    fn a_timeout_means_different_failures_in_different_phases() {
        let found = all(&message("upstream timed out (110: Connection timed out)"));
        assert!(found.len() > 2, "{found:?}");
        assert_eq!(agreed(&found), None);
        assert!(found.contains(&(Action::ConnectingToUpstream, Signature::ConnectTimeout)));
        assert!(found.contains(&(Action::ReadingUpstream, Signature::BodyPhase)));
    }

    #[test]
    fn a_cut_action_leaves_the_phases_it_may_still_be() {
        let line = message("connect() failed (111: Connection refused) while connecting to ups");
        assert_eq!(open_phases(&line), [Action::ConnectingToUpstream]);
        let reading = message("upstream timed out (110: Connection timed out) while reading ");
        assert_eq!(
            open_phases(&reading),
            [Action::ReadingResponseHeader, Action::ReadingUpstream]
        );
        let found = phases(&reading, &open_phases(&reading));
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn another_action_is_no_upstream_phase() {
        let line = message("connect() failed (111: Connection refused) while logging to syslog");
        assert!(open_phases(&line).is_empty());
    }

    #[test]
    fn text_that_is_no_upstream_message_has_no_phase() {
        assert!(all(&message("hello world")).is_empty());
        assert!(all(&message("client prematurely closed connection")).is_empty());
    }
}

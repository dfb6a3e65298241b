//! What a pasted line does not say, and what that leaves unknown.
//!
//! Every gap is named by an id, and its sentence is in one table
//! ([`TEXTS`]), so the words can move into the rule pack as they are. A
//! sentence may name a value with `{field}`, `{value}`, `{action}` or
//! `{conn}`; the caller passes values already escaped for a terminal.

use crate::logs::Action;

/// One thing the line does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    NoTimestamp,
    NoLevel,
    NoConnection,
    NoContext,
    /// Cut inside the quoted `upstream:` value; the partial value, escaped.
    CutInUpstream(String),
    /// Cut inside the quoted value of this field.
    CutInValue(&'static str),
    CutBeforeUpstream,
    CutAfterField,
    CutInErrno,
    /// Cut before ` while ...`, read as the one phase that gives the message.
    ActionAssumed(Action),
    /// Cut before ` while ...`, and the phases disagree.
    NoAction,
    /// The failure behind a consequence is not in the input.
    NoFailureBehind(Option<u64>),
}

/// Every gap's id and sentence.
const TEXTS: &[(&str, &str)] = &[
    (
        "no-timestamp",
        "no timestamp: when it happened is unknown, and it cannot be matched with other logs by time.",
    ),
    (
        "no-level",
        "no level ([error], [crit], ...): it was read by its message alone.",
    ),
    (
        "no-connection",
        "no connection number (*42): the other lines about the same request cannot be found by it.",
    ),
    (
        "no-context",
        "no request context (`, client: ...`): the client, the request and the backend's address are unknown.",
    ),
    (
        "cut-in-upstream",
        "the line was cut inside `upstream:` (`{value}`...): the backend's address is unknown.",
    ),
    (
        "cut-in-value",
        "the line was cut inside `{field}:`: its value is partial.",
    ),
    (
        "cut-before-upstream",
        "the line was cut before `upstream:`: the backend's address is unknown.",
    ),
    (
        "cut-after-field",
        "the line was cut after its last whole field: what followed is unknown.",
    ),
    (
        "cut-in-errno",
        "the line was cut inside the error code: its number was read, its text is partial.",
    ),
    (
        "action-assumed",
        "no ` while ...` (cut, or not pasted): read as `while {action}`, the only phase in which nginx logs this message.",
    ),
    (
        "no-action",
        "no ` while ...` (cut, or not pasted): what nginx was doing is unknown, and this message means another failure in each phase (see the notes).",
    ),
    (
        "no-failure-behind",
        "the failure behind it is not in the input: nginx logs it just before this line{conn}.",
    ),
];

impl Gap {
    /// The gap's id, as the JSON names it.
    pub fn id(&self) -> &'static str {
        match self {
            Gap::NoTimestamp => "no-timestamp",
            Gap::NoLevel => "no-level",
            Gap::NoConnection => "no-connection",
            Gap::NoContext => "no-context",
            Gap::CutInUpstream(_) => "cut-in-upstream",
            Gap::CutInValue(_) => "cut-in-value",
            Gap::CutBeforeUpstream => "cut-before-upstream",
            Gap::CutAfterField => "cut-after-field",
            Gap::CutInErrno => "cut-in-errno",
            Gap::ActionAssumed(_) => "action-assumed",
            Gap::NoAction => "no-action",
            Gap::NoFailureBehind(_) => "no-failure-behind",
        }
    }

    /// The gap in a sentence.
    pub fn text(&self) -> String {
        let template = TEXTS
            .iter()
            .find(|(id, _)| *id == self.id())
            .map_or("", |(_, text)| text);
        match self {
            Gap::CutInUpstream(value) => template.replace("{value}", value),
            Gap::CutInValue(field) => template.replace("{field}", field),
            Gap::ActionAssumed(action) => template.replace("{action}", action.as_str()),
            Gap::NoFailureBehind(conn) => template.replace("{conn}", &same_connection(*conn)),
            _ => template.to_owned(),
        }
    }
}

/// How to find the other lines of connection `conn`: its number is digits,
/// so the command quotes nothing from the line but them.
fn same_connection(conn: Option<u64>) -> String {
    conn.map_or_else(String::new, |n| {
        format!(
            ", with the same connection number *{n}: `sudo grep -F '*{n} ' /var/log/nginx/error.log`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Gap; 12] = [
        Gap::NoTimestamp,
        Gap::NoLevel,
        Gap::NoConnection,
        Gap::NoContext,
        Gap::CutInUpstream(String::new()),
        Gap::CutInValue("request"),
        Gap::CutBeforeUpstream,
        Gap::CutAfterField,
        Gap::CutInErrno,
        Gap::ActionAssumed(Action::ConnectingToUpstream),
        Gap::NoAction,
        Gap::NoFailureBehind(Some(42)),
    ];

    #[test]
    fn every_gap_has_a_sentence_with_its_values_filled_in() {
        assert_eq!(ALL.len(), TEXTS.len());
        for gap in &ALL {
            let text = gap.text();
            assert!(
                text.ends_with('.') || text.ends_with('`'),
                "{}: {text}",
                gap.id()
            );
            assert!(!text.contains('{'), "{}: {text}", gap.id());
        }
    }

    #[test]
    fn the_example_sentences_read_as_promised() {
        assert_eq!(
            Gap::NoTimestamp.text(),
            "no timestamp: when it happened is unknown, and it cannot be matched with other logs by time."
        );
        assert!(
            Gap::CutBeforeUpstream
                .text()
                .contains("cut before `upstream:`: the backend's address is unknown")
        );
        assert!(
            Gap::ActionAssumed(Action::ConnectingToUpstream)
                .text()
                .contains("`while connecting to upstream`")
        );
    }

    #[test]
    fn the_failure_behind_is_found_by_its_connection_number() {
        let text = Gap::NoFailureBehind(Some(42)).text();
        assert!(text.contains("grep -F '*42 '"), "{text}");
        assert!(!Gap::NoFailureBehind(None).text().contains("grep"));
    }
}

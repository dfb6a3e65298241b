//! Commands as a pack writes them: an argv that cannot run as meant, and
//! the exit statuses that say a command did its job.
//!
//! A YAML flow sequence splits at every comma, so `[dmesg,
//! --level=err,warn]` is three arguments, not two, and the program sees
//! `--level=err warn` ("bad usage"). A quoted element with a space inside
//! an option (`"-n 20"`) is one argument where two were meant. Both read
//! fine to a reviewer and fail only when a person runs the fix, so lint
//! refuses them here, pointing at where they are written.

use super::{At, Builder};
use crate::rules::schema::ExitSpec;

/// Exit statuses that never mean success: a shell's "cannot execute" (126)
/// and "not found" (127), and a death by a signal (128 and above).
const NEVER_SUCCESS: u8 = 126;

impl Builder {
    /// Problems of an argv list at `at` (a probe's or a fix step's `run`).
    pub(super) fn argv_shape(&mut self, argv: &[String], at: &At) {
        if argv
            .first()
            .is_some_and(|p| p.contains(char::is_whitespace))
        {
            self.problem(
                &at.index(0),
                format!(
                    "the program `{}` holds a space: an argv names the program alone and gives each argument as its own element (`[{}]`)",
                    argv[0],
                    argv[0].split_whitespace().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        for (i, arg) in argv.iter().enumerate().skip(1) {
            if let Some((option, value)) = spaced_option(arg) {
                self.problem(
                    &at.index(i),
                    format!(
                        "`{arg}` is one argument, but reads as two: the option `{option}` and `{value}`; write them as two elements (`{option}, {value}`), or `{option}={value}` if the program takes that form"
                    ),
                );
            }
        }
        for i in 1..argv.len() {
            if self.split_at_comma(at, i) {
                let (left, right) = (&argv[i - 1], &argv[i]);
                self.problem(
                    &at.index(i - 1),
                    format!(
                        "`{left},{right}` is split into two arguments, `{left}` and `{right}`: a comma separates the elements of a `[...]` list; quote the element (`\"{left},{right}\"`) if it is one argument"
                    ),
                );
            }
        }
    }

    /// Whether elements `i - 1` and `i` of the flow sequence at `at` are
    /// written with nothing but a comma between them (`err,warn`): YAML
    /// split what reads as one unquoted word.
    fn split_at_comma(&self, at: &At, i: usize) -> bool {
        let text = &at.file.text;
        let (Some(left), Some(right)) = (at.index(i - 1).exact_pos(), at.index(i).exact_pos())
        else {
            return false;
        };
        let (Some(l), Some(r)) = (at.file.byte_at(left), at.file.byte_at(right)) else {
            return false;
        };
        let plain = |b: usize| !matches!(text.as_bytes().get(b), Some(b'"' | b'\'' | b'['));
        r > l && plain(l) && plain(r) && text[..r].ends_with(',')
    }

    /// The exit statuses of a `run` (or a verify line) at `at`: `[0]`
    /// unless written; statuses that cannot mean success are problems.
    pub(super) fn exit_statuses(&mut self, spec: Option<&ExitSpec>, at: &At) -> Vec<i32> {
        let Some(spec) = spec else {
            return vec![0];
        };
        let written = spec.statuses();
        if written.is_empty() {
            self.problem(
                at,
                "`exit: []` lets no status mean success; leave `exit` out for 0",
            );
        }
        let mut out = Vec::new();
        for n in written {
            match u8::try_from(n) {
                Ok(s) if s < NEVER_SUCCESS => {
                    if out.contains(&i32::from(s)) {
                        self.problem(at, format!("exit status {s} is listed twice"));
                    }
                    out.push(i32::from(s));
                }
                Ok(126) => self.problem(at, "exit status 126 means the program could not be executed; it cannot mean success"),
                Ok(127) => self.problem(at, "exit status 127 means the program was not found; it cannot mean success"),
                _ if (128..=255).contains(&n) => self.problem(
                    at,
                    format!("exit status {n} means the command was killed by signal {}; it cannot mean success", n - 128),
                ),
                _ => self.problem(at, format!("exit status {n} is not one a command can have (0 to 125)")),
            }
        }
        out
    }
}

/// `("-n", "20")` for an element like `"-n 20"` or `"--lines 10"`: an
/// option, then a space, then more. `--opt=a b` is one value and fine,
/// and so is an element quoting a fact, whose value decides.
fn spaced_option(arg: &str) -> Option<(&str, &str)> {
    if !arg.starts_with('-') || arg.contains("{{") {
        return None;
    }
    let (option, value) = arg.split_once(' ')?;
    if option.contains('=') || value.trim().is_empty() {
        return None;
    }
    Some((option, value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_and_its_value_in_one_element_read_as_two() {
        assert_eq!(spaced_option("-n 20"), Some(("-n", "20")));
        assert_eq!(spaced_option("--lines 10"), Some(("--lines", "10")));
    }

    #[test]
    fn values_with_spaces_are_not_options_with_values() {
        assert_eq!(spaced_option("sport = :80"), None);
        assert_eq!(spaced_option("--format=%a %b"), None);
        assert_eq!(spaced_option("-"), None);
        assert_eq!(spaced_option("--x={{a}} b"), None);
    }
}

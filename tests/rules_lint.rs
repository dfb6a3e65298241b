//! `rules lint` from the outside: the packs that must pass (the embedded one,
//! the example in `rules/README.md`) and one broken pack per rule in
//! `tests/fixtures/packs/`, each asserted to the exact `file:line:column:
//! message` and exit status 2, as an author would read them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nginx_doctor::probe::builtin::BUILTINS;

use crate::support::doctor::{BINARY, DoctorRun, run_bounded};

/// Linting is instant; this only stops a hung binary from hanging the suite.
const LINT_TIMEOUT: Duration = Duration::from_secs(30);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/packs")
}

fn doctor(args: &[&str], cwd: &Path) -> DoctorRun {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run_bounded(BINARY, &args, cwd, LINT_TIMEOUT)
}

/// Lints a fixture from the fixtures folder, so messages read `name/file.yaml:...`.
fn lint_fixture(name: &str) -> DoctorRun {
    doctor(&["rules", "lint", name], &fixtures())
}

/// Asserts exit 2, nothing on stdout, and stderr exactly `problems` in order
/// followed by the summary line.
fn assert_problems(run: &DoctorRun, problems: &[&str]) {
    let n = problems.len();
    let summary = format!(
        "error: the rule pack has {n} problem{}; nothing was run",
        if n == 1 { "" } else { "s" }
    );
    let mut expected: Vec<&str> = problems.to_vec();
    expected.push(&summary);
    let got: Vec<&str> = run.stderr.lines().collect();
    assert_eq!((run.status, got), (2, expected), "{run}");
    assert_eq!(run.stdout, "", "{run}");
}

fn rejects(fixture: &str, problem: &str) {
    assert_problems(&lint_fixture(fixture), &[problem]);
}

/// The ```yaml blocks of a Markdown text.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn rules_readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_yaml_block_in_the_rules_readme_is_a_sound_pack() {
    let blocks = yaml_blocks(&rules_readme());
    assert!(!blocks.is_empty(), "rules/README.md has no ```yaml block");
    for (i, block) in blocks.iter().enumerate() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("00-pack.yaml"), block).expect("write the block");
        let run = doctor(&["rules", "lint", "."], dir.path());
        assert_eq!(
            run.status,
            0,
            "yaml block {} of rules/README.md\n{run}",
            i + 1
        );
    }
}

/// The backquoted names of one cell of a Markdown table row.
fn quoted(cell: &str) -> BTreeSet<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

#[test]
fn the_rules_readme_lists_every_builtin_with_its_parameters_and_facts() {
    let readme = rules_readme();
    let rows: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| built-in |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let listed: Vec<&str> = rows.iter().filter_map(|r| r.split('`').nth(1)).collect();
    let known: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
    assert_eq!(listed, known, "the built-in table of rules/README.md");
    for (row, b) in rows.iter().zip(BUILTINS) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let [_, _, _, params, facts, _] = cells.as_slice() else {
            panic!(
                "row of `{}` is not | name | doc | params | facts |: {row}",
                b.name
            );
        };
        assert_eq!(quoted(params), b.params.iter().copied().collect(), "{row}");
        assert_eq!(quoted(facts), b.facts.iter().copied().collect(), "{row}");
    }
}

#[test]
fn the_embedded_pack_lints_clean() {
    let run = doctor(&["rules", "lint"], Path::new(env!("CARGO_MANIFEST_DIR")));
    assert_eq!(run.status, 0, "{run}");
    assert!(run.stdout.starts_with("embedded: "), "{run}");
    assert!(run.stdout.ends_with("; no problems found\n"), "{run}");
}

#[test]
fn every_check_of_the_default_pack_says_why_it_runs_and_what_it_found() {
    use nginx_doctor::rules::{NodeKind, RuleSet};
    let pack = RuleSet::embedded().expect("the embedded pack loads");
    let silent: Vec<&str> = pack
        .nodes
        .iter()
        .filter(|n| matches!(&n.kind, NodeKind::Check(c) if c.why.is_none() || c.found.is_none()))
        .map(|n| n.id.as_str())
        .collect();
    assert!(
        silent.is_empty(),
        "guided mode would show these checks' raw output: {silent:?}"
    );
}

#[test]
fn only_the_signatures_file_of_the_default_pack_says_what_signatures_mean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut saying: Vec<String> = std::fs::read_dir(&dir)
        .expect("rules/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.lines().any(|l| l == "signatures:")))
        .map(|p| {
            p.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    saying.sort();
    assert_eq!(saying, [nginx_doctor::rules::embedded::SIGNATURES]);
}

#[test]
fn the_rules_directory_lints_clean() {
    let run = doctor(
        &["rules", "lint", "rules"],
        Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(run.status, 0, "{run}");
}

#[test]
fn a_yaml_syntax_error_is_reported_where_it_starts() {
    rejects(
        "syntax-error",
        "syntax-error/00-pack.yaml:3:9: unclosed quote; this is not valid YAML: \
         check quotes, brackets and indentation (spaces, not tabs) here",
    );
}

#[test]
fn a_misspelt_key_is_an_error_listing_the_keys_allowed() {
    rejects(
        "unknown-key",
        "unknown-key/00-pack.yaml:11:5: unknown key `brances`; the keys allowed here are \
         check, why, found, ask, help, input, choices, fact, auto, default, branches, next, \
         conclude, confidence, title, explain, evidence, fix, then, role, stop, each, as, label, do, decide: \
         fix the spelling or remove it",
    );
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_at_the_value() {
    rejects(
        "wrong-type",
        "wrong-type/00-pack.yaml:8:12: wrong kind of value: \
         expected a list (`[a, b]` or `- item` lines)",
    );
}

#[test]
fn a_key_written_twice_is_an_error_at_the_second() {
    rejects(
        "duplicate-key",
        "duplicate-key/00-pack.yaml:15:5: key `title` appears twice in the same mapping; \
         remove or rename one of them",
    );
}

#[test]
fn a_dangling_next_suggests_the_node_meant() {
    rejects(
        "dangling-next",
        "dangling-next/00-pack.yaml:13:15: no node `dwn`; did you mean `down`?",
    );
}

#[test]
fn a_check_of_an_unknown_probe_suggests_the_probe_meant() {
    rejects(
        "unknown-probe",
        "unknown-probe/00-pack.yaml:10:12: no probe `logs`; did you mean `log`?",
    );
}

#[test]
fn an_unknown_builtin_suggests_the_builtin_meant() {
    rejects(
        "unknown-builtin",
        "unknown-builtin/00-pack.yaml:7:14: no built-in probe `error-logs`; \
         did you mean `error-log`?",
    );
}

#[test]
fn an_unknown_builtin_parameter_lists_the_parameters() {
    rejects(
        "unknown-builtin-param",
        "unknown-builtin-param/00-pack.yaml:12:13: `connect` takes no parameter `prot` \
         (did you mean `port`?); it takes `transport`, `host`, `port`, `path`",
    );
}

#[test]
fn an_unknown_cause_suggests_the_cause_meant() {
    rejects(
        "unknown-cause",
        "unknown-cause/00-pack.yaml:13:15: `no-fault-fund` is not a cause id (a key of the pack's `causes:`); \
         did you mean `no-fault-found`?",
    );
}

#[test]
fn a_misspelt_signature_in_a_branch_suggests_the_id_meant() {
    rejects(
        "unknown-signature",
        "unknown-signature/00-pack.yaml:12:51: `too-big-headr` is not a signature id \
         (what `log.signature` holds); did you mean `too-big-header`?",
    );
}

#[test]
fn a_misspelt_signature_before_the_fact_and_with_not_equal_is_an_error() {
    rejects(
        "signature-either-way",
        "signature-either-way/00-pack.yaml:12:17: `conn-refused-tpc` is not a signature id \
         (what `log.signature` holds); did you mean `conn-refused-tcp`?",
    );
}

#[test]
fn a_misspelt_alternative_of_a_signature_regex_is_an_error_at_it() {
    rejects(
        "signature-regex-alternative",
        "signature-regex-alternative/00-pack.yaml:12:52: `unix-sokcet-stale` in the regex \
         is not a signature id (what `log.signature` holds); did you mean `unix-socket-stale`?",
    );
}

#[test]
fn a_signature_regex_that_matches_no_id_is_an_error() {
    rejects(
        "signature-regex-matches-none",
        "signature-regex-matches-none/00-pack.yaml:12:33: the regex `^SSL-` matches no \
         signature id (what `log.signature` holds), so it never matches",
    );
}

#[test]
fn a_misspelt_signature_in_a_fix_step_condition_is_an_error() {
    rejects(
        "signature-in-fix-step",
        "signature-in-fix-step/00-pack.yaml:18:35: `unix-socket-mising` is not a signature id \
         (what `log.signature` holds); did you mean `unix-socket-missing`?",
    );
}

#[test]
fn a_misspelt_signature_of_an_upstream_item_is_an_error() {
    rejects(
        "signature-of-an-item",
        "signature-of-an-item/00-pack.yaml:20:32: `tcp-eaccess` is not a signature id \
         (what `up.signature` holds); did you mean `tcp-eacces`?",
    );
}

/// A command probe whose regex captures a fact named `signature`: only a
/// built-in that declares a fact signature-valued makes it one.
const UNDECLARED_SIGNATURE: &str = r#"
pack: { name: tiny, start: look }
probes:
  tail:
    run: [tail, -n, "1", /var/log/nginx/error.log]
    extract:
      - regex: '(?P<signature>\S+)$'
nodes:
  look:
    check: tail
    branches:
      - when: tail.signature == "anything-at-all"
        next: odd
      - next: fine
  odd: { conclude: backend-down, title: odd }
  fine: { conclude: no-fault-found, title: ok }
"#;

#[test]
fn a_fact_named_signature_that_no_builtin_declares_is_not_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("00-pack.yaml"), UNDECLARED_SIGNATURE).expect("write");
    let run = doctor(&["rules", "lint", "."], dir.path());
    assert_eq!(run.status, 0, "{run}");
}

#[test]
fn an_invalid_regex_in_a_condition_is_one_line_at_the_condition() {
    rejects(
        "bad-when-regex",
        "bad-when-regex/00-pack.yaml:12:15: condition: invalid regex: unclosed group \
         (at character 13)",
    );
}

#[test]
fn an_invalid_extract_regex_is_one_line_at_the_regex() {
    rejects(
        "bad-extract-regex",
        "bad-extract-regex/00-pack.yaml:10:16: invalid regex: unclosed group \
         (at character 7 of the regex)",
    );
}

#[test]
fn an_unclosed_template_reference_is_an_error() {
    rejects(
        "bad-template",
        "bad-template/00-pack.yaml:14:12: template: `{{` is not closed by `}}` (at character 1)",
    );
}

#[test]
fn an_unreachable_node_is_an_error() {
    rejects(
        "unreachable-node",
        "unreachable-node/00-pack.yaml:12:3: node `orphan` cannot be reached \
         from the start node `look`",
    );
}

#[test]
fn a_cycle_is_named_from_the_start_at_the_node_closing_it() {
    rejects(
        "cycle",
        "cycle/00-pack.yaml:15:3: cycle: look -> again -> look; a walk must always end",
    );
}

#[test]
fn an_unused_probe_is_an_error() {
    rejects(
        "unused-probe",
        "unused-probe/00-pack.yaml:8:3: probe `spare` is used by no check",
    );
}

#[test]
fn a_fact_missing_on_one_path_is_an_error() {
    rejects(
        "fact-not-on-every-path",
        "fact-not-on-every-path/00-pack.yaml:22:3: node `fine` uses fact `sockets.listening`, \
         which is not produced on every path to it",
    );
}

#[test]
fn a_last_branch_with_a_condition_is_an_error_at_that_condition() {
    rejects(
        "last-branch-with-when",
        "last-branch-with-when/00-pack.yaml:14:15: the last branch needs no `when`: \
         it is taken when nothing else holds, so the walk never stalls",
    );
}

#[test]
fn a_question_auto_cannot_answer_is_an_error() {
    rejects(
        "question-without-answer",
        "question-without-answer/00-pack.yaml:13:5: a question needs `auto:` or `default:` \
         so `--auto` can answer it",
    );
}

#[test]
fn a_pack_without_a_pack_section_is_an_error() {
    rejects(
        "no-pack",
        "no-pack/00-nodes.yaml: no file has a `pack:` section; \
         one file must name the pack and its `start` node",
    );
}

#[test]
fn a_second_pack_section_is_an_error_naming_the_first() {
    rejects(
        "two-packs",
        "two-packs/10-more.yaml:2:1: a second `pack:` section; \
         the first is in two-packs/00-pack.yaml",
    );
}

#[test]
fn a_node_that_is_both_check_and_conclusion_is_an_error() {
    rejects(
        "check-and-conclude",
        "check-and-conclude/00-pack.yaml:10:5: node `look` needs exactly one of \
         `check`, `ask`, `conclude`, `stop`, `each` or `decide`",
    );
}

#[test]
fn a_key_of_another_kind_of_node_is_an_error() {
    rejects(
        "key-of-another-kind",
        "key-of-another-kind/00-pack.yaml:14:10: `why` does not belong to a conclusion",
    );
}

#[test]
fn needs_on_a_builtin_is_an_error() {
    rejects(
        "builtin-with-needs",
        "builtin-with-needs/00-pack.yaml:8:12: `needs` applies to `run` probes only; \
         a built-in would ignore it",
    );
}

#[test]
fn an_empty_directory_is_not_a_pack() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().display().to_string();
    let run = doctor(&["rules", "lint", &path], Path::new("/"));
    assert_problems(
        &run,
        &[&format!(
            "{path}: no *.yaml files here; a rule pack needs at least one"
        )],
    );
}

#[test]
fn every_problem_of_a_pack_is_reported_in_one_run() {
    assert_problems(
        &lint_fixture("many-problems"),
        &[
            "many-problems/00-pack.yaml:11:13: `connect` takes no parameter `prot` \
             (did you mean `port`?); it takes `transport`, `host`, `port`, `path`",
            "many-problems/00-pack.yaml:25:15: `no-fault-fund` is not a cause id (a key of the pack's `causes:`); \
             did you mean `no-fault-found`?",
            "many-problems/00-pack.yaml:26:12: template: `{{` is not closed by `}}` \
             (at character 1)",
            "many-problems/00-pack.yaml:27:16: template: `{{` is not closed by `}}` \
             (at character 1)",
            "many-problems/00-pack.yaml:28:11: no node `nowhere`",
            "many-problems/00-pack.yaml:17:15: no node `dwn`; did you mean `down`?",
            "many-problems/00-pack.yaml:19:15: no node `gone`",
            "many-problems/10-more.yaml:3:5: a conclusion continues with `then:`, \
             not `next`/`branches`",
            "many-problems/10-more.yaml:7:5: a question needs `auto:` or `default:` \
             so `--auto` can answer it",
        ],
    );
}

/// The `runs-nothing` fixture without the node that makes it unsound.
fn runs_nothing_made_sound() -> String {
    let broken = std::fs::read_to_string(fixtures().join("runs-nothing/00-pack.yaml"))
        .expect("read the fixture");
    let orphan = "  orphan:\n    conclude: backend-down\n    title: down\n";
    assert!(broken.contains(orphan), "the fixture changed: {broken}");
    broken.replace(orphan, "")
}

#[test]
fn a_broken_pack_given_with_rules_runs_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let marker = tmp.path().join("touched");
    let marker_arg = marker.display().to_string();
    let args = [
        "--auto",
        "--format",
        "json",
        "--rules",
        "runs-nothing",
        "--url",
        &marker_arg,
    ];
    let run = doctor(&args, &fixtures());
    assert_problems(
        &run,
        &[
            "runs-nothing/00-pack.yaml:12:3: node `orphan` cannot be reached \
           from the start node `touch`",
        ],
    );
    assert!(!marker.exists(), "the broken pack ran its probe\n{run}");

    // The same pack made sound does run it, so the marker proves something.
    let sound = tmp.path().join("sound");
    std::fs::create_dir(&sound).expect("mkdir");
    std::fs::write(sound.join("00-pack.yaml"), runs_nothing_made_sound()).expect("write");
    let sound_arg = sound.display().to_string();
    let args = ["--auto", "--rules", &sound_arg, "--url", &marker_arg];
    let run = doctor(&args, tmp.path());
    assert_eq!(run.status, 0, "{run}");
    assert!(
        marker.exists(),
        "the sound pack did not run its probe\n{run}"
    );
}

#[test]
fn a_word_list_anywhere_but_a_whole_run_element_is_an_error() {
    let msg = "template: a word list `{{name*}}` may only be a whole element of a fix step's `run`";
    assert_problems(
        &lint_fixture("word-list-outside-run"),
        &[
            &format!("word-list-outside-run/00-pack.yaml:15:12: {msg}"),
            &format!("word-list-outside-run/00-pack.yaml:19:27: {msg}"),
        ],
    );
}

#[test]
fn a_comma_inside_an_unquoted_argument_is_an_error_at_the_split() {
    rejects(
        "split-argument",
        "split-argument/00-pack.yaml:12:33: `--level=err,warn` is split into two arguments, \
         `--level=err` and `warn`: a comma separates the elements of a `[...]` list; \
         quote the element (`\"--level=err,warn\"`) if it is one argument",
    );
}

#[test]
fn an_option_and_its_value_in_one_element_is_an_error() {
    rejects(
        "spaced-option",
        "spaced-option/00-pack.yaml:12:23: `-n 20` is one argument, but reads as two: \
         the option `-n` and `20`; write them as two elements (`-n, 20`), or `-n=20` \
         if the program takes that form",
    );
}

#[test]
fn exit_statuses_that_cannot_mean_success_are_errors() {
    assert_problems(
        &lint_fixture("exit-status"),
        &[
            "exit-status/00-pack.yaml:12:17: `exit` names the statuses of the step's `run` \
             command that mean it worked; this step has no `run`",
            "exit-status/00-pack.yaml:15:17: exit status 127 means the program was not \
             found; it cannot mean success",
            "exit-status/00-pack.yaml:18:17: exit status 0 is listed twice",
        ],
    );
}

/// The advice every "may be unknown here" problem ends with, for fact `f`.
fn unknown_here(node: &str, f: &str) -> String {
    format!(
        "node `{node}` quotes `{f}`, which may be unknown here (a person would read \
         \"(unknown)\"): test it on every path here (`exists({f})`), or write \
         `{{{{#{f}}}}}...{{{{/{f}}}}}` (with `{{{{^{f}}}}}...{{{{/{f}}}}}` for the unknown \
         case) or `{{{{{f}?}}}}`"
    )
}

#[test]
fn a_text_quoting_a_fact_that_may_be_unknown_is_an_error_at_the_quote() {
    let at = |pos: &str, node: &str, f: &str| {
        format!("unknown-here/00-pack.yaml:{pos}: {}", unknown_here(node, f))
    };
    assert_problems(
        &lint_fixture("unknown-here"),
        &[
            &at("17:13", "look", "log.count"),
            &at("25:20", "listening", "sockets.owner_command"),
            &at("32:46", "down", "log.upstream"),
            &at("37:38", "down", "log.server"),
        ],
    );
}

#[test]
fn a_condition_on_a_fact_a_builtin_sets_with_others_makes_those_known() {
    rejects(
        "known-together",
        &format!(
            "known-together/00-pack.yaml:31:21: {}",
            unknown_here("untested", "pass.file")
        ),
    );
}

#[test]
fn a_declared_unguarded_quote_that_is_gone_is_an_error() {
    rejects(
        "unguarded-stale",
        "unguarded-stale/00-pack.yaml:7:12: `pack.unguarded` lists `log.count` for node \
         `look`, which quotes it nowhere unguarded: remove it from the list",
    );
}

#[test]
fn a_section_must_be_closed_by_its_own_name() {
    assert_problems(
        &lint_fixture("section-not-closed"),
        &[
            "section-not-closed/00-pack.yaml:15:12: template: `{{/log.count}}` closes no \
             section `log.count`; the section open here is `log.window` (at character 42)",
            "section-not-closed/00-pack.yaml:11:12: template: section `log.count` is not \
             closed by `{{/log.count}}` (at character 1)",
        ],
    );
}

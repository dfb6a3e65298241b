//! The command line as scripts see it: exit statuses, usage errors that name
//! what was wrong, `rules list`/`rules graph` output, and a report that is
//! printed whatever else fails.

use serde_json::Value;

use crate::support::doctor::{DoctorRun, crate_root, doctor_in};

/// Runs the binary from the crate root with stdin null and `NO_COLOR=1`.
fn doctor(args: &[&str]) -> DoctorRun {
    doctor_in(crate_root(), args)
}

fn assert_no_panic(run: &DoctorRun) {
    assert!(!run.stderr.contains("panicked"), "{run}");
}

#[test]
fn help_documents_every_exit_status() {
    let run = doctor(&["--help"]);
    assert_eq!(run.status, 0, "{run}");
    let codes: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| l.trim() != "Exit status:")
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(codes, ["0", "1", "2", "3", "130"], "{run}");
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let run = doctor(&["--no-such-flag"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(run.stderr.contains("--no-such-flag"), "{run}");
    assert_eq!(run.stdout, "", "{run}");
}

#[test]
fn a_nonsense_since_is_a_usage_error_naming_the_value() {
    let run = doctor(&["--auto", "--since", "nonsense"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(run.stderr.contains("--since \"nonsense\""), "{run}");
    assert_eq!(run.stdout, "", "{run}");
}

#[test]
fn an_unreadable_fpm_conf_is_a_usage_error_naming_the_file() {
    let run = doctor(&["--auto", "--fpm-conf", "/nonexistent/php-fpm.conf"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(
        run.stderr
            .contains("--fpm-conf: cannot read php-fpm configuration /nonexistent/php-fpm.conf"),
        "{run}"
    );
    assert_eq!(run.stdout, "", "{run}");
}

fn listed_causes() -> Vec<String> {
    let run = doctor(&["rules", "list", "--format", "json"]);
    assert_eq!(run.status, 0, "{run}");
    let Some(causes) = run.json.get("causes").and_then(Value::as_array) else {
        panic!("no causes array\n{run}");
    };
    causes
        .iter()
        .map(|c| {
            c.as_str()
                .unwrap_or_else(|| panic!("cause {c} is not text"))
                .to_owned()
        })
        .collect()
}

#[test]
fn rules_list_json_names_the_causes_the_pack_concludes() {
    let causes = listed_causes();
    for id in [
        "backend-down",
        "backend-wrong-address",
        "backend-pool-exhausted",
        "backend-request-killed",
        "upstream-timeout",
        "config-invalid",
        "pass-protocol-mismatch",
        "socket-permission",
        "selinux-denied",
        "firewall-blocked",
        "no-fault-found",
    ] {
        assert!(causes.iter().any(|c| c == id), "{id} not in {causes:?}");
    }
}

#[test]
fn every_listed_cause_is_a_known_cause_id() {
    let pack = nginx_doctor::rules::RuleSet::embedded().expect("the default pack loads");
    for id in listed_causes() {
        assert!(pack.causes.contains_key(&id), "{id} is no key of causes:");
    }
}

#[test]
fn rules_graph_mermaid_is_a_flowchart() {
    let run = doctor(&["rules", "graph", "--format", "mermaid"]);
    assert_eq!(run.status, 0, "{run}");
    assert!(run.stdout.starts_with("flowchart TD\n"), "{run}");
}

#[test]
fn rules_graph_dot_is_a_digraph() {
    let run = doctor(&["rules", "graph", "--format", "dot"]);
    assert_eq!(run.status, 0, "{run}");
    assert!(run.stdout.starts_with("digraph "), "{run}");
    assert!(run.stdout.trim_end().ends_with('}'), "{run}");
}

#[test]
fn an_unwritable_output_file_still_prints_the_report() {
    // A configuration no nginx runs: a quick diagnosis (nginx-down) to print.
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("nginx.conf");
    let d = dir.path().display();
    let hermetic = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  \
         client_body_temp_path {d}/b;\n  proxy_temp_path {d}/p;\n  fastcgi_temp_path {d}/f;\n  \
         uwsgi_temp_path {d}/u;\n  scgi_temp_path {d}/s;\n}}\n"
    );
    std::fs::write(&conf, hermetic).expect("write nginx.conf");
    let conf = conf.display().to_string();
    let run = doctor(&[
        "--auto",
        "--conf",
        &conf,
        "--format",
        "json",
        "--output",
        "/proc/nope/report.txt",
    ]);
    assert_no_panic(&run);
    assert_eq!(run.status, 3, "{run}");
    assert_eq!(run.json["schema"], 1, "the report is not on stdout\n{run}");
    assert!(
        run.stderr
            .contains("cannot write the report to /proc/nope/report.txt"),
        "{run}"
    );
}

#[test]
fn a_conf_that_does_not_exist_is_a_usage_error_naming_it() {
    let run = doctor(&["--auto", "--conf", "/nonexistent/nginx.conf"]);
    assert_eq!(run.status, 2, "{run}");
    assert_eq!(run.stdout, "", "no report on a wrong argument\n{run}");
    assert!(
        run.stderr
            .contains("--conf /nonexistent/nginx.conf: no such file."),
        "{run}"
    );
    assert!(
        run.stderr.contains("ps -o args= -C nginx"),
        "where to look\n{run}"
    );
}

#[test]
fn a_directory_as_conf_is_a_usage_error() {
    let run = doctor(&["--auto", "--conf", "/etc"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(
        run.stderr.contains("--conf /etc: a directory, not a file."),
        "{run}"
    );
}

#[test]
fn a_file_that_is_no_nginx_configuration_is_refused_as_conf() {
    let run = doctor(&["--auto", "--conf", "/etc/passwd"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(run.stderr.contains("not an nginx configuration"), "{run}");
}

#[test]
fn a_file_that_is_no_error_log_is_refused_not_diagnosed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shadow = dir.path().join("shadow");
    std::fs::write(
        &shadow,
        "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    )
    .expect("write");
    let path = shadow.display().to_string();
    let run = doctor(&["--auto", "--format", "json", "--error-log", &path]);
    assert_eq!(run.status, 2, "{run}");
    assert_eq!(
        run.stdout, "",
        "no report, least of all a confident one\n{run}"
    );
    assert!(run.stderr.contains("not an nginx error log"), "{run}");
}

#[test]
fn an_error_log_that_does_not_exist_is_a_usage_error_not_a_permission_problem() {
    let run = doctor(&["--auto", "--error-log", "/nonexistent.log"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(
        run.stderr
            .contains("--error-log /nonexistent.log: no such file."),
        "{run}"
    );
    assert!(!run.stderr.contains("root"), "it is not about root\n{run}");
}

#[test]
fn a_url_that_is_neither_a_path_nor_a_url_is_a_usage_error() {
    let run = doctor(&["--auto", "--url", "index.php"]);
    assert_eq!(run.status, 2, "{run}");
    assert!(run.stderr.contains("--url \"index.php\""), "{run}");
}

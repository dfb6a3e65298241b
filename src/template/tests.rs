//! Rendering, sections and the argument rules, on small facts.

use super::*;

fn facts() -> Facts {
    let mut f = Facts::new();
    f.set("log.port", 9000_i64);
    f.set("log.req", "-rf /");
    f.set("log.line", "a\nb");
    f
}

#[test]
fn renders_facts_and_unknowns() {
    let t = Template::parse("port {{ log.port }} of {{log.host}}").unwrap();
    assert_eq!(t.render(&facts()), "port 9000 of (unknown)");
    assert_eq!(t.facts().collect::<Vec<_>>(), ["log.port", "log.host"]);
}

#[test]
fn a_section_is_rendered_only_when_its_fact_is_known() {
    let t = Template::parse(
        "port{{#log.port}} {{log.port}}{{/log.port}}{{^log.host}}, no host{{/log.host}}.",
    )
    .unwrap();
    assert_eq!(t.render(&facts()), "port 9000, no host.");
    let mut f = facts();
    f.set("log.host", "a");
    f.set("log.port", Value::Null);
    assert_eq!(t.render(&f), "port.");
    assert_eq!(t.required_facts().count(), 0);
    assert!(t.all_known(&f));
}

#[test]
fn an_unknown_optional_fact_reads_as_nothing() {
    let t = Template::parse("[{{log.nope?}}]").unwrap();
    assert_eq!(t.render(&facts()), "[]");
    assert!(!t.all_known(&facts()));
}

#[test]
fn a_fact_outside_its_section_is_required() {
    let t = Template::parse("{{#log.a}}{{log.b}}{{/log.a}} {{log.a}}").unwrap();
    assert_eq!(t.required_facts().collect::<Vec<_>>(), ["log.b", "log.a"]);
}

#[test]
fn an_unclosed_section_is_an_error() {
    let err = Template::parse("x {{#log.a}} y").unwrap_err();
    assert_eq!(err.offset, 2);
    assert!(err.message.contains("not closed"), "{}", err.message);
}

#[test]
fn a_section_closed_under_another_name_is_an_error() {
    let err = Template::parse("{{#log.a}} y {{/log.b}}").unwrap_err();
    assert_eq!(err.offset, 13);
    assert!(err.message.contains("`log.a`"), "{}", err.message);
}

#[test]
fn unclosed_reference_is_an_error() {
    let err = Template::parse("x {{log.port").unwrap_err();
    assert_eq!(err.offset, 2);
}

#[test]
fn argument_from_fact_may_not_start_with_a_dash() {
    let t = Template::parse("{{log.req}}").unwrap();
    assert!(matches!(
        t.render_arg(&facts()),
        Err(UnsafeArg::LeadingDash(_))
    ));
}

#[test]
fn argument_with_a_literal_prefix_may_hold_a_dash_later() {
    let t = Template::parse("sport = :{{log.port}}").unwrap();
    assert_eq!(t.render_arg(&facts()).unwrap(), "sport = :9000");
}

#[test]
fn argument_with_a_newline_is_refused() {
    let t = Template::parse("{{log.line}}").unwrap();
    assert!(matches!(t.render_arg(&facts()), Err(UnsafeArg::Control(_))));
}

#[test]
fn command_quoting_a_plain_fact_is_rendered() {
    let t = Template::parse("ss -Htlnp 'sport = :{{log.port}}'").unwrap();
    assert_eq!(
        t.render_command(&facts()).as_deref(),
        Some("ss -Htlnp 'sport = :9000'")
    );
}

#[test]
fn command_quoting_shell_syntax_is_not_offered() {
    let mut f = facts();
    f.set("log.path", "/run/x'$(touch /tmp/p)'.sock");
    let t = Template::parse("ls -l '{{log.path}}'").unwrap();
    assert_eq!(t.render_command(&f), None);
}

#[test]
fn command_quoting_an_option_is_not_offered() {
    let mut f = facts();
    f.set("log.host", "-oProxyCommand=x");
    let t = Template::parse("grep -F '{{log.host}}'").unwrap();
    assert_eq!(t.render_command(&f), None);
}

#[test]
fn command_quoting_an_unknown_fact_is_not_offered() {
    let t = Template::parse("ls -l {{log.nope}}").unwrap();
    assert_eq!(t.render_command(&facts()), None);
}

#[test]
fn a_word_list_becomes_one_argument_a_word() {
    let mut f = facts();
    f.set(
        "fw.rule",
        r#"-D INPUT -p tcp -m comment --comment "a \"b\" c" -j DROP"#,
    );
    let t = Template::parse("{{fw.rule*}}").unwrap();
    assert!(t.is_words_only());
    assert_eq!(
        t.render_argv(&f).unwrap(),
        [
            "-D",
            "INPUT",
            "-p",
            "tcp",
            "-m",
            "comment",
            "--comment",
            "a \"b\" c",
            "-j",
            "DROP"
        ]
    );
    assert_eq!(t.render(&f), f.get("fw.rule").to_string());
}

#[test]
fn a_word_list_with_a_newline_is_refused() {
    let t = Template::parse("{{log.line*}}").unwrap();
    assert!(matches!(
        t.render_argv(&facts()),
        Err(UnsafeArg::Control(_))
    ));
}

#[test]
fn a_plain_element_renders_as_one_argument() {
    let t = Template::parse("--dport={{log.port}}").unwrap();
    assert!(!t.is_words_only() && !t.has_words());
    assert_eq!(t.render_argv(&facts()).unwrap(), ["--dport=9000"]);
}

#[test]
fn argument_from_an_unknown_fact_is_refused() {
    let t = Template::parse("{{log.nope}}").unwrap();
    assert_eq!(
        t.render_arg(&facts()),
        Err(UnsafeArg::Unknown("log.nope".into()))
    );
}

#[test]
fn the_source_is_the_text_the_pack_wrote() {
    let text = "x {{a}} y {{b?}} {{c*}}";
    assert_eq!(Template::parse(text).unwrap().source(), text);
    let spaced = Template::parse("{{ log.port }}").unwrap();
    assert_eq!(spaced.source(), "{{log.port}}");
}

#[test]
fn a_uri_with_a_query_is_offered_quoted_as_the_shell_reads_it() {
    let mut f = facts();
    f.set("log.uri", "/sleep.php?s=3&t=1");
    let inside = Template::parse("curl 'http://h{{log.uri}}'").unwrap();
    assert_eq!(
        inside.render_command(&f).as_deref(),
        Some("curl 'http://h/sleep.php?s=3&t=1'")
    );
    let outside = Template::parse("curl http://h{{log.uri}}").unwrap();
    assert_eq!(
        outside.render_command(&f).as_deref(),
        Some("curl http://h'/sleep.php?s=3&t=1'")
    );
    let doubled = Template::parse("curl \"http://h{{log.uri}}\"").unwrap();
    assert!(doubled.render_command(&f).is_some());
    f.set("log.uri", "/a?$(reboot)");
    assert_eq!(doubled.render_command(&f), None);
}

#[test]
fn the_source_keeps_sections_as_written() {
    let text = "up{{#log.path}} at {{log.path}}{{/log.path}}{{^log.nope}}, none{{/log.nope}}";
    assert_eq!(Template::parse(text).unwrap().source(), text);
}

//! Edits made as a step's words and lines say; kept apart so `edit.rs` stays short.

use super::*;

fn step(file: &Path, text: &str, line: Option<usize>, snippet: Option<&str>) -> Step {
    Step {
        text: text.to_owned(),
        command: None,
        exit: vec![0],
        file: Some(file.display().to_string()),
        line,
        last_line: None,
        snippet: snippet.map(str::to_owned),
    }
}

fn edited(text: &str, first: usize, last: usize, snippet: &str) -> String {
    set_lines(text, first, last, snippet, "f.conf")
}

#[test]
fn each_setting_replaces_its_line_and_a_commented_default() {
    let text = "[www]\nlisten.owner = a\n; prose\n;listen.mode = 0660\nuser = x\n";
    let got = edited(text, 2, 4, "listen.owner = b\nlisten.mode = 0666");
    assert_eq!(
        got,
        "[www]\nlisten.owner = b\n; prose\nlisten.mode = 0666\nuser = x\n"
    );
}

#[test]
fn a_setting_not_in_the_range_goes_right_after_it() {
    let got = edited("[www]\nuser = x\n", 1, 1, "listen.mode = 0660");
    assert_eq!(got, "[www]\nlisten.mode = 0660\nuser = x\n");
}

#[test]
#[should_panic(expected = "is set at line 3")]
fn a_setting_cited_away_from_where_it_is_set_is_refused() {
    edited(
        "[www]\n\npm.max_children = 5\n",
        1,
        1,
        "pm.max_children = 9",
    );
}

#[test]
fn another_pool_does_not_count_as_the_same_setting() {
    let text = "[www]\npm = dynamic\n\n[api]\npm.max_children = 9\n";
    let got = edited(text, 2, 2, "pm.max_children = 4");
    assert_eq!(
        got,
        "[www]\npm = dynamic\npm.max_children = 4\n\n[api]\npm.max_children = 9\n"
    );
}

#[test]
fn an_nginx_directive_keeps_its_indentation() {
    let text = "server {\n    location / {\n        fastcgi_pass x\n    }\n}\n";
    let got = edited(text, 3, 3, "fastcgi_pass x;");
    assert_eq!(
        got,
        "server {\n    location / {\n        fastcgi_pass x;\n    }\n}\n"
    );
}

#[test]
#[should_panic(expected = "`fastcgi_read_timeout` is set at line 3")]
fn an_nginx_directive_of_the_same_block_outside_the_citation_is_refused() {
    let text = "server {\n    location / {\n        fastcgi_read_timeout 1s;\n        fastcgi_pass x;\n    }\n}\n";
    edited(text, 4, 4, "fastcgi_read_timeout 300s;");
}

#[test]
fn the_same_directive_in_an_outer_block_is_another_setting() {
    let text =
        "http {\n    fastcgi_read_timeout 1s;\n    server {\n        fastcgi_pass x;\n    }\n}\n";
    let got = edited(text, 4, 4, "fastcgi_read_timeout 300s;");
    assert!(
        got.contains("        fastcgi_pass x;\n        fastcgi_read_timeout 300s;\n"),
        "{got}"
    );
}

#[test]
fn params_are_told_apart_by_their_name() {
    let text = "location / {\n    fastcgi_param A 1;\n    fastcgi_pass x;\n}\n";
    let got = edited(text, 2, 2, "fastcgi_param B 2;\nfastcgi_param A 3;");
    assert_eq!(
        got,
        "location / {\n    fastcgi_param A 3;\n    fastcgi_param B 2;\n    fastcgi_pass x;\n}\n"
    );
}

#[test]
fn an_insert_after_a_block_line_goes_one_level_deeper() {
    let got = edited(
        "upstream u {\n    server a;\n}\n",
        1,
        1,
        "keepalive_timeout 1s;",
    );
    assert_eq!(
        got,
        "upstream u {\n    keepalive_timeout 1s;\n    server a;\n}\n"
    );
}

#[test]
fn a_replace_named_in_the_words_keeps_the_line_and_its_indentation() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("n.conf");
    fs::write(
        &f,
        "server {\n    location / {\n        proxy_pass http://a;\n    }\n}\n",
    )
    .unwrap();
    let text = format!(
        "In {}, line 3, replace `proxy_pass http://a;` with:",
        f.display()
    );
    let line = named_line(&text, Some(&f.display().to_string()));
    let _ = apply(&step(
        &f,
        &text,
        line,
        Some("set $b x;\nproxy_pass http://$b;"),
    ));
    assert_eq!(
        read_lossy(&f),
        "server {\n    location / {\n        set $b x;\n        proxy_pass http://$b;\n    }\n}\n"
    );
}

#[test]
fn a_delete_named_in_the_words_removes_the_line_it_empties() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("rules.v4");
    fs::write(&f, "*filter\n-A INPUT -j DROP\nCOMMIT\n").unwrap();
    let text = "delete its line 2, `-A INPUT -j DROP`.";
    assert!(deletes(text));
    let _ = apply(&step(&f, text, named_line(text, None), None));
    assert_eq!(read_lossy(&f), "*filter\nCOMMIT\n");
}

#[test]
fn the_line_comes_from_the_words_when_the_step_has_none() {
    assert_eq!(
        named_line(
            "Set it at /etc/p.conf:12 (sized as ...)",
            Some("/etc/p.conf")
        ),
        Some(12)
    );
    assert_eq!(named_line("In /x, lines 53-55:", Some("/y")), Some(53));
}

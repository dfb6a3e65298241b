//! Tests of `parse.rs`: nesting, include resolution, globs, bounds, dumps.

use super::*;
use std::fs;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

fn names(ds: &[Directive]) -> Vec<&str> {
    ds.iter().map(|d| d.name.as_str()).collect()
}

#[test]
fn blocks_nest_and_keep_lines() {
    let cfg = parse_str(
        "http {\n  server {\n    listen 80;\n  }\n}\n",
        Path::new("/x.conf"),
    )
    .unwrap();
    let http = &cfg.directives[0];
    let listen = &http.children()[0].children()[0];
    assert_eq!((listen.name.as_str(), listen.line), ("listen", 3));
    assert_eq!(listen.args, ["80"]);
    assert_eq!(listen.block, None);
}

#[test]
fn unbalanced_close_brace_is_a_syntax_error_with_line() {
    let err = parse_str("a;\n}\n", Path::new("/x.conf")).unwrap_err();
    assert!(matches!(err, ConfError::Syntax { line: 2, .. }), "{err}");
}

#[test]
fn unclosed_block_is_a_syntax_error() {
    let err = parse_str("http {\n a;\n", Path::new("/x.conf")).unwrap_err();
    assert!(err.to_string().contains("expecting \"}\""), "{err}");
}

#[test]
fn relative_includes_resolve_against_the_main_file_directory() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "nginx.conf",
        "http { include sub/inner.conf; }\n",
    );
    // Relative to the main file's directory, not to sub/.
    write(dir.path(), "sub/inner.conf", "\n include sub/leaf.conf;\n");
    write(dir.path(), "sub/leaf.conf", "server_tokens off;\n");
    let cfg = parse_file(&main).unwrap();
    let leaf = &cfg.directives[0].children()[0];
    assert_eq!(leaf.name, "server_tokens");
    assert_eq!(leaf.file, dir.path().join("sub/leaf.conf"));
    assert_eq!(leaf.line, 1);
    assert_eq!(cfg.files.len(), 3);
}

#[test]
fn glob_includes_are_sorted_and_may_match_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "nginx.conf",
        "include conf.d/*.conf;\ninclude none/*;\n",
    );
    write(dir.path(), "conf.d/b.conf", "b;");
    write(dir.path(), "conf.d/a.conf", "a;");
    write(dir.path(), "conf.d/.hidden.conf", "hidden;");
    write(dir.path(), "conf.d/c.conf.bak", "c;");
    let cfg = parse_file(&main).unwrap();
    assert_eq!(names(&cfg.directives), ["a", "b"]);
}

#[test]
fn missing_plain_include_names_the_include_line() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "nginx.conf",
        "events {}\n\ninclude nope.conf;\n",
    );
    let err = parse_file(&main).unwrap_err();
    match err {
        ConfError::MissingInclude { file, line, target } => {
            assert_eq!((file, line), (main, 3));
            assert_eq!(target, dir.path().join("nope.conf"));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn include_cycle_is_an_error_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(dir.path(), "a.conf", "include b.conf;\n");
    write(dir.path(), "b.conf", "x;\ninclude a.conf;\n");
    let err = parse_file(&main).unwrap_err();
    assert!(
        matches!(err, ConfError::IncludeCycle { line: 2, .. }),
        "{err}"
    );
}

#[test]
fn same_file_may_be_included_twice() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "nginx.conf",
        "a { include p; }\nb { include p; }\n",
    );
    write(dir.path(), "p", "param x;");
    let cfg = parse_file(&main).unwrap();
    assert_eq!(cfg.directives[1].children()[0].name, "param");
    assert_eq!(cfg.files.len(), 2);
}

#[test]
fn deep_nesting_is_bounded() {
    let text = "a {".repeat(500) + &"}".repeat(500);
    let err = parse_str(&text, Path::new("/x.conf")).unwrap_err();
    assert!(matches!(err, ConfError::TooLarge { .. }), "{err}");
}

#[test]
fn huge_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("nginx.conf");
    fs::write(&main, vec![b'#'; (MAX_BYTES + 10) as usize]).unwrap();
    assert!(matches!(parse_file(&main), Err(ConfError::TooLarge { .. })));
}

#[test]
fn include_fan_out_is_bounded() {
    // Each level includes the next twice: 2^30 inclusions if unbounded.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..30 {
        let next = format!("include f{};\n", i + 1);
        write(
            dir.path(),
            &format!("f{i}"),
            &format!("{next}{next}{}", "#".repeat(4096)),
        );
    }
    write(dir.path(), "f30", "x;");
    let err = parse_file(&dir.path().join("f0")).unwrap_err();
    assert!(matches!(err, ConfError::TooLarge { .. }), "{err}");
}

#[test]
fn dump_resolves_includes_from_dumped_files() {
    let text = "# configuration file /c/nginx.conf:\nhttp {\n    include conf.d/*.conf;\n}\n\n\
                # configuration file /c/conf.d/x.conf:\n\nserver { listen 81; }\n\n";
    let cfg = parse_dump(text).unwrap();
    let server = &cfg.directives[0].children()[0];
    assert_eq!(server.file, PathBuf::from("/c/conf.d/x.conf"));
    assert_eq!(server.line, 2);
    assert_eq!(cfg.main, PathBuf::from("/c/nginx.conf"));
}

#[test]
fn globals_come_first_and_name_the_command_line() {
    let cfg = parse_str("user www-data;", Path::new("/x.conf"))
        .unwrap()
        .with_globals("daemon off; error_log /tmp/e.log;")
        .unwrap();
    assert_eq!(names(&cfg.directives), ["daemon", "error_log", "user"]);
    assert_eq!(cfg.directives[0].file, PathBuf::from("command line"));
}

#[test]
fn random_text_never_panics() {
    for input in crate::nginx::lexer::tests::garbage(0xc0ffee, 20_000) {
        let text = String::from_utf8_lossy(&input);
        let _ = parse_str(&text, Path::new("/g.conf"));
        let _ = parse_dump(&format!("# configuration file /g.conf:\n{text}"));
    }
}

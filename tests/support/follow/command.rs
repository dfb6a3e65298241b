//! A printed command, run as printed, and init's part around it. The lab plays only what
//! a host's service manager would: a printed start of nginx or php-fpm runs as one of the
//! lab's daemons (the lab's configurations keep them in the foreground, so they die with
//! the lab), a stopped master is reaped, and after a printed reload the run waits,
//! bounded, until the reloaded daemon answers again.
//!
//! What may run where. A command that only reads (`dmesg`, `ss`, `nginx -t`) runs on the
//! host as it is. One that changes the host (`nginx_doctor::rules::build::changes_host`
//! says which, plus starting nginx or php-fpm) runs only when it acts on the lab: every
//! path it names is inside the lab's directory (`nginx -p PREFIX -c LAB/nginx.conf -s
//! reload`: the prefix only resolves the configuration's relative paths), every pid it
//! names is one the lab started (`kill -USR2 PID`), or, for the network's tools
//! (`iptables`, `nft`, `sysctl -w`, `ip`), the test runs in a network namespace of its
//! own. Anything else — `systemctl`, `nginx -s reload` naming no configuration (it
//! signals the host's own nginx) — fails the test instead of running. An edit outside
//! the lab is made only in a mount namespace of the test's own.

use super::{COMMAND_LIMIT, Plan};
use crate::support::doctor::run_bounded;
use crate::support::lab::{Lab, NGINX};
use crate::support::logs::read_lossy;
use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// Bound on a reloaded or signalled daemon coming back.
const BACK_LIMIT: Duration = Duration::from_secs(10);
/// What php-fpm logs each time it has (re)started and accepts.
const FPM_READY: &str = "ready to handle connections";

/// What a printed command does to the lab's processes.
enum Kind {
    /// Starts nginx: run as a lab daemon on the lab's port.
    NginxStart,
    /// Starts a php-fpm master: run as a lab daemon.
    FpmStart,
    /// Stops the process with this pid: the lab reaps it, as init would.
    Stop(i32),
    /// `kill -USR2`: php-fpm re-executes itself with its configuration.
    FpmReload,
    /// `nginx ... -s reload`.
    NginxReload,
    /// Anything else: it must end with a declared status.
    Other,
}

fn kind(argv: &[String]) -> Kind {
    let program = program_name(&argv[0]);
    let has = |a: &str| argv.iter().any(|x| x == a);
    if starts_daemon(argv) {
        return match is_nginx(&argv[0]) {
            true => Kind::NginxStart,
            false => Kind::FpmStart,
        };
    }
    match (program, argv.get(1).map(String::as_str)) {
        ("kill", Some("-USR2")) => Kind::FpmReload,
        ("kill", Some("-QUIT" | "-TERM" | "-INT" | "-KILL")) => {
            let pid = argv.get(2).and_then(|p| p.parse().ok());
            Kind::Stop(pid.unwrap_or_else(|| panic!("no pid in {argv:?}")))
        }
        _ if is_nginx(&argv[0]) && has("-s") && has("reload") => Kind::NginxReload,
        _ => Kind::Other,
    }
}

/// Runs one printed command (its step declares `exit`), doing init's part around it.
pub(super) fn follow(lab: &Lab, argv: &[String], exit: &[i32], plan: &mut Plan) {
    eprintln!("following: $ {}", argv.join(" "));
    if let Err(why) = allowed(lab, argv) {
        panic!("the fix says to run {argv:?}, which {why}; not run");
    }
    match kind(argv) {
        Kind::NginxStart => match &plan.serves {
            Some(addr) => lab.follow_daemon_command(argv, addr),
            None => lab.follow_start_command(argv),
        },
        Kind::FpmStart => match plan.fpm.take() {
            Some(fpm) => plan.fpm = Some(lab.follow_fpm_start(argv, &fpm)),
            None => {
                let addr = plan.serves.as_ref().unwrap_or_else(|| {
                    panic!("{argv:?} starts php-fpm, and the test named none (Plan::fpm)")
                });
                lab.follow_daemon_command(argv, addr);
            }
        },
        Kind::Stop(pid) => {
            run(lab, argv, exit);
            lab.reap(pid);
        }
        Kind::FpmReload => {
            let ready = plan.fpm.as_ref().map(|f| (f, ready_count(&f.log)));
            run(lab, argv, exit);
            if let Some((fpm, before)) = ready {
                let back = || ready_count(&fpm.log) > before && fpm.addr.accepts();
                wait_until(back, "php-fpm to log that it is ready again");
            } else if let Some(addr) = &plan.serves {
                wait_until(|| addr.accepts(), "the signalled daemon to accept again");
            }
        }
        Kind::NginxReload => {
            let before = lab.nginx_workers();
            run(lab, argv, exit);
            lab.await_new_workers(&before);
        }
        Kind::Other => run(lab, argv, exit),
    }
}

fn run(lab: &Lab, argv: &[String], exit: &[i32]) {
    let (program, args) = argv.split_first().expect("a command has a program");
    let out = run_bounded(program, args, lab.dir(), COMMAND_LIMIT);
    assert!(
        exit.contains(&out.status),
        "the fix's command {argv:?} exited {} (the pack declares {exit:?})\n{out}",
        out.status
    );
}

fn ready_count(log: &Path) -> usize {
    read_lossy(log).matches(FPM_READY).count()
}

/// Panics unless every simple command of the shell `line` may run here.
pub(super) fn allow_shell_line(lab: &Lab, line: &str) {
    for words in simple_commands(line) {
        if let Err(why) = allowed(lab, &words) {
            panic!("the verify line {line:?} runs {words:?}, which {why}; not run");
        }
    }
}

/// Panics unless an edit of `file` acts on the lab, or the test has its own mount
/// namespace (see the module docs).
pub(super) fn allow_edit(lab: &Lab, file: &str) {
    let inside = Path::new(file).starts_with(lab.dir());
    assert!(
        inside || private_namespace("mnt"),
        "the fix edits {file}, outside the lab: it would change this host; not done"
    );
}

/// Why the harness may not run `argv` here, if it may not (see the module docs).
fn allowed(lab: &Lab, argv: &[String]) -> Result<(), String> {
    let changes = nginx_doctor::rules::build::changes_host(argv)
        .or_else(|| starts_daemon(argv).then(|| "starts a daemon".to_owned()));
    let Some(why) = changes else {
        return Ok(());
    };
    let program = program_name(&argv[0]);
    let args = &argv[1..];
    if matches!(program, "systemctl" | "service" | "rc-service") {
        return Err(format!("changes a service of this host ({why})"));
    }
    let network = ["sysctl", "iptables", "ip6tables", "nft", "ip"];
    if network.contains(&program) && private_namespace("net") {
        return Ok(());
    }
    if program == "kill" {
        let pids = lab.pids();
        let foreign: Vec<&String> = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .filter(|a| !a.parse().is_ok_and(|p: i32| pids.contains(&p)))
            .collect();
        return match foreign.is_empty() {
            true => Ok(()),
            false => Err(format!("signals {foreign:?}, no process of the lab")),
        };
    }
    // nginx's `-p` only resolves the relative paths of its configuration, which `-c`
    // names: the lab's.
    let prefix = args
        .iter()
        .position(|a| a == "-p")
        .filter(|_| is_nginx(&argv[0]))
        .map(|i| i + 1);
    let paths: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| a.starts_with('/') && Some(*i) != prefix)
        .map(|(_, a)| a)
        .collect();
    let outside: Vec<&&String> = paths
        .iter()
        .filter(|p| !Path::new(p.as_str()).starts_with(lab.dir()))
        .collect();
    match (paths.is_empty(), outside.is_empty()) {
        (false, true) => Ok(()),
        (true, _) => Err(format!(
            "{why}, and names nothing of the lab: it would act on this host"
        )),
        (false, false) => Err(format!(
            "{why}, and names {outside:?} outside the lab: it would act on this host"
        )),
    }
}

/// Whether this test runs in a namespace of kind `ns` (`net`, `mnt`) of its own: one an
/// ancestor process (the test that re-ran itself under `unshare`) is not in. Init's own
/// is not readable everywhere (a microVM's init), the ancestors are ours.
fn private_namespace(ns: &str) -> bool {
    let link = |pid: i32| fs::read_link(format!("/proc/{pid}/ns/{ns}")).ok();
    let own = link(std::process::id() as i32);
    let mut pid = parent(std::process::id() as i32);
    while let Some(p) = pid.filter(|p| *p > 1) {
        if let (Some(own), Some(theirs)) = (&own, link(p))
            && *own != theirs
        {
            return true;
        }
        pid = parent(p);
    }
    false
}

/// The parent of `pid`, from /proc.
fn parent(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The simple commands of a shell line, as words: split at `|`, `&&`, `||` and `;`
/// outside quotes, quotes removed, redirections and `time` dropped. Enough for the lines
/// a pack writes, to see what each would run.
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, '|' | '&' | ';') => {
                commands.last_mut().expect("a command").extend(word.take());
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                commands.push(Vec::new());
            }
            (None, c) if c.is_whitespace() => {
                commands.last_mut().expect("a command").extend(word.take());
            }
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    commands.last_mut().expect("a command").extend(word);
    for words in &mut commands {
        words.retain(|w| !w.starts_with(['<', '>']) && w != "time");
    }
    commands.retain(|w| !w.is_empty());
    commands
}

/// nginx or php-fpm started (not tested, signalled or asked its version).
fn starts_daemon(argv: &[String]) -> bool {
    let Some(program) = argv.first() else {
        return false;
    };
    let asks = |flags: &[&str]| argv[1..].iter().any(|a| flags.contains(&a.as_str()));
    if is_nginx(program) {
        return !asks(&["-t", "-T", "-s", "-v", "-V", "-h", "-?", "-q"]);
    }
    if program_name(program).starts_with("php-fpm") {
        return !asks(&["-t", "-tt", "--test", "-v", "-i", "-m", "-h"]);
    }
    false
}

fn is_nginx(program: &str) -> bool {
    program_name(program) == "nginx" || program == NGINX
}

fn program_name(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

fn wait_until(mut ready: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + BACK_LIMIT;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "waited {BACK_LIMIT:?} for {what}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn a_shell_line_is_split_into_the_commands_it_runs() {
        let got = simple_commands("nginx -t && nginx -s reload");
        assert_eq!(got, [argv("nginx -t"), argv("nginx -s reload")]);
        let got = simple_commands("ss -Htlnpx | grep -F 'unix:/a b.sock' </dev/null");
        let grep = vec!["grep".into(), "-F".into(), "unix:/a b.sock".into()];
        assert_eq!(got, [argv("ss -Htlnpx"), grep]);
        assert_eq!(simple_commands("time curl -sS x"), [argv("curl -sS x")]);
    }

    #[test]
    fn starting_nginx_or_php_fpm_is_a_daemon_and_testing_them_is_not() {
        assert!(starts_daemon(&argv("/usr/sbin/nginx -p /x -c /x/n.conf")));
        assert!(starts_daemon(&argv("/usr/sbin/php-fpm8.2 -y /x/p.conf")));
        assert!(!starts_daemon(&argv(
            "/usr/sbin/nginx -t -p /x -c /x/n.conf"
        )));
        assert!(!starts_daemon(&argv(
            "/usr/sbin/nginx -c /x/n.conf -s reload"
        )));
        assert!(!starts_daemon(&argv(
            "/usr/sbin/php-fpm8.2 -t -y /x/p.conf"
        )));
        assert!(!starts_daemon(&argv("dmesg --ctime")));
    }
}

use super::*;

#[test]
fn a_service_is_named_by_its_cgroup() {
    let v2 = "0::/system.slice/php8.2-fpm.service\n";
    assert_eq!(unit_in_cgroup(v2).as_deref(), Some("php8.2-fpm.service"));
    let v1 =
        "12:pids:/system.slice/gunicorn.service\n1:name=systemd:/system.slice/gunicorn.service\n";
    assert_eq!(unit_in_cgroup(v1).as_deref(), Some("gunicorn.service"));
    assert_eq!(
        unit_in_cgroup("0::/user.slice/user-0.slice/session-1.scope\n"),
        None
    );
}

fn proc_with(pid: i32, ppid: i32, comm: &str, title: &str, uid: u32) -> Process {
    Process {
        pid,
        ppid,
        comm: comm.to_string(),
        cmdline: title.to_string(),
        args: title.split(' ').map(str::to_string).collect(),
        uid,
        user: users::user_name(uid),
        start_time_ticks: 1,
        state: 'S',
    }
}

fn zombie(pid: i32, ppid: i32, comm: &str) -> Process {
    // A zombie keeps its comm, but its cmdline reads empty.
    Process {
        state: 'Z',
        ..proc_with(pid, ppid, comm, "", 0)
    }
}

#[test]
fn stat_comm_may_contain_spaces_and_parens() {
    let stat = "42 (a b) c)) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 1";
    let parsed = parse_stat(stat);
    assert_eq!(parsed, Some(("a b) c)".to_string(), 'S', 7, 98765)));
}

#[test]
fn stat_state_of_a_zombie_is_z() {
    let stat = "4242 (php-fpm8.2) Z 4200 4200 4200 0 -1 4227148 1 0 0 0 0 0 0 0 20 0 1 0 555 0 0";
    assert_eq!(parse_stat(stat).map(|s| s.1), Some('Z'));
}

#[test]
fn stat_state_must_be_one_letter() {
    let stat = "42 (x) ZZ 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 1";
    assert_eq!(parse_stat(stat), None);
}

#[test]
fn zombie_and_dead_processes_have_exited() {
    let mut p = proc_with(1, 0, "x", "x", 0);
    for (state, exited) in [
        ('R', false),
        ('S', false),
        ('D', false),
        ('Z', true),
        ('X', true),
    ] {
        p.state = state;
        assert_eq!(p.has_exited(), exited, "state {state}");
    }
}

#[test]
fn zombie_fpm_master_is_not_a_master_but_a_zombie() {
    let procs = [
        proc_with(4200, 1, "python3", "python3 noreap.py", 0),
        zombie(4242, 4200, "php-fpm8.2"),
    ];
    assert_eq!(fpm_masters_in(&procs), []);
    let zombies = fpm_zombies_in(&procs);
    assert_eq!(
        zombies,
        [FpmZombie {
            pid: 4242,
            comm: "php-fpm8.2".into(),
            parent: 4200,
            parent_comm: Some("python3".into()),
        }]
    );
}

#[test]
fn worker_zombie_of_a_running_master_is_not_reported() {
    let title = "php-fpm: master process (/etc/php-fpm.conf)";
    let procs = [
        proc_with(10, 1, "php-fpm", title, 0),
        zombie(11, 10, "php-fpm"),
    ];
    assert_eq!(fpm_zombies_in(&procs), []);
    let pids: Vec<i32> = fpm_masters_in(&procs).iter().map(|m| m.pid).collect();
    assert_eq!(pids, [10]);
}

#[test]
fn truncated_stat_is_rejected() {
    assert_eq!(parse_stat("42 (x) S 7 42"), None);
}

#[test]
fn effective_uid_is_the_second_uid_field() {
    let status = "Name:\tx\nUid:\t1000\t33\t33\t33\nGid:\t0\t0\t0\t0\n";
    assert_eq!(parse_effective_uid(status), Some(33));
}

#[test]
fn retitled_argv_drops_nul_padding() {
    let raw = b"php-fpm: pool www\0\0\0\0   \0";
    assert_eq!(split_args(raw), vec!["php-fpm: pool www".to_string()]);
}

#[test]
fn control_characters_in_argv_are_replaced() {
    assert_eq!(
        split_args(b"evil\x1b]0;x\x07\0arg"),
        vec!["evil?]0;x?", "arg"]
    );
}

#[test]
fn own_process_is_listed_with_its_parent() {
    let me = std::process::id() as i32;
    let all = processes();
    let mine = all.iter().find(|p| p.pid == me).expect("self in /proc");
    assert_eq!(mine.ppid, nix::unistd::getppid().as_raw());
    assert_eq!(mine.uid, users::euid());
    assert!(mine.start_time_ticks > 0);
    assert!(!mine.cmdline.is_empty());
}

#[test]
fn fpm_master_groups_its_pool_workers() {
    let procs = [
        proc_with(
            10,
            1,
            "php-fpm8.2",
            "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)",
            0,
        ),
        proc_with(11, 10, "php-fpm8.2", "php-fpm: pool www", 33),
        proc_with(12, 10, "php-fpm8.2", "php-fpm: pool api", 33),
        proc_with(13, 99, "php-fpm8.2", "php-fpm: pool other", 33),
    ];
    let masters = fpm_masters_in(&procs);
    assert_eq!(masters.len(), 1);
    let m = &masters[0];
    assert_eq!(m.conf, Some(PathBuf::from("/etc/php/8.2/fpm/php-fpm.conf")));
    let pools: Vec<&str> = m.workers.iter().map(|w| w.pool.as_str()).collect();
    assert_eq!(pools, ["www", "api"]);
    assert_eq!(m.workers[0].user.as_deref(), Some("www-data"));
}

#[test]
fn child_not_yet_retitled_is_not_a_second_master() {
    let title = "php-fpm: master process (/etc/php-fpm.conf)";
    let procs = [
        proc_with(10, 1, "php-fpm", title, 0),
        proc_with(11, 10, "php-fpm", title, 0),
    ];
    let masters = fpm_masters_in(&procs);
    let pids: Vec<i32> = masters.iter().map(|m| m.pid).collect();
    assert_eq!(pids, [10]);
}

#[test]
fn untitled_fpm_master_takes_conf_from_argv() {
    let p = proc_with(10, 1, "php-fpm", "/usr/sbin/php-fpm -F -y /srv/fpm.conf", 0);
    assert_eq!(fpm_master_conf(&p), Some(PathBuf::from("/srv/fpm.conf")));
    let q = proc_with(10, 1, "php-fpm", "php-fpm --fpm-config=/x.conf", 0);
    assert_eq!(fpm_master_conf(&q), Some(PathBuf::from("/x.conf")));
}

#[test]
fn nginx_worker_users_skip_master_and_cache_manager() {
    let procs = [
        proc_with(20, 1, "nginx", "nginx: master process /usr/sbin/nginx", 0),
        proc_with(21, 20, "nginx", "nginx: worker process", 33),
        proc_with(22, 20, "nginx", "nginx: worker process", 33),
        proc_with(23, 20, "nginx", "nginx: cache manager process", 0),
    ];
    assert_eq!(nginx_worker_users_in(&procs, 20), ["www-data"]);
}

#[test]
fn unnamed_worker_uid_is_given_as_a_number() {
    let procs = [proc_with(21, 20, "nginx", "nginx: worker process", 54321)];
    assert_eq!(nginx_worker_users_in(&procs, 20), ["54321"]);
}

#[test]
fn pid1_check_agrees_with_proc() {
    let comm = fs::read_to_string("/proc/1/comm").unwrap_or_default();
    assert_eq!(pid1_is_systemd(), comm.trim_end() == "systemd");
}

#[test]
fn real_php_fpm_master_is_found_with_its_pools() {
    let Some(fpm) = crate::host::testing::PhpFpm::start() else {
        return;
    };
    let masters = fpm_masters();
    let m = masters
        .iter()
        .find(|m| m.pid == fpm.pid())
        .expect("our master");
    assert_eq!(m.conf.as_deref(), Some(fpm.conf_path()));
    let mut pools: Vec<&str> = m.workers.iter().map(|w| w.pool.as_str()).collect();
    pools.sort();
    assert_eq!(pools, ["tcp", "unix"]);
    assert!(
        m.workers
            .iter()
            .all(|w| w.user.as_deref() == Some("nobody"))
    );
}

#[test]
fn own_exited_child_reads_as_a_zombie() {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("run true");
    let pid = i32::try_from(child.id()).expect("pid fits");
    let state = || {
        processes()
            .into_iter()
            .find(|p| p.pid == pid)
            .map(|p| p.state)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while state() != Some('Z') {
        assert!(
            std::time::Instant::now() < deadline,
            "true never became a zombie"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let zombie = processes()
        .into_iter()
        .find(|p| p.pid == pid)
        .expect("zombie listed");
    assert!(zombie.has_exited());
    assert_eq!(
        (zombie.comm.as_str(), zombie.cmdline.as_str()),
        ("true", "")
    );
    child.wait().expect("reap true");
}

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
    }
}

#[test]
fn stat_comm_may_contain_spaces_and_parens() {
    let stat = "42 (a b) c)) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 1";
    assert_eq!(parse_stat(stat), Some(("a b) c)".to_string(), 7, 98765)));
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

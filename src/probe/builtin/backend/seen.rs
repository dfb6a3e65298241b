//! php-fpm processes that look like a running backend in `ps` but are not one: a zombie
//! master (it exited, and its parent — a container's init that does not reap — has not
//! collected it) and masters in other namespaces (a container's, whose configuration path
//! and sockets are not this system's). Neither serves what nginx connects to here, so
//! neither counts as running; the report names them, so an admin who sees them in `ps`
//! knows why they were set aside and where to look instead.

use super::Out;
use crate::host::namespaces::Elsewhere;
use crate::host::procs::{self, FpmMaster, FpmZombie, Process};

/// The php-fpm masters running in this system; the zombies and the masters elsewhere become
/// the `zombies` and `elsewhere` facts, with a note each.
pub fn running_masters(procs: &[Process], out: &mut Out) -> Vec<FpmMaster> {
    let seen = procs::fpm_seen_in(procs);
    let zombies: Vec<String> = seen.zombies.iter().map(zombie).collect();
    let elsewhere: Vec<String> = seen
        .elsewhere
        .iter()
        .map(|(m, e)| elsewhere(m, e))
        .collect();
    for line in zombies.iter().chain(&elsewhere) {
        out.note(line);
    }
    out.set("zombies", zombies.join("; "));
    out.set("elsewhere", elsewhere.join("; "));
    seen.masters
}

fn zombie(z: &FpmZombie) -> String {
    let parent = match &z.parent_comm {
        Some(comm) => format!("pid {}, {comm}", z.parent),
        None => format!("pid {}", z.parent),
    };
    format!(
        "a zombie php-fpm master (pid {}, {}) was seen and does not count as running: it has \
         exited, and its parent ({parent}) has not reaped it",
        z.pid, z.comm
    )
}

fn elsewhere(m: &FpmMaster, e: &Elsewhere) -> String {
    let conf = m.conf.as_ref().map_or_else(String::new, |c| {
        format!(" (configuration {} inside it)", c.display())
    });
    format!(
        "php-fpm master pid {}{conf} runs {e}, so it is not this system's and does not count \
         as running; {}",
        m.pid,
        e.advice()
    )
}

//! The prober that looks at this host: commands through the bounded runner,
//! built-ins through [`crate::probe::builtin`].
//!
//! Before anything runs it checks the probe's needs: a missing program, a
//! probe that needs root when we are not, or systemd when PID 1 is something
//! else, is an observation ("could not check: why, and what to run by
//! hand"), never an error. A configuration test (`nginx -t`) writes to the
//! host, so it goes through [`super::nginx_test`].

use std::time::Instant;

use super::command::{self, CommandOutput, CommandSpec, Outcome};
use super::nginx_test::{self, Guarded};
use super::{Invocation, Observation, ProbeStatus, Prober};
use crate::rules::{Need, Probe};
use crate::session::Session;
use crate::shell::words as shell_words;

/// Runs probes on this machine.
pub struct SystemProber {
    pub host: Session,
}

impl Prober for SystemProber {
    fn preview(&mut self, invocation: &Invocation) -> String {
        match invocation {
            Invocation::Builtin { name, params } => {
                crate::probe::builtin::preview(name, params, &mut self.host)
                    .unwrap_or_else(|| invocation.shown())
            }
            Invocation::Command { .. } => invocation.shown(),
        }
    }

    fn observe(&mut self, probe: &Probe, invocation: &Invocation) -> Observation {
        if self.host.remaining().is_zero() {
            let budget = self.host.options.budget.as_secs();
            return Observation::not_run(
                ProbeStatus::OverBudget,
                invocation.shown(),
                format!("not run: the run's time budget ({budget} s, --budget) was used up"),
            );
        }
        let observation = match invocation {
            Invocation::Command { argv } => self.command(probe, argv),
            Invocation::Builtin { name, params } => {
                let started = Instant::now();
                let mut obs = crate::probe::builtin::run(name, params, &mut self.host);
                obs.duration = started.elapsed();
                obs
            }
        };
        // A probe (or a built-in's command) killed by Ctrl-C ends here: the
        // walk must not read its death as something it found.
        crate::interrupt::stop_if_interrupted();
        observation
    }
}

impl SystemProber {
    fn command(&mut self, probe: &Probe, argv: &[String]) -> Observation {
        let shown = shell_words(argv);
        if let Some(blocked) = self.unmet_need(probe, &shown) {
            return blocked;
        }
        let Some(program) = argv.first() else {
            return Observation::not_run(ProbeStatus::Error, shown, "empty command");
        };
        // A path that exists goes to the runner, which tells "not executable"
        // apart; only a program found nowhere is "missing".
        let exists = program.contains('/') && std::path::Path::new(program).exists();
        if !exists && command::locate(program).is_none() {
            return Observation::not_run(
                ProbeStatus::Missing,
                shown,
                format!("`{program}` is not installed here (looked in PATH, /usr/sbin, /sbin)"),
            );
        }
        let spec = CommandSpec {
            argv: argv.to_vec(),
            // Never past the run's budget, whatever the probe asks for.
            timeout: probe.timeout.min(self.host.remaining()),
            max_output: probe.max_output,
        };
        let (out, how, isolated) = match nginx_test::recognize(argv) {
            None => (command::run(&spec), None, false),
            Some(test) => match nginx_test::run(&spec, &test, &mut self.host) {
                Guarded::Ran { out, how, isolated } => (out, Some(how), isolated),
                Guarded::Refused(why) => {
                    let why = format!("{why}; run it by hand where that is acceptable: {shown}");
                    return Observation::not_run(ProbeStatus::WouldWrite, shown, why);
                }
            },
        };
        let mut obs = self.observation(probe, program, shown, out);
        if let Some(how) = how {
            obs.reason = Some(match obs.reason.take() {
                Some(r) => format!("{how}; {r}"),
                None => how,
            });
        }
        if isolated {
            nginx_test::judge(&mut obs);
        }
        obs
    }

    /// What a finished command tells, in the report's terms.
    fn observation(
        &self,
        probe: &Probe,
        program: &str,
        shown: String,
        out: CommandOutput,
    ) -> Observation {
        let (status, exit, reason) = match out.outcome {
            Outcome::Exited(0) => (ProbeStatus::Ok, Some(0), None),
            Outcome::Exited(code) => (ProbeStatus::Failed, Some(code), None),
            Outcome::Signaled(sig) => (
                ProbeStatus::Failed,
                None,
                Some(format!("killed by signal {sig}")),
            ),
            Outcome::TimedOut => (
                ProbeStatus::TimedOut,
                None,
                Some(format!(
                    "timed out after {} s; its process group was killed",
                    probe.timeout.as_secs_f32()
                )),
            ),
            Outcome::NotFound => (
                ProbeStatus::Missing,
                None,
                Some(format!("`{program}` is not installed here")),
            ),
            Outcome::NotExecutable => (
                ProbeStatus::Error,
                None,
                Some(format!("`{program}` is not executable")),
            ),
            Outcome::SpawnFailed(e) => (
                ProbeStatus::Error,
                None,
                Some(format!("could not start: {e}")),
            ),
            Outcome::Interrupted => (
                ProbeStatus::Error,
                None,
                Some("not started: the run was interrupted".to_owned()),
            ),
            Outcome::NotIsolated(e) => (
                ProbeStatus::Error,
                None,
                Some(format!("not run: could not isolate it: {e}")),
            ),
        };
        let dropped = out.stdout_dropped + out.stderr_dropped;
        let reason = match (reason, dropped) {
            (r, 0) => r,
            (r, n) => Some(format!(
                "{}output capped; {n} bytes dropped",
                r.map(|r| r + "; ").unwrap_or_default()
            )),
        };
        Observation {
            status,
            exit,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            duration: out.duration,
            facts: Vec::new(),
            shown_as: shown,
            reason,
        }
    }

    fn unmet_need(&self, probe: &Probe, shown: &str) -> Option<Observation> {
        for need in &probe.needs {
            match need {
                Need::Root if !self.host.root => {
                    return Some(Observation::not_run(
                        ProbeStatus::NotRoot,
                        shown,
                        format!("needs root; run it by hand: sudo {shown}"),
                    ));
                }
                Need::Systemd if !self.host.systemd => {
                    return Some(Observation::not_run(
                        ProbeStatus::NoSystemd,
                        shown,
                        "systemd is not PID 1 here (a container?); service state comes from the process table instead",
                    ));
                }
                _ => {}
            }
        }
        None
    }
}

//! The install line before a fix command whose program this host lacks.
//!
//! A step or verify line naming a program that is not installed prints
//! "command not found" to the person following the fix, who then cannot
//! tell whether the fix worked. The walk knows which tools are installed
//! (`tool.` facts, see `host::tools`), so a missing one is installed first:
//! its line comes right before the first step that runs it, or, for a tool
//! only a verify line uses, after the last step.

use crate::host::tools::{self, Tool};
use crate::value::Facts;
use crate::walk::{FixText, StepText};

/// Puts the install step of each missing tool `fix` names before its first use.
pub(super) fn before_missing(facts: &Facts, fix: &mut FixText) {
    // By package: `ss` and `ip` come in the same one.
    let mut installed: Vec<&str> = Vec::new();
    let mut first_use = |program: &str| {
        let tool = tools::missing(facts, program)?;
        let new = !installed.contains(&tool.apt);
        installed.push(tool.apt);
        new.then(|| install_step(facts, tool))
    };
    let mut steps = Vec::with_capacity(fix.steps.len());
    for step in std::mem::take(&mut fix.steps) {
        let program = step.command.as_ref().and_then(|argv| argv.first());
        steps.extend(program.and_then(|p| first_use(p)));
        steps.push(step);
    }
    let verified: Vec<String> = fix
        .verify
        .iter()
        .flat_map(|l| tools::programs_of_line(l))
        .collect();
    steps.extend(verified.iter().filter_map(|p| first_use(p)));
    fix.steps = steps;
}

fn install_step(facts: &Facts, tool: &Tool) -> StepText {
    let command = tools::install_command(facts, tool);
    let text = match command
        .as_deref()
        .and_then(<[String]>::first)
        .map(String::as_str)
    {
        Some("apt-get") => format!(
            "`{}` is not installed here: install it first, with package {} (run `apt-get update` before, if apt has no package lists yet).",
            tool.program, tool.apt
        ),
        Some(_) => format!(
            "`{}` is not installed here: install it first, with package {}.",
            tool.program, tool.dnf
        ),
        None => format!(
            "`{}` is not installed here: install it first (package {} on Debian and Ubuntu, {} on RHEL and Fedora).",
            tool.program, tool.apt, tool.dnf
        ),
    };
    StepText {
        text,
        exit: command.as_ref().map(|_| vec![0]),
        command,
        file: None,
        line: None,
        last_line: None,
        snippet: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(argv: &[&str]) -> StepText {
        StepText {
            text: String::new(),
            command: Some(argv.iter().map(|s| (*s).to_owned()).collect()),
            exit: Some(vec![0]),
            file: None,
            line: None,
            last_line: None,
            snippet: None,
        }
    }

    fn commands(fix: &FixText) -> Vec<String> {
        fix.steps
            .iter()
            .map(|s| s.command.as_ref().map_or(String::new(), |c| c.join(" ")))
            .collect()
    }

    #[test]
    fn a_missing_tool_is_installed_once_before_its_first_use() {
        let mut facts = Facts::new();
        facts.set("tool.apt-get", true);
        facts.set("tool.ss", false);
        facts.set("tool.curl", false);
        facts.set("tool.ps", true);
        let mut fix = FixText {
            steps: vec![
                step(&["ps", "-p", "1"]),
                step(&["ss", "-Htln"]),
                step(&["ss", "-Hx"]),
            ],
            verify: vec!["curl -fsS http://127.0.0.1/ && ss -Htln".to_owned()],
            ..FixText::default()
        };
        before_missing(&facts, &mut fix);
        assert_eq!(
            commands(&fix),
            [
                "ps -p 1",
                "apt-get install -y iproute2",
                "ss -Htln",
                "ss -Hx",
                "apt-get install -y curl"
            ]
        );
    }

    #[test]
    fn without_a_known_package_manager_the_step_names_the_packages() {
        let mut facts = Facts::new();
        facts.set("tool.semanage", false);
        let mut fix = FixText {
            steps: vec![step(&["semanage", "port", "-l"])],
            ..FixText::default()
        };
        before_missing(&facts, &mut fix);
        assert!(fix.steps[0].command.is_none());
        assert!(
            fix.steps[0]
                .text
                .contains("policycoreutils-python-utils on Debian"),
            "{}",
            fix.steps[0].text
        );
    }

    /// Every program the default pack's fixes run or verify with, except the
    /// binaries they found (a template), has a package to install it from.
    #[test]
    fn every_program_the_default_pack_names_has_a_package() {
        let rules = crate::rules::RuleSet::embedded().expect("the default pack loads");
        let known = |p: &str| tools::TOOLS.iter().any(|t| t.program == p);
        let none = Facts::new();
        let mut unknown = Vec::new();
        for node in &rules.nodes {
            let crate::rules::NodeKind::Conclude(c) = &node.kind else {
                continue;
            };
            let runs = c.fix.steps.iter().filter_map(|s| s.run.as_ref()?.first());
            let literal = runs.filter(|p| p.facts().next().is_none());
            let mut programs: Vec<String> = literal.map(|p| p.render(&none)).collect();
            for v in &c.fix.verify {
                let line = v.line.render(&none);
                programs.extend(tools::programs_of_line(&line));
            }
            let missing = programs
                .into_iter()
                .filter(|p| !p.contains("unknown") && !known(p));
            unknown.extend(missing.map(|p| format!("{}: {p}", node.id)));
        }
        assert!(unknown.is_empty(), "add to host::tools::TOOLS: {unknown:?}");
    }
}

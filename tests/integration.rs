//! The integration suite: one test binary (so helpers compile once) that
//! runs the real `nginx-doctor` binary against real nginx, php-fpm and
//! small backends in private labs, against rule-pack fixtures, and in a
//! pseudo-terminal.

mod support;

mod clean_words;
mod cli;
mod config;
mod config_passes;
mod degraded;
mod dns_fixes;
mod engine_items;
mod engine_walk;
mod explain;
mod firewall_fixes;
mod fix_commands;
mod fixes_connect;
mod fixes_response;
mod guided_tty;
mod hostile;
mod keepalive_fixes;
mod malformed_rules;
mod messy_host;
mod missing_tools;
mod namespaces;
mod netns;
mod nginx_down;
mod nginx_edits;
mod pack_new_cause;
mod pack_ranking;
mod pack_signatures;
mod ports_fixes;
mod probe_bounds;
mod properties;
mod protocol_mismatch;
mod read_only;
mod readme;
mod replay;
mod report_snapshots;
mod rules_lint;
mod scan;
mod scenarios;
mod signals;
mod tls_fixes;
mod unisolated;

//! Test support for the integration binary: a reproduction lab that starts private nginx,
//! php-fpm and tiny HTTP backends on loopback, reproduces a 502/504 fault for real, and
//! runs `nginx-doctor` against it (see `lab::Lab` and the catalogue's §6).
//!
//! Every test module of the one integration binary shares this toolbox, and not every
//! module uses every tool, hence the crate-wide dead-code allowance below.
#![allow(dead_code)]

pub mod backend;
pub mod container;
pub mod doctor;
pub mod faults;
pub mod fix;
pub mod follow;
pub mod fpm;
pub mod isolate;
pub mod lab;
pub mod logs;
pub mod net;
pub mod nginx;
pub mod pack;
pub mod proc;
pub mod tree;
pub mod walker;

pub use fpm::Pool;
pub use lab::Lab;
pub use nginx::Pass;

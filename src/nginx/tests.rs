//! Tests of the nginx module as a whole against a real nginx: the live
//! master and workers it discovers, and `nginx -t` as this crate runs it.

mod live;
mod nginx_t;

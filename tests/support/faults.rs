//! Faults that several test modules reproduce the same way, built once here so that
//! "php-fpm stopped" means the same lab in the scenarios, the fix proofs, guided mode
//! and the degraded-host tests.

use super::fpm::{Fpm, Pool};
use super::lab::Lab;
use super::nginx::Pass;

/// The location every PHP lab passes through.
pub const PHP: &str = "~ \\.php$";

impl Lab {
    /// php-fpm running `pool` behind a PHP location; `/ok.php` answers 200.
    pub fn serving_php(&self, pool: Pool) -> Fpm {
        let fpm = self.php_fpm(pool);
        self.nginx(|c| c.location(PHP, Pass::fastcgi(&fpm)));
        assert_eq!(
            self.get("/ok.php"),
            200,
            "the page worked before php-fpm stopped"
        );
        fpm
    }

    /// php-fpm running `pool` behind the PHP location, nginx waiting at most `timeout` for
    /// its answers (`fastcgi_read_timeout`, set in the server).
    pub fn php_with_read_timeout(&self, pool: Pool, timeout: &str) -> Fpm {
        let fpm = self.php_fpm(pool);
        self.pass_php_with_read_timeout(&fpm, timeout);
        fpm
    }

    /// nginx passing PHP to `fpm`, waiting at most `timeout` for its answers.
    pub fn pass_php_with_read_timeout(&self, fpm: &Fpm, timeout: &str) {
        let wait = format!("fastcgi_read_timeout {timeout}");
        self.nginx(|c| c.server(&wait).location(PHP, Pass::fastcgi(fpm)));
    }

    /// php-fpm running `pool` served `/ok.php`, then stopped: the next request is a real
    /// 502 in the error log. The stopped php-fpm is returned to start again.
    pub fn with_stopped_fpm(&self, pool: Pool) -> Fpm {
        let fpm = self.serving_php(pool);
        self.stop(fpm.pid);
        assert_eq!(self.get("/ok.php"), 502, "php-fpm stopped: 502");
        fpm
    }

    /// A new lab whose php-fpm pool `www`, behind a unix socket, served a page and then
    /// stopped (the commonest 502): the lab and the stopped php-fpm.
    pub fn stopped_fpm_scenario() -> (Lab, Fpm) {
        let lab = Lab::new();
        let fpm = lab.with_stopped_fpm(Pool::unix("www"));
        (lab, fpm)
    }
}

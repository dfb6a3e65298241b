//! Bundles on disk: written as a directory, read from a directory, a
//! `.tar.gz` of one, or a bare `bundle.json`.
//!
//! An archive is read in memory, never unpacked: a bundle comes from
//! another host, and its member names must not decide where files land
//! here. Sizes are bounded for the same reason.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::redact::Redactor;
use super::{BUNDLE_FILE, Bundle, BundleError, FORMAT, REPORT_FILE};

/// The most a bundle file (or archive) may hold.
const MAX_MIB: u64 = 256;
const MAX_BYTES: u64 = MAX_MIB << 20;

/// A bundle read back, with the report recorded beside it when there is one.
#[derive(Debug)]
pub struct Loaded {
    pub bundle: Bundle,
    pub report: Option<serde_json::Value>,
}

/// Reads the bundle at `path`: a directory holding `bundle.json`, a
/// `.tar.gz` of such a directory, or the `bundle.json` itself.
pub fn load(path: &Path) -> Result<Loaded, BundleError> {
    let read_err = |source| BundleError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(read_err)?;
    let (bundle, report) = if meta.is_dir() {
        let bundle = read_capped(&path.join(BUNDLE_FILE)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BundleError::Missing {
                path: path.to_owned(),
            },
            _ => read_err(e),
        })?;
        (bundle, read_capped(&path.join(REPORT_FILE)).ok())
    } else {
        let bytes = read_capped(path).map_err(read_err)?;
        if bytes.starts_with(&[0x1f, 0x8b]) {
            from_archive(path, &bytes)?
        } else {
            (bytes, None)
        }
    };
    if bytes_over_limit(&bundle) {
        return Err(BundleError::TooLarge {
            path: path.to_owned(),
            limit: MAX_MIB,
        });
    }
    let bundle = parse(path, &bundle)?;
    let report = report.and_then(|r| serde_json::from_slice(&r).ok());
    Ok(Loaded { bundle, report })
}

fn bytes_over_limit(bytes: &[u8]) -> bool {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_BYTES
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Bundle, BundleError> {
    // The format is checked before the rest, so a newer bundle says so
    // instead of failing on a field this build does not know.
    #[derive(serde::Deserialize)]
    struct Head {
        format: u32,
    }
    let parse_err = |source| BundleError::Parse {
        path: path.to_owned(),
        source,
    };
    let head: Head = serde_json::from_slice(bytes).map_err(parse_err)?;
    if head.format != FORMAT {
        return Err(BundleError::Format {
            path: path.to_owned(),
            found: head.format,
        });
    }
    serde_json::from_slice(bytes).map_err(parse_err)
}

/// A file's bytes, refusing one larger than a bundle can be.
fn read_capped(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `bundle.json` (the shallowest one) and the `report.json` beside it.
fn from_archive(path: &Path, gz: &[u8]) -> Result<(Vec<u8>, Option<Vec<u8>>), BundleError> {
    let read_err = |source| BundleError::Read {
        path: path.to_owned(),
        source,
    };
    let decoder = flate2::read::GzDecoder::new(gz).take(MAX_BYTES + 1);
    let mut archive = tar::Archive::new(decoder);
    let mut members: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let name = entry.path().map_err(read_err)?.into_owned();
        let wanted = name
            .file_name()
            .is_some_and(|n| n == BUNDLE_FILE || n == REPORT_FILE);
        if !wanted || !entry.header().entry_type().is_file() {
            continue;
        }
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        members.push((name, bytes));
    }
    let Some(bundle_at) = members
        .iter()
        .filter(|(n, _)| n.file_name().is_some_and(|f| f == BUNDLE_FILE))
        .map(|(n, _)| n.clone())
        .min_by_key(|n| n.components().count())
    else {
        return Err(BundleError::Missing {
            path: path.to_owned(),
        });
    };
    let report_at = bundle_at.with_file_name(REPORT_FILE);
    let mut bundle = None;
    let mut report = None;
    for (name, bytes) in members {
        if name == bundle_at {
            bundle = Some(bytes);
        } else if name == report_at {
            report = Some(bytes);
        }
    }
    Ok((bundle.unwrap_or_default(), report))
}

/// Writes `bundle` and `report` to `dir` (created, readable by its owner
/// only), every string redacted on the way.
pub fn save(dir: &Path, bundle: &Bundle, report: &serde_json::Value) -> Result<(), BundleError> {
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Write { path, source }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(write_err(dir))?;
    let redactor = Redactor::new();
    let bundle_at = dir.join(BUNDLE_FILE);
    let bundle = redacted(bundle, &redactor).map_err(write_err(&bundle_at))?;
    write_json(&bundle_at, &bundle).map_err(write_err(&bundle_at))?;
    let report_at = dir.join(REPORT_FILE);
    write_json(&report_at, &redactor.redact_json(report.clone())).map_err(write_err(&report_at))
}

/// The bundle with every string redacted, still a [`Bundle`] so it is
/// written in its own field order (`format` first) for people reading it.
fn redacted(bundle: &Bundle, redactor: &Redactor) -> io::Result<Bundle> {
    let value = serde_json::to_value(bundle).map_err(io::Error::other)?;
    serde_json::from_value(redactor.redact_json(value)).map_err(io::Error::other)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::super::{HostDetails, Recording};
    use super::*;
    use crate::probe::{Invocation, ProbeStatus};
    use std::collections::BTreeMap;

    fn bundle(stdout: &str) -> Bundle {
        Bundle {
            format: FORMAT,
            tool_version: "0.1.0".into(),
            recorded_at: "2026-11-24T21:18:00Z".into(),
            mode: "auto".into(),
            host: HostDetails::default(),
            context: BTreeMap::new(),
            answers: BTreeMap::new(),
            observations: vec![Recording {
                probe: "nginx-test".into(),
                node: "config-test".into(),
                invocation: Invocation::Command {
                    argv: vec!["nginx".into(), "-T".into()],
                },
                status: ProbeStatus::Ok,
                exit: Some(0),
                stdout: stdout.into(),
                stderr: String::new(),
                duration_ms: 12,
                facts: BTreeMap::new(),
                shown_as: "nginx -T".into(),
                reason: None,
            }],
            fixes: Vec::new(),
        }
    }

    fn tar_gz(members: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, bytes) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_saved_bundle_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("b");
        save(
            &target,
            &bundle("hello"),
            &serde_json::json!({"findings": []}),
        )
        .unwrap();
        let loaded = load(&target).unwrap();
        assert_eq!(loaded.bundle.observations, bundle("hello").observations);
        assert_eq!(loaded.report, Some(serde_json::json!({"findings": []})));
    }

    #[test]
    fn secrets_are_redacted_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        save(
            dir.path(),
            &bundle("fastcgi_param DB_PASSWORD hunter2;"),
            &serde_json::json!({"excerpt": "Cookie: sid=hunter2"}),
        )
        .unwrap();
        for name in [BUNDLE_FILE, REPORT_FILE] {
            let text = fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(!text.contains("hunter2"), "{name}: {text}");
            assert!(text.contains("[redacted]"), "{name}: {text}");
        }
    }

    #[test]
    fn the_format_comes_first_for_people_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &bundle(""), &serde_json::json!({})).unwrap();
        let text = fs::read_to_string(dir.path().join(BUNDLE_FILE)).unwrap();
        assert!(text.starts_with("{\n  \"format\": 1,"), "{text}");
    }

    #[test]
    fn the_bundle_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("b");
        save(&target, &bundle(""), &serde_json::json!({})).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&target), 0o700);
        assert_eq!(mode(&target.join(BUNDLE_FILE)), 0o600);
    }

    #[test]
    fn a_tar_gz_is_read_in_memory_with_its_report() {
        let dir = tempfile::tempdir().unwrap();
        let json = serde_json::to_vec(&bundle("x")).unwrap();
        let path = dir.path().join("b.tar.gz");
        fs::write(
            &path,
            tar_gz(&[
                ("rec/notes.txt", b"ignored"),
                ("rec/bundle.json", &json),
                ("rec/report.json", b"{\"path\": []}"),
            ]),
        )
        .unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.bundle.observations[0].stdout, "x");
        assert_eq!(loaded.report, Some(serde_json::json!({"path": []})));
    }

    #[test]
    fn a_bare_bundle_json_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.json");
        fs::write(&path, serde_json::to_vec(&bundle("x")).unwrap()).unwrap();
        assert!(load(&path).unwrap().report.is_none());
    }

    #[test]
    fn an_archive_without_a_bundle_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar.gz");
        fs::write(&path, tar_gz(&[("x/other.json", b"{}")])).unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, BundleError::Missing { .. }), "{err}");
    }

    #[test]
    fn a_directory_without_a_bundle_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("holds no bundle.json"), "{err}");
    }

    #[test]
    fn another_format_is_refused_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.json");
        fs::write(&path, r#"{"format": 2, "observations": "changed"}"#).unwrap();
        let err = load(&path).unwrap_err();
        assert!(matches!(err, BundleError::Format { found: 2, .. }), "{err}");
    }

    #[test]
    fn garbage_is_not_a_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.json");
        fs::write(&path, "not json").unwrap();
        assert!(matches!(
            load(&path).unwrap_err(),
            BundleError::Parse { .. }
        ));
    }
}

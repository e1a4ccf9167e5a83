//! `.tar`, `.tar.gz` and `.tgz` archives of an inference directory (e.g. PaddleClas's
//! `PPLCNetV2_base_infer.tar`), read in place: only the model and parameter members are kept in memory.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{model_role, pick, ModelFiles};
use crate::error::{Error, Result};

/// True for names ending in `.tar`, `.tar.gz` or `.tgz` (lower case).
pub(crate) fn is_archive_name(lower: &str) -> bool {
    lower.ends_with(".tar") || lower.ends_with(".tar.gz") || lower.ends_with(".tgz")
}

/// The path used in messages for a member of an archive: `archive.tar[dir/inference.pdiparams]`.
fn member_path(archive: &Path, member: &str) -> PathBuf {
    PathBuf::from(format!("{}[{member}]", archive.display()))
}

/// Reads the archive at `path` and picks the model inside it (one directory with a model + parameters).
pub(crate) fn locate_in_archive(path: &Path) -> Result<ModelFiles> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::file(path, format!("cannot read the archive: {e}")))?;
    let mut head = [0u8; 2];
    let gz = {
        let mut f = &file;
        let n = f
            .read(&mut head)
            .map_err(|e| Error::file(path, format!("cannot read the archive: {e}")))?;
        n == 2 && head == [0x1f, 0x8b]
    };
    let file = std::fs::File::open(path)
        .map_err(|e| Error::file(path, format!("cannot read the archive: {e}")))?;
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    locate_in_reader(path, reader)
}

/// [`locate_in_archive`] on an archive already in memory (`path` names it in messages).
pub(crate) fn locate_in_archive_bytes(path: &Path, bytes: &[u8]) -> Result<ModelFiles> {
    let reader: Box<dyn Read + '_> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    locate_in_reader(path, reader)
}

fn locate_in_reader(path: &Path, reader: Box<dyn Read + '_>) -> Result<ModelFiles> {
    let members = read_members(path, reader)?;
    if members.is_empty() {
        return Err(Error::file(
            path,
            "the archive holds no .pdmodel, .json or .pdiparams file (expected an exported inference directory)",
        ));
    }
    // Group member names by directory; exactly one directory may hold a model.
    let mut dirs: Vec<String> = members.iter().map(|(n, _)| parent(n).to_string()).collect();
    dirs.sort();
    dirs.dedup();
    let mut found = Vec::new();
    let mut reasons = Vec::new();
    for dir in &dirs {
        let names: Vec<String> = members
            .iter()
            .filter(|(n, _)| parent(n) == dir)
            .map(|(n, _)| base(n).to_string())
            .collect();
        match pick(&names) {
            Ok(p) => found.push((dir.clone(), p)),
            Err(r) => reasons.push(format!("{}: {r}", if dir.is_empty() { "." } else { dir })),
        }
    }
    let (dir, (format, model, params)) = match found.len() {
        1 => found.remove(0),
        0 => {
            return Err(Error::file(
                path,
                format!("no usable model in the archive ({})", reasons.join("; ")),
            ))
        }
        _ => {
            let list: Vec<&str> = found.iter().map(|(d, _)| d.as_str()).collect();
            return Err(Error::file(
                path,
                format!(
                    "the archive holds several models (in {}); keep one",
                    list.join(", ")
                ),
            ));
        }
    };
    let join = |f: &str| {
        if dir.is_empty() {
            f.to_string()
        } else {
            format!("{dir}/{f}")
        }
    };
    let (model_name, params_name) = (join(&model), join(&params));
    let take = |name: &str| {
        members
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b.clone())
            .unwrap_or_default()
    };
    let name = if dir.is_empty() {
        let s = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let lower = s.to_ascii_lowercase();
        let cut = [".tar.gz", ".tgz", ".tar"]
            .iter()
            .find(|e| lower.ends_with(*e))
            .map_or(0, |e| e.len());
        s[..s.len() - cut].to_string()
    } else {
        base(&dir).to_string()
    };
    Ok(ModelFiles {
        format,
        model: take(&model_name),
        params: take(&params_name),
        model_path: member_path(path, &model_name),
        params_path: member_path(path, &params_name),
        name,
    })
}

/// Every regular file member whose name looks like a model or parameter file, with its bytes.
fn read_members(path: &Path, reader: Box<dyn Read + '_>) -> Result<Vec<(String, Vec<u8>)>> {
    let bad = |e: std::io::Error| Error::file(path, format!("not a readable tar archive: {e}"));
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(bad)?
            .to_string_lossy()
            .replace('\\', "/");
        let name = name.trim_start_matches("./").to_string();
        if model_role(base(&name)).is_none() || base(&name).starts_with("._") {
            continue;
        }
        let mut bytes = Vec::with_capacity(entry.size().min(1 << 26) as usize);
        entry.read_to_end(&mut bytes).map_err(|e| {
            Error::file(
                member_path(path, &name),
                format!("cannot read from the archive: {e}"),
            )
        })?;
        out.push((name, bytes));
    }
    // Read on to the end: the tar reader stops at the end-of-archive blocks, before the gzip trailer,
    // whose CRC-32 and length would otherwise go unchecked (a cut or corrupted .tgz could load).
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(|e| {
        Error::file(
            path,
            format!("the archive is corrupt or truncated after its last member: {e}"),
        )
    })?;
    Ok(out)
}

fn parent(name: &str) -> &str {
    name.trim_end_matches('/')
        .rsplit_once('/')
        .map_or("", |(d, _)| d)
}

fn base(name: &str) -> &str {
    name.trim_end_matches('/')
        .rsplit_once('/')
        .map_or(name, |(_, b)| b)
}

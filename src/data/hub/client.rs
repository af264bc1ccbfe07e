//! The Hub's HTTP API as `huggingface_hub` uses it: a revision resolved to a commit, the repo's
//! files listed at that commit, each file fetched from `resolve/` (following the redirect the Hub
//! gives for LFS files), checked against its sha256 and size, and only then put in place.
//! `HF_TOKEN` goes to the Hub's own host only, never to a host it redirects to, and never into a
//! message.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::catalog::HubRepo;
use crate::error::{Error, Result};

/// The Hub's address when `HF_ENDPOINT` does not name another.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// Retries of a request the Hub answered 429 (too many requests), and of a broken transfer.
const RETRIES: u32 = 4;
/// The longest `Retry-After` waited for.
const MAX_WAIT: Duration = Duration::from_secs(60);

pub struct Client {
    /// `scheme://host[:port]` and any path prefix, without a trailing slash.
    endpoint: String,
    token: Option<String>,
    agent: ureq::Agent,
    quiet: bool,
}

/// One file of the repo as the tree API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct RepoFile {
    pub path: String,
    pub size: u64,
    /// The sha256 the Hub keeps for an LFS file (every Parquet file the `datasets` library
    /// pushes); `None` for a file stored in git itself.
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Deserialize)]
struct Lfs {
    oid: String,
    size: u64,
}

#[derive(Deserialize)]
struct RevisionInfo {
    sha: String,
}

/// Why a request got no answer to use.
pub enum Trouble {
    /// The Hub could not be reached: a cached copy may do.
    Unreachable(String),
    Refused(Error),
}

impl Trouble {
    pub fn into_error(self, endpoint: &str) -> Error {
        match self {
            Trouble::Refused(e) => e,
            Trouble::Unreachable(why) => Error::Hub(format!(
                "cannot reach the Hugging Face Hub at {endpoint}: {why}\n  Check the network (or HF_ENDPOINT), or run with --offline once the data set is in the cache"
            )),
        }
    }
}

impl From<Error> for Trouble {
    fn from(e: Error) -> Trouble {
        Trouble::Refused(e)
    }
}

/// `/` and other reserved characters escaped, as a revision or path goes into a URL.
fn escape(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `scheme://authority` of an absolute http(s) URL.
fn origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..url.len() - rest.len() + end])
}

impl Client {
    /// The Hub of `HF_ENDPOINT` (default huggingface.co), with `HF_TOKEN` if set.
    pub fn from_env(quiet: bool) -> Result<Client> {
        let endpoint = std::env::var("HF_ENDPOINT").ok().filter(|e| !e.trim().is_empty());
        let token = std::env::var("HF_TOKEN").ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        Client::new(endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT), token, quiet)
    }

    pub fn new(endpoint: &str, token: Option<String>, quiet: bool) -> Result<Client> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_string();
        if origin(&endpoint).is_none() {
            return Err(Error::Hub(format!(
                "HF_ENDPOINT={endpoint:?} is not an http:// or https:// address; unset it to use {DEFAULT_ENDPOINT}"
            )));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(60 * 60)))
            .user_agent(format!("runner/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { endpoint, token, agent, quiet })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The commit `revision` (a branch, tag or commit) of `repo` points at.
    pub fn commit(&self, repo: &HubRepo, revision: &str) -> Result<String, Trouble> {
        let url = format!("{}/api/datasets/{}/revision/{}", self.endpoint, repo.id(), escape(revision, false));
        let response = self.send("GET", &url, None, &Target::Revision(repo, revision))?.response;
        let info: RevisionInfo = read_json(response, &url).map_err(Trouble::Refused)?;
        if info.sha.len() != 40 || !info.sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Trouble::Refused(Error::Hub(format!(
                "{url}: the Hub answered commit {:?}, which is not a commit id",
                info.sha
            ))));
        }
        Ok(info.sha.to_ascii_lowercase())
    }

    /// Every file of `repo` at `commit`, following the listing's pages.
    pub fn files(&self, repo: &HubRepo, commit: &str) -> Result<Vec<RepoFile>, Trouble> {
        let mut url = format!("{}/api/datasets/{}/tree/{commit}?recursive=true&expand=false", self.endpoint, repo.id());
        let mut files = Vec::new();
        for _page in 0..10_000 {
            let response = self.send("GET", &url, None, &Target::Revision(repo, commit))?.response;
            let next = next_page(&response);
            let entries: Vec<TreeEntry> = read_json(response, &url).map_err(Trouble::Refused)?;
            for entry in entries.into_iter().filter(|e| e.kind == "file") {
                let sha256 = entry.lfs.as_ref().map(|l| l.oid.to_ascii_lowercase());
                let size = entry.lfs.as_ref().map_or(entry.size, |l| l.size);
                files.push(RepoFile { path: entry.path, size, sha256 });
            }
            match next {
                // A next page on another host is not followed: the token would go with it.
                Some(next) if origin(&next) == origin(&self.endpoint) => url = next,
                Some(next) => {
                    return Err(Trouble::Refused(Error::Hub(format!(
                        "{url}: the listing's next page is on another host ({next}); not followed"
                    ))));
                }
                None => return Ok(files),
            }
        }
        Err(Trouble::Refused(Error::Hub(format!("{url}: the listing did not end after 10000 pages"))))
    }

    /// Fetches `file` of `repo` at `commit` into `dest` (through a temporary file beside it,
    /// renamed only once its size and sha256 match), resuming a broken transfer with `Range`.
    /// Returns the file's sha256.
    pub fn download(&self, repo: &HubRepo, commit: &str, file: &RepoFile, dest: &Path) -> Result<String, Trouble> {
        let url = format!("{}/datasets/{}/resolve/{commit}/{}", self.endpoint, repo.id(), escape(&file.path, true));
        let target = Target::File(repo, commit, &file.path);
        let temp = dest.with_file_name(format!(
            ".{}.{}.incomplete",
            dest.file_name().map_or("file".into(), |n| n.to_string_lossy().into_owned()),
            std::process::id()
        ));
        let result = self.download_to(&url, &target, file, &temp);
        match result {
            Ok(sha256) => {
                std::fs::rename(&temp, dest).map_err(|e| Trouble::Refused(Error::io(dest)(e)))?;
                Ok(sha256)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(e)
            }
        }
    }

    fn download_to(&self, url: &str, target: &Target, file: &RepoFile, temp: &Path) -> Result<String, Trouble> {
        let mut out = std::fs::File::create(temp).map_err(|e| Trouble::Refused(Error::io(temp)(e)))?;
        let mut hash = Sha256::new();
        let mut have = 0u64;
        let mut linked: Option<String> = None;
        let hidden = self.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = super::super::fetch::progress_bar(&file.path, Some(file.size), hidden);
        let mut broken = String::new();
        for attempt in 0..=RETRIES {
            if attempt > 0 && !self.quiet {
                bar.println(format!("  {}: connection broke off ({broken}); resuming at byte {have}", file.path));
            }
            let Answer { response, linked_etag } = self.send("GET", url, Some(have), target)?;
            linked = linked_etag.or(linked);
            let partial = response.status().as_u16() == 206;
            if have > 0 && !partial {
                // The server ignored the range: start again from the first byte.
                out.set_len(0).and_then(|()| out.sync_all()).map_err(|e| Trouble::Refused(Error::io(temp)(e)))?;
                out = std::fs::File::create(temp).map_err(|e| Trouble::Refused(Error::io(temp)(e)))?;
                hash = Sha256::new();
                have = 0;
                bar.set_position(0);
            }
            let mut reader = response.into_body().into_with_config().limit(file.size.saturating_add(1)).reader();
            let mut chunk = vec![0u8; 1 << 16];
            let read = loop {
                match reader.read(&mut chunk) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        have += n as u64;
                        if have > file.size {
                            break Err(format!("more than the {} bytes the listing gives", file.size));
                        }
                        hash.update(&chunk[..n]);
                        out.write_all(&chunk[..n]).map_err(|e| Trouble::Refused(Error::io(temp)(e)))?;
                        bar.inc(n as u64);
                    }
                    Err(e) => break Err(e.to_string()),
                }
            };
            match read {
                Ok(()) if have == file.size => {
                    bar.finish_and_clear();
                    out.sync_all().map_err(|e| Trouble::Refused(Error::io(temp)(e)))?;
                    let sha256 = format!("{:x}", hash.finalize());
                    return check(&sha256, file, linked.as_deref(), target).map(|()| sha256);
                }
                Ok(()) => broken = format!("ended after {have} of {} bytes", file.size),
                Err(why) if have > file.size => {
                    return Err(Trouble::Refused(corrupt(target, &why)));
                }
                Err(why) => broken = why,
            }
        }
        bar.finish_and_clear();
        Err(Trouble::Unreachable(format!(
            "{}: the transfer broke off {} times ({broken}); {have} of {} bytes arrived",
            file.path,
            RETRIES + 1,
            file.size
        )))
    }

    /// One request, following redirects by hand (the token only to the Hub's own host, only to
    /// http(s) URLs) and waiting out 429s; an answer the Hub refuses with becomes its error.
    fn send(&self, method: &str, url: &str, from_byte: Option<u64>, target: &Target) -> Result<Answer, Trouble> {
        let mut url = url.to_string();
        let mut waits = 0;
        let mut linked_etag = None;
        for _hop in 0..10 {
            let to_hub = origin(&url) == origin(&self.endpoint);
            let mut request = ureq::http::Request::builder().method(method).uri(&url);
            if let (true, Some(token)) = (to_hub, &self.token) {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            if let Some(from) = from_byte.filter(|&b| b > 0) {
                request = request.header("Range", format!("bytes={from}-"));
            }
            let request = request.body(()).map_err(|e| Error::Hub(format!("{url}: not a valid address: {e}")))?;
            let response = match self.agent.run(request) {
                Ok(response) => response,
                Err(e) => return Err(Trouble::Unreachable(format!("{}: {e}", strip_query(&url)))),
            };
            let status = response.status().as_u16();
            // The Hub gives an LFS file's sha256 on its redirect, not on the CDN's answer.
            if let Some(etag) = response.headers().get("x-linked-etag").and_then(|v| v.to_str().ok()) {
                linked_etag = Some(etag.trim_start_matches("W/").trim_matches('"').to_ascii_lowercase());
            }
            if (300..400).contains(&status) {
                let Some(location) = response.headers().get("location").and_then(|v| v.to_str().ok()) else {
                    return Err(Error::Hub(format!("{url}: redirect ({status}) without a Location")).into());
                };
                url = if location.starts_with('/') {
                    format!("{}{location}", origin(&url).expect("the URL was checked"))
                } else if origin(location).is_some() {
                    location.to_string()
                } else {
                    return Err(Error::Hub(format!(
                        "{}: the server redirected to {location:?}, which is not an http(s) address; refused",
                        strip_query(&url)
                    ))
                    .into());
                };
                continue;
            }
            if status == 429 && waits < RETRIES {
                waits += 1;
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(Duration::from_secs(1), Duration::from_secs)
                    .min(MAX_WAIT);
                if !self.quiet {
                    eprintln!("the Hub asks to slow down (429); retrying in {} s", wait.as_secs());
                }
                std::thread::sleep(wait);
                continue;
            }
            if status >= 400 {
                return Err(Trouble::Refused(self.refusal(&response, status, &url, target)));
            }
            return Ok(Answer { response, linked_etag });
        }
        Err(Error::Hub(format!("{}: more than 10 redirects", strip_query(&url))).into())
    }

    /// The Hub's refusal as a message naming the repo, revision or file, and `HF_TOKEN` where a
    /// token could help.
    fn refusal(&self, response: &ureq::http::Response<ureq::Body>, status: u16, url: &str, target: &Target) -> Error {
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let code = header("x-error-code");
        let (repo, page) = (target.repo(), target.page(&self.endpoint));
        let token_hint = match self.token {
            Some(_) => "HF_TOKEN is set: check that its account can read the repo",
            None => {
                "if the repo is private or gated, set HF_TOKEN to an access token (https://huggingface.co/settings/tokens)"
            }
        };
        let message = match (code.as_str(), status) {
            ("GatedRepo", _) => format!(
                "{repo} is a gated repo: accept its conditions at {page} with your account, then set HF_TOKEN to that account's access token{}",
                if self.token.is_some() { " (the one set was refused)" } else { "" }
            ),
            ("", 401) if self.token.is_some() => {
                format!(
                    "the Hub refused HF_TOKEN for {repo} (401): the token is invalid or expired; create a new one at https://huggingface.co/settings/tokens"
                )
            }
            ("RepoNotFound", _) | ("", 401) => {
                format!(
                    "{repo} was not found on the Hub ({status}): check the name (dataset = \"hf:OWNER/NAME\"); {token_hint}"
                )
            }
            ("RevisionNotFound", _) => format!(
                "{repo} has no revision {:?} ({status}): set hf_revision to one of its branches, tags or commits (see {page})",
                target.revision()
            ),
            ("EntryNotFound", _) => {
                format!("{repo}: {} was not found at commit {} ({status})", target.path(), target.revision())
            }
            (_, 403) => format!("{repo}: access refused (403); {token_hint}"),
            _ => format!("{}: HTTP {status} {}", strip_query(url), header("x-error-message")),
        };
        Error::Hub(message)
    }
}

/// A usable answer, and the sha256 the Hub announced on the way (`X-Linked-Etag`).
struct Answer {
    response: ureq::http::Response<ureq::Body>,
    linked_etag: Option<String>,
}

/// What a request is about, for its error messages.
enum Target<'a> {
    Revision(&'a HubRepo, &'a str),
    File(&'a HubRepo, &'a str, &'a str),
}

impl Target<'_> {
    fn repo(&self) -> String {
        match self {
            Target::Revision(repo, _) | Target::File(repo, ..) => repo.spec_name().to_string(),
        }
    }
    fn revision(&self) -> &str {
        match self {
            Target::Revision(_, revision) | Target::File(_, revision, _) => revision,
        }
    }
    fn path(&self) -> &str {
        match self {
            Target::Revision(..) => "",
            Target::File(_, _, path) => path,
        }
    }
    fn page(&self, endpoint: &str) -> String {
        match self {
            Target::Revision(repo, _) | Target::File(repo, ..) => format!("{endpoint}/datasets/{}", repo.id()),
        }
    }
}

fn corrupt(target: &Target, why: &str) -> Error {
    Error::Hub(format!("{}: {} arrived corrupt: {why}", target.repo(), target.path()))
}

/// The file's checksum against the listing's and the one the download announced.
fn check(sha256: &str, file: &RepoFile, linked: Option<&str>, target: &Target) -> Result<(), Trouble> {
    for (what, expected) in [("the repo's listing", file.sha256.as_deref()), ("the download's X-Linked-Etag", linked)] {
        if let Some(expected) = expected
            && expected.len() == 64
            && expected != sha256
        {
            return Err(Trouble::Refused(corrupt(
                target,
                &format!("its sha256 is {sha256}, {what} gives {expected} (file discarded)"),
            )));
        }
    }
    Ok(())
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The `rel="next"` link of a paginated answer.
fn next_page(response: &ureq::http::Response<ureq::Body>) -> Option<String> {
    let link = response.headers().get("link")?.to_str().ok()?;
    link.split(',').find(|part| part.contains("rel=\"next\"")).and_then(|part| {
        let start = part.find('<')? + 1;
        let end = part.find('>')?;
        Some(part[start..end].to_string())
    })
}

fn read_json<T: serde::de::DeserializeOwned>(response: ureq::http::Response<ureq::Body>, url: &str) -> Result<T> {
    let text = response
        .into_body()
        .into_with_config()
        .limit(256 << 20)
        .read_to_string()
        .map_err(|e| Error::Hub(format!("{}: the answer broke off: {e}", strip_query(url))))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Hub(format!("{}: not the Hub's JSON ({e}); is HF_ENDPOINT a Hub?", strip_query(url))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_escape_revisions_and_keep_path_slashes() {
        assert_eq!(escape("refs/convert/parquet", false), "refs%2Fconvert%2Fparquet");
        assert_eq!(escape("plain_text/train-00000-of-00001.parquet", true), "plain_text/train-00000-of-00001.parquet");
        assert_eq!(escape("a b", true), "a%20b");
        assert_eq!(origin("https://huggingface.co/api/x"), Some("https://huggingface.co"));
        assert_eq!(origin("http://127.0.0.1:8080"), Some("http://127.0.0.1:8080"));
        assert_eq!(origin("ftp://example.com/x"), None);
        assert_eq!(origin("/relative"), None);
    }
}

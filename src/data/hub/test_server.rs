//! A local Hugging Face Hub on 127.0.0.1 for tests and benchmarks: the endpoints the runner uses
//! (`/api/datasets/{repo}/revision/{rev}`, `/api/datasets/{repo}/tree/{rev}` paginated with a
//! `Link` header, `/datasets/{repo}/resolve/{rev}/{path}` answering LFS files with a 302 to a second
//! "CDN" host and `X-Linked-Etag`), the Hub's error codes (`RepoNotFound`, `GatedRepo`,
//! `RevisionNotFound`, `EntryNotFound`), `Range` requests, and faults a test can ask for.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// A repo the fake Hub serves.
#[derive(Clone, Default)]
pub struct FakeRepo {
    /// `owner/name`.
    pub id: String,
    /// Branch or tag -> commit.
    pub refs: BTreeMap<String, String>,
    /// Commit -> its files (path -> bytes).
    pub commits: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Served only with this token (a private repo).
    pub token: Option<String>,
    /// Gated: needs a token, and answers `GatedRepo`.
    pub gated: bool,
}

impl FakeRepo {
    /// A repo whose `main` is one commit holding `files`.
    pub fn new(id: &str, files: BTreeMap<String, Vec<u8>>) -> FakeRepo {
        let commit = format!("{:x}", Sha256::digest(format!("{id}{}", files.len())))[..40].to_string();
        FakeRepo {
            id: id.into(),
            refs: [("main".to_string(), commit.clone())].into(),
            commits: [(commit, files)].into(),
            ..FakeRepo::default()
        }
    }

    pub fn main_commit(&self) -> &str {
        &self.refs["main"]
    }
}

/// Something the fake Hub does wrong on purpose.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The CDN sends these bytes instead of the file's (same length).
    Corrupt(String),
    /// The CDN cuts the file's transfer off halfway, this many times.
    CutOff(String, u32),
    /// The next N requests get 429 with `Retry-After: 0`.
    TooMany(u32),
    /// `resolve/` redirects there instead of to the CDN.
    RedirectTo(String),
}

/// One request the fake Hub (or its CDN) got.
#[derive(Clone, Debug)]
pub struct Logged {
    pub host: &'static str,
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    repos: Vec<FakeRepo>,
    faults: Vec<Fault>,
    log: Vec<Logged>,
    endpoint: String,
}

/// A running fake Hub; it serves until the process ends.
#[derive(Clone)]
pub struct FakeHub {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FakeHub {
    pub fn start(repos: Vec<FakeRepo>) -> FakeHub {
        let hub = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let cdn = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let endpoint = format!("http://{}", hub.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State { repos, endpoint: endpoint.clone(), ..State::default() }));
        let cdn_base = format!("http://{}", cdn.local_addr().unwrap());
        for (listener, host) in [(hub, "hub"), (cdn, "cdn")] {
            let (state, cdn_base) = (state.clone(), cdn_base.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (state, cdn_base) = (state.clone(), cdn_base.clone());
                    std::thread::spawn(move || serve(stream, host, &state, &cdn_base));
                }
            });
        }
        FakeHub { endpoint, state }
    }

    pub fn fault(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push(fault);
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// Files downloaded from the CDN since the log was cleared.
    pub fn downloads(&self) -> usize {
        self.log().iter().filter(|l| l.host == "cdn" && l.method == "GET").count()
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send only this many bytes of the body, then close.
    cut_at: Option<usize>,
}

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Reply {
    Reply { status, headers: Vec::new(), body: body.into(), cut_at: None }
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    let mut r = reply(status, format!("{{\"error\":\"{message}\"}}"));
    if !code.is_empty() {
        r.headers.push(("X-Error-Code".into(), code.into()));
    }
    r.headers.push(("X-Error-Message".into(), message.into()));
    r
}

fn serve(stream: TcpStream, host: &'static str, state: &Mutex<State>, cdn: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut headers = BTreeMap::new();
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        line.clear();
    }
    let mut parts = request.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let authorization = headers.get("authorization").cloned();
    let range =
        headers.get("range").and_then(|r| r.strip_prefix("bytes=")?.trim_end_matches('-').parse::<usize>().ok());
    let mut state = state.lock().unwrap();
    state.log.push(Logged { host, method: method.clone(), path: target.clone(), authorization: authorization.clone() });
    let too_many = state.faults.iter().position(|f| matches!(f, Fault::TooMany(n) if *n > 0));
    let mut r = if let Some(i) = too_many {
        if let Fault::TooMany(n) = &mut state.faults[i] {
            *n -= 1;
        }
        let mut r = error(429, "", "Too Many Requests");
        r.headers.push(("Retry-After".into(), "0".into()));
        r
    } else if host == "cdn" {
        cdn_reply(&mut state, &target, range)
    } else {
        hub_reply(&state, &target, authorization.as_deref(), cdn)
    };
    drop(state);
    let mut stream = stream;
    let body = if method == "HEAD" { Vec::new() } else { std::mem::take(&mut r.body) };
    let length = if method == "HEAD" { r.body.len() } else { body.len() };
    let reason = match r.status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\nContent-Length: {length}\r\nConnection: close\r\n", r.status);
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let send = &body[..r.cut_at.unwrap_or(body.len()).min(body.len())];
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(send));
    let _ = stream.flush();
}

fn cdn_reply(state: &mut State, target: &str, range: Option<usize>) -> Reply {
    let Some(sha) = target.strip_prefix("/lfs/") else { return reply(404, "no such object") };
    let Some((path, bytes)) = state
        .repos
        .iter()
        .flat_map(|r| r.commits.values().flat_map(|files| files.iter()))
        .find(|(_, b)| sha256(b) == sha)
        .map(|(p, b)| (p.clone(), b.clone()))
    else {
        return reply(404, "no such object");
    };
    let mut bytes = bytes;
    if state.faults.contains(&Fault::Corrupt(path.clone())) {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x5a;
    }
    let from = range.unwrap_or(0).min(bytes.len());
    let mut r = reply(if from > 0 { 206 } else { 200 }, bytes[from..].to_vec());
    if from > 0 {
        r.headers.push(("Content-Range".into(), format!("bytes {from}-{}/{}", bytes.len() - 1, bytes.len())));
    }
    if let Some(i) = state.faults.iter().position(|f| matches!(f, Fault::CutOff(p, n) if *p == path && *n > 0)) {
        if let Fault::CutOff(_, n) = &mut state.faults[i] {
            *n -= 1;
        }
        r.cut_at = Some(r.body.len() / 2);
    }
    r
}

fn hub_reply(state: &State, target: &str, authorization: Option<&str>, cdn: &str) -> Reply {
    let path = target.split('?').next().unwrap_or(target);
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let (api, rest) = if let Some(rest) = path.strip_prefix("/api/datasets/") {
        (true, rest)
    } else if let Some(rest) = path.strip_prefix("/datasets/") {
        (false, rest)
    } else {
        return reply(404, "not found");
    };
    let mut parts = rest.splitn(4, '/');
    let (owner, name, action, tail) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let id = format!("{owner}/{name}");
    let token = authorization.and_then(|a| a.strip_prefix("Bearer "));
    let Some(repo) = state.repos.iter().find(|r| r.id == id) else {
        return match token {
            None => error(401, "RepoNotFound", "Repository not found"),
            Some(_) => error(404, "RepoNotFound", "Repository not found"),
        };
    };
    if let Some(needed) = &repo.token {
        let allowed = token == Some(needed.as_str());
        match (token, allowed, repo.gated) {
            (_, true, _) => {}
            (None, _, true) => return error(401, "GatedRepo", "Access to this dataset is restricted"),
            (Some(_), _, true) => return error(403, "GatedRepo", "Access to this dataset is restricted"),
            (None, _, false) => return error(401, "RepoNotFound", "Repository not found"),
            (Some(_), _, false) => return error(401, "", "Invalid credentials in Authorization header"),
        }
    }
    let (revision, file) = match (api, action) {
        (true, "revision") => (decode(tail), String::new()),
        (true, "tree") => {
            let (rev, sub) = tail.split_once('/').unwrap_or((tail, ""));
            (decode(rev), decode(sub))
        }
        (false, "resolve") => {
            let (rev, file) = tail.split_once('/').unwrap_or((tail, ""));
            (decode(rev), decode(file))
        }
        _ => return reply(404, "not found"),
    };
    let commit = repo.refs.get(&revision).cloned().unwrap_or(revision.clone());
    let Some(files) = repo.commits.get(&commit) else {
        return error(404, "RevisionNotFound", &format!("Invalid rev id: {revision}"));
    };
    match action {
        "revision" => {
            reply(200, serde_json::json!({"id": id, "sha": commit, "private": repo.token.is_some()}).to_string())
        }
        "tree" => {
            let mut entries: Vec<serde_json::Value> = Vec::new();
            let mut dirs = std::collections::BTreeSet::new();
            for (path, bytes) in files.iter().filter(|(p, _)| p.starts_with(&file)) {
                let mut prefix = String::new();
                for part in path.split('/').collect::<Vec<_>>().split_last().map_or(&[][..], |(_, d)| d) {
                    prefix = if prefix.is_empty() { part.to_string() } else { format!("{prefix}/{part}") };
                    dirs.insert(prefix.clone());
                }
                entries.push(serde_json::json!({
                    "type": "file", "oid": &sha256(path.as_bytes())[..40], "size": bytes.len(), "path": path,
                    "lfs": {"oid": sha256(bytes), "size": bytes.len(), "pointerSize": 134},
                }));
            }
            for dir in dirs {
                entries.push(serde_json::json!({"type": "directory", "oid": "0".repeat(40), "size": 0, "path": dir}));
            }
            // Pages of 3 entries, as the Hub pages long listings.
            let start: usize = query.split('&').find_map(|kv| kv.strip_prefix("cursor=")?.parse().ok()).unwrap_or(0);
            let page: Vec<_> = entries.iter().skip(start).take(3).cloned().collect();
            let mut r = reply(200, serde_json::Value::Array(page).to_string());
            if start + 3 < entries.len() {
                r.headers.push((
                    "Link".into(),
                    format!(
                        "<{}{path}?recursive=true&expand=false&cursor={}>; rel=\"next\"",
                        state.endpoint,
                        start + 3
                    ),
                ));
            }
            r
        }
        _ => match files.get(&file) {
            None => error(404, "EntryNotFound", &format!("{file} does not exist on \"{revision}\"")),
            Some(bytes) => {
                let mut r = reply(302, Vec::new());
                let elsewhere = state.faults.iter().find_map(|f| match f {
                    Fault::RedirectTo(url) => Some(url.clone()),
                    _ => None,
                });
                r.headers
                    .push(("Location".into(), elsewhere.unwrap_or_else(|| format!("{cdn}/lfs/{}", sha256(bytes)))));
                r.headers.push(("X-Linked-Etag".into(), format!("\"{}\"", sha256(bytes))));
                r.headers.push(("X-Linked-Size".into(), bytes.len().to_string()));
                r.headers.push(("X-Repo-Commit".into(), commit.clone()));
                r
            }
        },
    }
}

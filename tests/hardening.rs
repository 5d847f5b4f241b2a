//! The attacks of the second security review, reproduced against the real
//! portal on both backends: parallel wrong passwords against the sign-in
//! lock, a gzip bomb, slow downloads that would hold the pool, and the
//! smaller findings (Origin scheme, forwarded headers, account names that
//! differ in case, weak passwords, HEAD, enormous lines in an upload).
//! Encoded paths are in `security.rs`, beside the route table they use.

#![allow(clippy::unwrap_used)]

mod common;

use authinsights::accounts::Role;
use authinsights::config::WebSettings;
use authinsights::db;
use common::binary::serve_demo;
use common::{
    generate_demo, input_value, new_client, session_cookie, stalled_reader, texts, Backend,
    TestApp, ADMIN, PASSWORD,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Posts the sign-in form with a fresh client: (status, page text).
async fn try_sign_in(app: &TestApp, name: &str, password: &str) -> (u16, String) {
    let client = new_client();
    let response = app.sign_in(&client, name, password).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn parallel_wrong_passwords(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_account("target", Role::GlobalAdministrator);
    // 150 wrong passwords at once, each with its own client and form.
    let attempts = (0..150).map(|i| {
        let app = &app;
        async move { try_sign_in(app, "target", &format!("wrong guess number {i}")).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let count = |status: u16| answers.iter().filter(|(s, _)| *s == status).count();
    let server_errors: Vec<_> = answers.iter().filter(|(s, _)| *s >= 500).collect();
    assert!(server_errors.is_empty(), "no 5xx: {server_errors:?}");
    // The limit is 5 per account: five attempts were checked, four answered
    // "wrong" and the fifth set the lock; every other one was refused
    // without its password being looked at.
    assert_eq!(count(401), 4, "four wrong passwords were told so");
    assert_eq!(count(429), 146, "the rest were refused as locked");
    let locks = app.with_conn(|conn| {
        db::audit::entries(conn, None, 1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "account locked" && e.target == "target")
            .count()
    });
    assert_eq!(locks, 1, "the lock is audited once");
    // The right password is refused while the lock holds.
    let (status, page) = try_sign_in(&app, "target", PASSWORD).await;
    assert_eq!(status, 429);
    assert!(
        texts(&page, ".form-error")
            .iter()
            .any(|t| t.contains("locked until")),
        "{page}"
    );
    // Another account from the same address: the address has used 5 of its 20.
    app.add_account("bystander", Role::ReportsReader);
    let (status, _) = try_sign_in(&app, "bystander", PASSWORD).await;
    assert_eq!(status, 303, "other accounts still sign in");
}
db_test!(
    parallel_wrong_passwords_verify_at_most_the_limit,
    parallel_wrong_passwords
);

async fn right_password_at_the_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_account("careful", Role::ReportsReader);
    for i in 0..4 {
        let (status, _) = try_sign_in(&app, "careful", &format!("almost right {i}")).await;
        assert_eq!(status, 401);
    }
    // The fifth attempt is the last the limit allows: it arms the lock (and
    // its audit row) before its password is checked, and being right, lifts it.
    let (status, _) = try_sign_in(&app, "careful", PASSWORD).await;
    assert_eq!(status, 303, "the right password signs in");
    let (actions, locks) = app.with_conn(|conn| {
        let actions: Vec<(String, String)> = db::audit::entries(conn, None, 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.target == "careful")
            .map(|e| (e.action, e.actor))
            .collect();
        let now = chrono::Utc::now().naive_utc();
        (actions, db::throttle::current_locks(conn, now).unwrap())
    });
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert!(
        names.contains(&"account locked") && names.contains(&"account unlocked"),
        "the armed lock and its lifting are both audited: {actions:?}"
    );
    assert!(locks.is_empty(), "no lock remains: {locks:?}");
    // And the account is not locked: another wrong password is just wrong.
    let (status, _) = try_sign_in(&app, "careful", "wrong again").await;
    assert_eq!(status, 401);
}
db_test!(
    the_right_password_at_the_limit_lifts_the_lock_it_armed,
    right_password_at_the_limit
);

async fn parallel_guesses_from_one_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // 60 names at once from one address: the address allows 20 attempts.
    let attempts = (0..60).map(|i| {
        let app = &app;
        async move { try_sign_in(app, &format!("guess{i}"), "wrong password here").await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let checked = answers.iter().filter(|(s, _)| *s == 401).count();
    let blocked = answers.iter().filter(|(s, _)| *s == 429).count();
    assert!(
        answers.iter().all(|(s, _)| *s == 401 || *s == 429),
        "{answers:?}"
    );
    assert_eq!(checked + blocked, 60);
    assert_eq!(checked, 19, "19 told wrong, the 20th set the block");
    let (status, _) = try_sign_in(&app, ADMIN, PASSWORD).await;
    assert_eq!(
        status, 429,
        "the address is blocked, even with a right password"
    );
}
db_test!(
    parallel_guesses_from_one_address_verify_at_most_its_limit,
    parallel_guesses_from_one_address
);

/// The server process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// 1 GiB of `A`, gzipped (about 1 MB).
fn gzip_bomb() -> Vec<u8> {
    use flate2::write::GzEncoder;
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b'A'; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&block).unwrap();
    }
    encoder.finish().unwrap()
}

/// Sends `body` chunked with `Content-Encoding: gzip`; the status line's code
/// (None when the server closed the connection before answering).
fn send_bomb(address: &str, path: &str, content_type: &str, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(address.trim_start_matches("http://")).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n\
         Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let _ = stream.write_all(head.as_bytes());
    for chunk in body.chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).ok()?;
    std::str::from_utf8(&answer[9..12]).ok()?.parse().ok()
}

async fn gzip_bomb_attack(backend: Backend) {
    let served = serve_demo(backend, 50, Stdio::null());
    let pid = served.server.0.id();
    let address = served.address.clone();
    let bomb = std::sync::Arc::new(gzip_bomb());
    assert!(
        bomb.len() < 2 << 20,
        "the bomb is small: {} bytes",
        bomb.len()
    );
    let client = new_client();
    for _ in 0..20 {
        assert_eq!(
            client
                .get(format!("{address}/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let idle = rss_kib(pid);

    // Sampled every 5 ms while 120 bombs arrive at once.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let senders: Vec<_> = (0..120)
        .map(|i| {
            let (bomb, address) = (bomb.clone(), address.clone());
            std::thread::spawn(move || {
                let (path, kind) = match i % 3 {
                    0 => ("/sign-in", "application/x-www-form-urlencoded"),
                    1 => ("/api/v1/events", "application/json"),
                    _ => ("/admin/policy", "application/x-www-form-urlencoded"),
                };
                send_bomb(&address, path, kind, &bomb)
            })
        })
        .collect();
    // The portal keeps answering meanwhile.
    let started = Instant::now();
    let health = client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .unwrap();
    let health_time = started.elapsed();
    let statuses: Vec<Option<u16>> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();

    assert_eq!(health.status(), 200);
    assert!(
        health_time < Duration::from_secs(1),
        "/healthz took {health_time:?}"
    );
    let refused = statuses.iter().filter(|s| **s == Some(415)).count();
    assert!(
        statuses.iter().all(|s| s.is_none() || *s == Some(415)),
        "every bomb is refused unread: {statuses:?}"
    );
    assert!(refused > 0, "{statuses:?}");
    let grown = peak.saturating_sub(idle);
    assert!(
        grown <= 32 * 1024,
        "peak memory {peak} KiB is {grown} KiB above the idle {idle} KiB"
    );
    // What a client that compresses is told.
    let api = client
        .post(format!("{address}/api/v1/events"))
        .header("content-encoding", "gzip")
        .header("content-type", "application/json")
        .body(vec![0u8; 16])
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 415);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("without Content-Encoding"));
}
db_test!(
    a_gzip_bomb_is_refused_without_inflating_it,
    gzip_bomb_attack
);

async fn slow_downloads(backend: Backend) {
    let mut settings = WebSettings::from_env();
    settings.downloads.idle = Duration::from_secs(2);
    let app = TestApp::spawn_with(backend, settings).await;
    generate_demo(&app, 2_000);
    let path = "/activity.csv?range=30d";
    let whole = app.get(path).await.bytes().await.unwrap();
    assert!(
        whole.len() > 12 << 20,
        "the download outgrows the socket buffers: {} bytes",
        whole.len()
    );

    // 16 clients ask for it and read nothing. The pool has 4 connections;
    // downloads may take 2.
    let cookie = session_cookie(&app).await;
    let mut readers: Vec<TcpStream> = (0..16)
        .map(|_| stalled_reader(&app.address, path, &cookie))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Pages, health and sign-in answer meanwhile, promptly.
    let started = Instant::now();
    let page = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for probe in ["/", "/registrations", "/healthz"] {
        let response = page
            .get(format!("{}{probe}", app.address))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{probe}");
    }
    let (status, _) = try_sign_in(&app, ADMIN, PASSWORD).await;
    assert_eq!(status, 303, "sign-in works while the downloads stall");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // Two downloads stream; the other fourteen were told to come back.
    let mut heads = Vec::new();
    for reader in &mut readers {
        reader
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = vec![0u8; 512];
        let n = reader.read(&mut head).unwrap();
        heads.push(String::from_utf8_lossy(&head[..n]).to_string());
    }
    let streaming = heads
        .iter()
        .filter(|h| h.starts_with("HTTP/1.1 200"))
        .count();
    let refused: Vec<&String> = heads
        .iter()
        .filter(|h| h.starts_with("HTTP/1.1 503"))
        .collect();
    assert_eq!(streaming, 2, "{heads:?}");
    assert_eq!(refused.len(), 14, "{heads:?}");
    assert!(refused
        .iter()
        .all(|h| h.to_ascii_lowercase().contains("retry-after: 5")));

    // A stalled download is cut off once its client has read nothing for
    // the idle time: its place and connection come back, so a new download
    // is let in (while they stall, it would get a 503).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = app.get(path).await;
        if response.status() == 200 {
            assert_eq!(response.bytes().await.unwrap().len(), whole.len());
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(
            Instant::now() < deadline,
            "the stalled downloads were never cut off"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for reader in &readers {
        reader
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    let mut cut = 0;
    for (reader, head) in readers.iter_mut().zip(&heads) {
        if !head.starts_with("HTTP/1.1 200") {
            continue;
        }
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        let all = [head.as_bytes(), &rest].concat();
        assert!(
            all.len() < whole.len(),
            "the stalled download was not sent whole: {} of {} bytes, ends {:?}",
            all.len(),
            whole.len(),
            String::from_utf8_lossy(&all[all.len().saturating_sub(40)..])
        );
        assert!(!all.ends_with(b"\r\n0\r\n\r\n"), "no final chunk");
        cut += 1;
    }
    assert_eq!(cut, 2);
}
db_test!(
    slow_downloads_leave_pages_and_sign_in_answering,
    slow_downloads
);

async fn origin_scheme(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app.get("/admin/policy").await.text().await.unwrap();
    let csrf = input_value(&page, "csrf");
    let host = app.address.trim_start_matches("http://").to_string();
    let post = |origin: String| {
        app.client
            .post(format!("{}/admin/imports/retention", app.address))
            .header("origin", origin)
            .form(&[("csrf", csrf.as_str()), ("days", "45")])
            .send()
    };
    // The same host and port over another scheme is another origin.
    assert_eq!(post(format!("https://{host}")).await.unwrap().status(), 403);
    assert_eq!(post(format!("http://{host}")).await.unwrap().status(), 303);
}
db_test!(an_origin_with_another_scheme_is_refused, origin_scheme);

async fn forwarded_headers(backend: Backend) {
    // Untrusted (the default) is in security.rs; behind a configured proxy
    // the scheme it reports counts.
    let mut settings = WebSettings::from_env();
    settings.security.trust_forwarded_for = true;
    let app = TestApp::spawn_with(backend, settings).await;
    let page = new_client()
        .get(format!("{}/sign-in", app.address))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
    // And the API's links name the address the proxy was reached at.
    app.with_conn(common::tenant::build_worked_example);
    let next = next_link_behind(&app, "portal.contoso.example").await;
    assert!(
        next.starts_with("https://portal.contoso.example/"),
        "{next}"
    );
}
db_test!(a_trusted_proxy_reports_the_scheme, forwarded_headers);

/// The next link of a one-row API page asked for with `X-Forwarded-Proto:
/// https` and `X-Forwarded-Host: host`.
async fn next_link_behind(app: &TestApp, host: &str) -> String {
    let key = app.with_conn(|conn| {
        let now = chrono::Utc::now().naive_utc();
        db::api_keys::create_key(conn, "k", true, false, "test", now)
            .unwrap()
            .1
    });
    let answer: serde_json::Value = new_client()
        .get(format!("{}/api/v1/registrations?size=1", app.address))
        .bearer_auth(&key)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["@odata.nextLink"]
        .as_str()
        .unwrap_or_else(|| panic!("a next link: {answer}"))
        .to_string()
}

async fn untrusted_forwarded_host(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(common::tenant::build_worked_example);
    let next = next_link_behind(&app, "evil.example").await;
    assert!(next.starts_with(&format!("{}/", app.address)), "{next}");
}
db_test!(
    forwarded_headers_from_a_client_are_ignored,
    untrusted_forwarded_host
);

async fn names_ignore_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .post_form(
            &app.client,
            "/admin/accounts",
            "/admin/accounts",
            &[("username", "TESTER"), ("role", "reports-reader")],
        )
        .await;
    let page = response.text().await.unwrap();
    assert!(page.contains("already exists"), "{page}");
    let names = app.with_conn(|conn| {
        db::accounts::list_accounts(conn)
            .unwrap()
            .into_iter()
            .map(|a| a.username)
            .collect::<Vec<_>>()
    });
    assert_eq!(names, [ADMIN]);
    // One account, however its name is typed at sign-in.
    let (status, _) = try_sign_in(&app, "TeStEr", PASSWORD).await;
    assert_eq!(status, 303);
    // The database itself refuses a second spelling.
    let clash = app.with_conn(|conn| {
        db::accounts::create_account(conn, "Tester", Role::ReportsReader, "x", false)
    });
    assert!(clash.is_err());
}
db_test!(account_names_differing_in_case_are_one, names_ignore_case);

async fn weak_passwords(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for weak in ["aaaaaaaaaaaa", "password1234", "tester123456"] {
        let response = app
            .post_form(
                &app.client,
                "/account/password",
                "/account/password",
                &[("current", PASSWORD), ("new", weak), ("repeat", weak)],
            )
            .await;
        assert_eq!(response.status(), 400, "{weak}");
        let page = response.text().await.unwrap();
        assert!(page.contains("too easy to guess"), "{weak}: {page}");
    }
    // The command line refuses it too, and says why.
    let added = common::binary::account_add(&app.db, "rita", "reports-reader", "aaaaaaaaaaaa");
    assert!(!added.status.success());
    let said = String::from_utf8_lossy(&added.stderr);
    assert!(said.contains("too easy to guess"), "{said}");
    let strong = "violet kettle harbour sprint";
    let response = app
        .post_form(
            &app.client,
            "/account/password",
            "/account/password",
            &[("current", PASSWORD), ("new", strong), ("repeat", strong)],
        )
        .await;
    assert_eq!(response.status(), 303);
}
db_test!(weak_passwords_are_refused_with_a_reason, weak_passwords);

async fn head_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.with_conn(common::tenant::build_worked_example);
    for path in [
        "/",
        "/registrations",
        "/registrations.csv",
        "/healthz",
        "/sign-in",
    ] {
        let get = app.get(path).await;
        let head = app
            .client
            .head(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    // An anonymous HEAD is sent to sign in, like its GET.
    let head = new_client()
        .head(format!("{}/registrations", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 303);
}
db_test!(head_is_answered_like_get_without_a_body, head_requests);

async fn enormous_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = app.get("/admin/imports").await.text().await.unwrap();
    let csrf = input_value(&page, "csrf");
    let mut file = b"id,user_principal_name,display_name\nu1,a@contoso.example,\"".to_vec();
    file.extend(std::iter::repeat_n(b'x', 30 << 20));
    file.extend_from_slice(b"\"\n");
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("kind", "users")
        .part(
            "files",
            reqwest::multipart::Part::bytes(file).file_name("users.csv"),
        );
    let response = app
        .client
        .post(format!("{}/admin/imports", app.address))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("a line is longer than 1 MiB"),
        "{}",
        &page[..page.len().min(3000)]
    );
    assert!(page.contains("users.csv"));
    assert!(
        page.len() < 64 * 1024,
        "the page quotes little: {} bytes",
        page.len()
    );
}
db_test!(an_enormous_line_is_refused_as_it_is_read, enormous_line);

//! The `authinsights` binary as a user runs it: `serve --demo` on a database
//! of the test's own, stopped when the test ends, pass or fail.

use super::{Backend, TestDb};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};

pub fn authinsights() -> Command {
    Command::new(env!("CARGO_BIN_EXE_authinsights"))
}

/// Kills the process when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `authinsights serve --demo` on a random port.
pub struct ServedDemo {
    /// Declared before `db`, so the server stops before its database goes.
    pub server: Running,
    pub address: String,
    /// What the command printed before it served.
    pub printed: Vec<String>,
    /// The first Global Administrator's one-time password, as printed.
    pub one_time_password: String,
    pub db: TestDb,
}

/// Starts `serve --demo --demo-users USERS` on a new database and reads
/// what it prints until it serves. The server's log goes to `log`.
pub fn serve_demo(backend: Backend, users: u32, log: Stdio) -> ServedDemo {
    let db = TestDb::new(backend);
    let users = users.to_string();
    let (server, address, printed) = serve(&db, &["--demo", "--demo-users", &users], log);
    let one_time_password = printed
        .iter()
        .find_map(|l| l.trim_start().strip_prefix("Password:"))
        .map(|p| p.trim().to_string())
        .unwrap_or_else(|| panic!("a one-time password is printed:\n{}", printed.join("\n")));
    ServedDemo {
        server,
        address,
        printed,
        one_time_password,
        db,
    }
}

/// Starts `serve --bind 127.0.0.1:0` with `args` on `db` and reads what it
/// prints until it serves: the running server, its address and what it
/// printed. The server's log goes to `log`.
pub fn serve(db: &TestDb, args: &[&str], log: Stdio) -> (Running, String, Vec<String>) {
    let child = authinsights()
        .args([
            "--database-url",
            &db.raw_url,
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("the binary starts");
    let mut server = Running(child);
    let stdout = server.0.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let address = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the server exits before serving:\n{}", printed.join("\n")))
            .expect("readable output");
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("authinsights is serving ") {
            break rest
                .split_whitespace()
                .next()
                .expect("an address")
                .to_string();
        }
    };
    // Whatever it prints later is read and dropped, so it never blocks.
    std::thread::spawn(move || lines.for_each(drop));
    (server, address, printed)
}

/// `authinsights account add NAME --role ROLE --password-stdin`, the
/// password written to its input.
pub fn account_add(db: &TestDb, name: &str, role: &str, password: &str) -> Output {
    let mut child = authinsights()
        .args(["--database-url", &db.raw_url, "account", "add", name])
        .args(["--role", role, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    writeln!(child.stdin.take().expect("stdin is piped"), "{password}")
        .expect("the password is written");
    child.wait_with_output().expect("the command ends")
}

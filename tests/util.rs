//! Test harness: temporary directories, the built artifacts, daemons on
//! sockets of their own, real programs run under the shim (optionally as
//! another user), pseudo-terminal sessions, test users.
//!
//! Everything a test starts is stopped by pid when its guard drops, also
//! when the test fails.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The `target/<profile>` directory holding the built shim and daemons.
pub fn target_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = in_view(&built_dir());
        for f in ["libutmps.so", "utmps-utmpd", "utmps-wtmpd"] {
            assert!(
                dir.join(f).exists(),
                "{} is missing: build the workspace first (scripts/test does)",
                dir.join(f).display()
            );
        }
        dir
    })
}

/// Where cargo put this test binary's build: `target/<profile>` (the
/// binary is `target/<profile>/deps/tests-HASH`), at its real path.
fn built_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The repository and the build as the suite sees them: bind-mounted at
/// a path every test user can reach (see [`isolate_from_the_machine`]),
/// wherever the clone is (`/root`, mode 0700, included).
const VIEW: &str = "/home/.utmps-rs";
/// The build directory's parent, where it is not under the repository.
const VIEW_TARGET: &str = "/home/.utmps-rs-target";

/// The mounts of [`VIEW`] and [`VIEW_TARGET`], set up once.
static VIEWS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();

/// `path` as the suite's programs see it: under [`VIEW`].
fn in_view(path: &Path) -> PathBuf {
    let Some((repo, target)) = VIEWS.get() else {
        return path.to_path_buf();
    };
    if let Ok(rest) = path.strip_prefix(repo) {
        return Path::new(VIEW).join(rest);
    }
    match path.strip_prefix(target) {
        Ok(rest) => Path::new(VIEW_TARGET).join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// The repository at its real path.
fn real_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo")
        .to_path_buf()
}

/// The shim.
pub fn shim() -> PathBuf {
    target_dir().join("libutmps.so")
}

/// A daemon binary.
pub fn daemon(name: &str) -> PathBuf {
    target_dir().join(name)
}

/// The repository root.
pub fn repo() -> PathBuf {
    in_view(&real_repo())
}

/// A C compiler of the test matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cc {
    /// gcc against glibc.
    Gnu,
    /// musl-gcc against musl.
    Musl,
}

impl Cc {
    /// Both compilers.
    pub const ALL: [Cc; 2] = [Cc::Gnu, Cc::Musl];

    fn command(self) -> &'static str {
        match self {
            Cc::Gnu => "gcc",
            Cc::Musl => "musl-gcc",
        }
    }
}

/// `tests/c/NAME.c` compiled with `cc`, once per test run.
pub fn c_program(name: &str, cc: Cc) -> PathBuf {
    c_program_with(name, cc, &[])
}

/// As [`c_program`], with extra linker arguments (e.g. `-lutempter`).
pub fn c_program_with(name: &str, cc: Cc, libs: &[&str]) -> PathBuf {
    static BUILT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let out_dir = target_dir().join("c-tests");
    let out = out_dir.join(format!("{name}-{}", cc.command()));
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.contains(&out) {
        fs::create_dir_all(&out_dir).expect("mkdir c-tests");
        let src = repo().join("tests/c").join(format!("{name}.c"));
        let status = Command::new(cc.command())
            .args(["-O2", "-Wall", "-Wno-stringop-truncation", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .args(libs)
            .status()
            .unwrap_or_else(|e| panic!("{}: {e}", cc.command()));
        assert!(
            status.success(),
            "compiling {} with {} failed",
            src.display(),
            cc.command()
        );
        built.push(out.clone());
    }
    out
}

/// Puts this test process in a private mount namespace where nothing it
/// does reaches the machine's own files: `/etc` is an overlay whose
/// changes (the test users and groups `useradd` and `groupadd` make) live
/// in a tmpfs, and `/home`, `/run` and `/var/log` are fresh tmpfs (so the
/// machine's `/run/utmp`, `/var/log/wtmp`, `/var/log/btmp` and
/// `/var/log/lastlog` are out of reach even for a test gone wrong). Every
/// process the tests start inherits the namespace, which ends with the
/// test process: the machine is left as it was found.
///
/// Runs before `main` (a constructor in `tests.rs`), while the process is
/// still single-threaded, as `unshare(CLONE_NEWNS)` requires. Aborts with
/// a clear message where the suite cannot run (not root, no namespaces).
pub fn isolate_from_the_machine() {
    fn fail(what: &str) -> ! {
        eprintln!(
            "utmps-tests: cannot isolate the suite from the machine ({what}: {}); \
             the integration tests need root and mount namespaces",
            std::io::Error::last_os_error()
        );
        std::process::exit(2);
    }
    let mount = |src: &str, target: &str, fstype: &str, flags: libc::c_ulong, data: &str| {
        let cs = |s: &str| std::ffi::CString::new(s).expect("no NUL");
        let (csrc, ctarget, cfstype, cdata) = (cs(src), cs(target), cs(fstype), cs(data));
        // SAFETY: NUL-terminated strings that outlive the call.
        let r = unsafe {
            libc::mount(
                csrc.as_ptr(),
                ctarget.as_ptr(),
                cfstype.as_ptr(),
                flags,
                cdata.as_ptr().cast(),
            )
        };
        if r != 0 {
            fail(&format!("mount {fstype} on {target}"));
        }
    };
    // SAFETY: unshare has no memory-safety preconditions; the process is
    // single-threaded (constructors run before main).
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        fail("unshare");
    }
    mount("none", "/", "", libc::MS_REC | libc::MS_PRIVATE, "");
    // The overlay's upper layer lives in a tmpfs on a directory under
    // target/ (a mount point needs a directory; it stays empty on the host).
    let scratch = built_dir().join("test-namespace");
    if fs::create_dir_all(&scratch).is_err() {
        fail("mkdir target/test-namespace");
    }
    let scratch = scratch.to_string_lossy().into_owned();
    mount("tmpfs", &scratch, "tmpfs", 0, "mode=0755");
    for d in ["etc-upper", "etc-work"] {
        if fs::create_dir(format!("{scratch}/{d}")).is_err() {
            fail("mkdir in the scratch tmpfs");
        }
    }
    mount(
        "overlay",
        "/etc",
        "overlay",
        0,
        &format!("lowerdir=/etc,upperdir={scratch}/etc-upper,workdir={scratch}/etc-work"),
    );
    for d in ["/home", "/run", "/var/log"] {
        mount(
            "tmpfs",
            d,
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            "mode=0755",
        );
    }
    // What a booted Debian has in /run and the programs under test expect.
    // /run/utmps: where `at_default_sockets` mounts a test's daemons.
    for (d, mode) in [
        ("/run/lock", 0o1777),
        ("/run/screen", 0o1777),
        ("/run/utmps", 0o755),
    ] {
        if fs::create_dir(d).is_err()
            || fs::set_permissions(d, fs::Permissions::from_mode(mode)).is_err()
        {
            fail(d);
        }
    }
    // Test users run the shim, the daemons and the C programs from the
    // build: the clone may sit where only its owner can enter (/root,
    // mode 0700), so the suite sees the repository (and a build
    // directory outside it) at a path in the fresh /home instead.
    let (repo, built) = (real_repo(), built_dir());
    let target = built.parent().unwrap_or(&built).to_path_buf();
    let mut views = vec![(repo.clone(), VIEW)];
    if !built.starts_with(&repo) {
        views.push((target.clone(), VIEW_TARGET));
    }
    for (src, view) in &views {
        if fs::create_dir(view).is_err() {
            fail(view);
        }
        mount(
            &src.to_string_lossy(),
            view,
            "",
            libc::MS_BIND | libc::MS_REC,
            "",
        );
    }
    let _ = VIEWS.set((repo, target));
    // What cargo made must itself be open to others (a umask of 077
    // makes it 0700): say so once, instead of every loader error.
    let shim = in_view(&built.join("libutmps.so"));
    let closed = shim
        .ancestors()
        .take_while(|p| *p != Path::new("/home"))
        .find(|p| {
            let need = if p == &shim { 0o004 } else { 0o001 };
            !fs::metadata(p).is_ok_and(|m| m.permissions().mode() & need != 0)
        });
    if let Some(p) = closed {
        eprintln!(
            "utmps-tests: {} is closed to other users, who run the built programs in \
             the tests: build with umask 022, or chmod o+rX the repository and target/",
            p.display()
        );
        std::process::exit(2);
    }
}

/// The real musl-built programs (scripts/build-musl-real output).
pub fn musl_real(rel: &str) -> PathBuf {
    let dir = std::env::var_os("UTMPS_MUSL_REAL")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().parent().expect("target").join("muslreal"));
    let p = dir.join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/build-musl-real {} (scripts/test does)",
        p.display(),
        dir.display()
    );
    p
}

/// A temporary directory, removed on drop. World-traversable, so that test
/// users reach the sockets in it.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "utmps-test-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("mkdir temp");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod temp");
        TempDir(p)
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A subdirectory `name` owned by `user`, mode 0700.
    pub fn private_dir(&self, name: &str, user: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::create_dir(&p).expect("mkdir");
        let st = Command::new("chown")
            .arg(user)
            .arg(&p)
            .status()
            .expect("chown");
        assert!(st.success(), "chown {user}");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).expect("chmod");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A process that ends as the directory goes (a daemon's standby,
        // killed with its listener) may still create a file in it: retry.
        for _ in 0..50 {
            if fs::remove_dir_all(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A child process killed (by pid) and reaped on drop.
pub struct Guarded(pub Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` with its standard output piped and returns it with the
/// first line it prints (within 30 s).
pub fn spawn_until_line(mut cmd: Command) -> (Guarded, String) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{cmd:?} printed nothing"));
    (Guarded(child), line.trim().to_string())
}

/// Makes `cmd` run in a mount namespace of its own where `dir` is
/// `/run/utmps`, the directory of the default sockets. That is how a test
/// points a root process at its daemons: root ignores the `UTMPS_*`
/// variables (a user's environment survives `su`). Everything the program
/// starts shares the view; nothing else does.
pub fn at_default_sockets(cmd: &mut Command, dir: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let src = std::ffi::CString::new(dir.as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: between fork and exec the closure makes two system calls,
    // both async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    src.as_ptr(),
                    c"/run/utmps".as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A command for `program` run as `user` (setpriv, no shim).
pub fn as_user(user: &str, program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={user}"))
        .arg(format!("--regid={user}"))
        .arg("--init-groups")
        .arg(program);
    c
}

/// The pids of the children of `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-P", &parent.to_string()])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits until `path` exists (a daemon's socket).
pub fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How the daemons get their connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launcher {
    /// Their own `--listen`.
    Listen,
    /// skarnet's `s6-ipcserver` (Debian package s6).
    S6,
    /// `systemd-socket-activate --accept --inetd`, as a systemd
    /// `Accept=yes` socket with `StandardInput=socket`.
    Systemd,
    /// `systemd-socket-activate` with a public and a `priv` socket, as the
    /// shipped `Accept=no` units pass them (`--listen-fds`).
    SystemdUnits,
}

impl Launcher {
    /// All three.
    pub const ALL: [Launcher; 3] = [Launcher::Listen, Launcher::S6, Launcher::Systemd];
}

/// utmpd, wtmpd and a btmp wtmpd, each on a socket in a temporary
/// directory of its own.
pub struct Daemons {
    // Dropped in this order: the daemons, then their directory.
    _procs: Vec<Guarded>,
    /// The directory with the sockets and the record files.
    pub dir: TempDir,
}

impl Daemons {
    /// Starts the three daemons with extra `args` for each (e.g. `--format musl`).
    pub fn start() -> Daemons {
        Daemons::start_with(&[])
    }

    /// As [`Daemons::start`], with extra arguments for every daemon.
    pub fn start_with(args: &[&str]) -> Daemons {
        Daemons::start_via(Launcher::Listen, args)
    }

    /// Starts the three daemons through `launcher`.
    pub fn start_via(launcher: Launcher, args: &[&str]) -> Daemons {
        Daemons::start_full(launcher, args, &[])
    }

    /// Starts the three daemons through `launcher`, with `args` for every
    /// daemon and `wtmpd_args` for the two wtmpd alone.
    pub fn start_full(launcher: Launcher, args: &[&str], wtmpd_args: &[&str]) -> Daemons {
        let dir = TempDir::new("daemons");
        let d = dir.path();
        let spawn = |bin: &str, sock: &str, file: &str, extra: &[&str]| {
            let log = fs::File::create(d.join(format!("{sock}.log"))).expect("log");
            let mut cmd = match launcher {
                Launcher::Listen => {
                    let mut c = Command::new(daemon(bin));
                    c.arg("--listen").arg(d.join(sock));
                    c
                }
                Launcher::S6 => {
                    let mut c = Command::new("s6-ipcserver");
                    c.arg(d.join(sock)).arg(daemon(bin));
                    c
                }
                Launcher::Systemd => {
                    let mut c = Command::new("systemd-socket-activate");
                    c.args(["--accept", "--inetd", "-l"])
                        .arg(d.join(sock))
                        .arg(daemon(bin));
                    c
                }
                Launcher::SystemdUnits => {
                    let mut c = Command::new("systemd-socket-activate");
                    c.arg("-l")
                        .arg(d.join(sock))
                        .arg("-l")
                        .arg(d.join(format!("{sock}.priv")))
                        .arg("--fdname=public:priv")
                        .arg(daemon(bin))
                        .arg("--listen-fds");
                    c
                }
            };
            let child = cmd
                .args(args)
                .args(extra)
                .arg(d.join(file))
                .current_dir(d)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn daemon");
            Guarded(child)
        };
        let btmpd_args: Vec<&str> = ["--root-only"].iter().chain(wtmpd_args).copied().collect();
        let procs = vec![
            spawn("utmps-utmpd", ".utmpd-socket", "utmp", &[]),
            spawn("utmps-wtmpd", ".wtmpd-socket", "wtmp", wtmpd_args),
            spawn("utmps-wtmpd", ".btmpd-socket", "btmp", &btmpd_args),
        ];
        for s in [".utmpd-socket", ".wtmpd-socket", ".btmpd-socket"] {
            wait_for(&d.join(s));
            if matches!(launcher, Launcher::Systemd | Launcher::SystemdUnits) {
                // What a unit's SocketMode=0666 does; the tool has no option for it.
                fs::set_permissions(d.join(s), fs::Permissions::from_mode(0o666))
                    .expect("chmod socket");
            }
            if launcher == Launcher::SystemdUnits {
                // The privileged twin stays 0660 (root's group here).
                let p = d.join(format!("{s}.priv"));
                wait_for(&p);
                fs::set_permissions(&p, fs::Permissions::from_mode(0o660)).expect("chmod socket");
            }
        }
        Daemons { dir, _procs: procs }
    }

    /// The pids of the daemons (the listeners, with `--listen`).
    pub fn pids(&self) -> Vec<u32> {
        self._procs.iter().map(|p| p.0.id()).collect()
    }

    /// A file in the daemons' directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Points `cmd` (root's or a user's) at these daemons, through the
    /// default socket paths ([`at_default_sockets`]).
    pub fn bind(&self, cmd: &mut Command) {
        at_default_sockets(cmd, self.dir.path());
    }

    /// The variables that point an ordinary user's shim at these daemons
    /// (root ignores them).
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let d = self.dir.path();
        vec![
            ("UTMPS_UTMPD_SOCKET".into(), d.join(".utmpd-socket").into()),
            ("UTMPS_WTMPD_SOCKET".into(), d.join(".wtmpd-socket").into()),
            ("UTMPS_BTMPD_SOCKET".into(), d.join(".btmpd-socket").into()),
        ]
    }

    /// `utmpctl ARGS` (built with `cc`) as root under the shim, pointed at
    /// these daemons: its trimmed output ("ok", "err ERRNO", or records).
    pub fn utmpctl(&self, cc: Cc, args: &[&str]) -> String {
        self.cmd(c_program("utmpctl", cc))
            .args(args)
            .run()
            .stdout
            .trim()
            .to_string()
    }

    /// A command for `program` under the shim, pointed at these daemons.
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Run {
        Run::new(program).preload().sockets_in(self.dir.path())
    }
}

/// What a finished program did.
#[derive(Debug)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall-clock time it took.
    pub elapsed: Duration,
    desc: String,
}

impl Output {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert!(self.status.success(), "failed: {self}");
        &self.stdout
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n  status: {}\n  stdout:\n{}\n  stderr:\n{}",
            self.desc, self.status, self.stdout, self.stderr
        )
    }
}

/// A program to run: a small builder over `Command` with a timeout.
pub struct Run {
    cmd: Command,
    sockets: Option<PathBuf>,
    user: Option<String>,
    stdin: Option<Vec<u8>>,
    stdin_file: Option<fs::File>,
    timeout: Duration,
    desc: String,
}

impl Run {
    /// `program`, without the shim.
    pub fn new(program: impl AsRef<OsStr>) -> Run {
        let desc = program.as_ref().to_string_lossy().into_owned();
        let mut cmd = Command::new(program);
        cmd.env_remove("LD_PRELOAD")
            .env("LC_ALL", "C")
            .env("TZ", "UTC");
        Run {
            cmd,
            sockets: None,
            user: None,
            stdin: None,
            stdin_file: None,
            timeout: Duration::from_secs(30),
            desc,
        }
    }

    /// Preloads the shim.
    pub fn preload(mut self) -> Run {
        self.cmd.env("LD_PRELOAD", shim());
        self
    }

    /// Runs with `dir` as `/run/utmps` ([`at_default_sockets`]).
    pub fn sockets_in(mut self, dir: &Path) -> Run {
        self.sockets = Some(dir.to_path_buf());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Run {
        for a in args {
            self.desc.push(' ');
            self.desc.push_str(&a.as_ref().to_string_lossy());
            self.cmd.arg(a);
        }
        self
    }

    /// Sets a variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Run {
        self.cmd.env(k, v);
        self
    }

    /// Runs as `user` (through setpriv, which keeps the environment).
    pub fn user(mut self, user: &str) -> Run {
        self.user = Some(user.to_string());
        self
    }

    /// Feeds `data` on standard input.
    pub fn stdin(mut self, data: &[u8]) -> Run {
        self.stdin = Some(data.to_vec());
        self
    }

    /// Gives the program `file` (a terminal, say) as standard input.
    pub fn stdin_file(mut self, file: fs::File) -> Run {
        self.stdin_file = Some(file);
        self
    }

    /// Kills the program after `t`.
    pub fn timeout(mut self, t: Duration) -> Run {
        self.timeout = t;
        self
    }

    /// Runs to completion (or the timeout, which fails the test).
    pub fn run(mut self) -> Output {
        let mut cmd = match &self.user {
            None => self.cmd,
            Some(u) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={u}"))
                    .arg(format!("--regid={u}"))
                    .arg("--init-groups")
                    .arg(self.cmd.get_program())
                    .args(self.cmd.get_args());
                for (k, v) in self.cmd.get_envs() {
                    match v {
                        Some(v) => c.env(k, v),
                        None => c.env_remove(k),
                    };
                }
                self.desc = format!("[as {u}] {}", self.desc);
                c
            }
        };
        if let Some(dir) = &self.sockets {
            at_default_sockets(&mut cmd, dir);
        }
        let start = Instant::now();
        let stdin = match (self.stdin_file.take(), &self.stdin) {
            (Some(f), _) => Stdio::from(f),
            (None, Some(_)) => Stdio::piped(),
            (None, None) => Stdio::null(),
        };
        let mut child = cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.desc));
        let writer = self.stdin.take().map(|data| {
            let mut pipe = child.stdin.take().expect("stdin");
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            })
        });
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let t_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait") {
                break st;
            }
            if start.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not finish within {:?}", self.desc, self.timeout);
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = start.elapsed();
        if let Some(w) = writer {
            let _ = w.join();
        }
        Output {
            status,
            stdout: String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned(),
            stderr: String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned(),
            elapsed,
            desc: self.desc,
        }
    }
}

/// `script` (sh, under `set -eu`) in a mount namespace of its own where
/// the shim is preloaded system-wide, setuid and setgid programs included:
/// a copy of /etc in `dir` gets the shim in its ld.so.preload and is
/// bind-mounted over /etc, and the script does not start unless /etc is
/// that copy. The machine's own file is never written.
pub fn preloaded_system_wide(dir: &Path, script: &str) -> Run {
    let setup = r#"set -eu
cp -a /etc "$DIR/etc"
echo "$SHIM" > "$DIR/etc/ld.so.preload"
mount --bind "$DIR/etc" /etc
[ "$(stat -c %d:%i /etc)" = "$(stat -c %d:%i "$DIR/etc")" ] || exit 1
"#;
    Run::new("unshare")
        .args(["-m", "sh", "-c"])
        .args([format!("{setup}{script}")])
        .env("DIR", dir)
        .env("SHIM", shim())
}

/// Held by the tests that load the machine on purpose (floods, scanner
/// armies, thousands of processes) for their whole run, so that two of
/// them never overlap: the bounds they measure (root's writes within
/// 500 ms, within the deadline) are about what one attacker can do, not
/// two at once on two CPUs. Other tests still run beside them.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Creates test user `name` once (with a home and a group of its own) and
/// returns its uid. Only inside the suite's private namespace (see
/// [`isolate_from_the_machine`]): the machine's users stay as they are.
pub fn ensure_user(name: &str) -> u32 {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let id = || {
        Command::new("id")
            .args(["-u", name])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
    };
    if let Some(uid) = id() {
        return uid;
    }
    let st = Command::new("useradd")
        .args(["-m", "-s", "/bin/sh", name])
        .status()
        .expect("useradd");
    assert!(st.success(), "useradd {name} failed");
    id().expect("uid of new user")
}

/// A live terminal session: a process whose controlling terminal is a new
/// pseudo-terminal, as `w` needs to show an entry.
pub struct PtySession {
    /// The line, `pts/N`.
    pub line: String,
    /// The session leader's pid.
    pub pid: u32,
    _master: fs::File,
    _child: Guarded,
}

impl PtySession {
    /// Starts `sleep` on a new pty, optionally as `user` (who then owns the pty).
    pub fn start(user: Option<&str>) -> PtySession {
        let (master, slave_path) = open_pty();
        if let Some(u) = user {
            let st = Command::new("chown")
                .arg(u)
                .arg(&slave_path)
                .status()
                .expect("chown");
            assert!(st.success());
        }
        let slave = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave_path)
            .expect("open slave");
        let mut cmd = Command::new("setsid");
        if let Some(u) = user {
            cmd = Command::new("setpriv");
            cmd.arg(format!("--reuid={u}"))
                .arg(format!("--regid={u}"))
                .arg("--init-groups")
                .arg("setsid");
        }
        let child = cmd
            .args(["-c", "sleep", "600"])
            .stdin(slave.try_clone().expect("dup"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn session");
        let line = slave_path.trim_start_matches("/dev/").to_string();
        PtySession {
            line,
            pid: child.id(),
            _master: master,
            _child: Guarded(child),
        }
    }
}

/// Opens a new pty: the master and the slave's path.
pub fn open_pty() -> (fs::File, String) {
    let master = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/ptmx")
        .expect("open /dev/ptmx");
    use std::os::fd::AsRawFd;
    let fd = master.as_raw_fd();
    let mut unlock: libc::c_int = 0;
    let mut n: libc::c_uint = 0;
    // SAFETY: ioctls on a live pty master with pointers to live locals.
    unsafe {
        assert_eq!(
            libc::ioctl(fd, libc::TIOCSPTLCK, &mut unlock),
            0,
            "unlockpt"
        );
        assert_eq!(libc::ioctl(fd, libc::TIOCGPTN, &mut n), 0, "ptsname");
    }
    (master, format!("/dev/pts/{n}"))
}

/// Opens a new pty whose slave `user` owns: the master and the slave's path.
pub fn open_pty_of(user: &str) -> (fs::File, String) {
    let (master, slave) = open_pty();
    let st = Command::new("chown")
        .arg(user)
        .arg(&slave)
        .status()
        .expect("chown");
    assert!(st.success(), "chown {user} {slave}");
    (master, slave)
}

/// Polls `f` every 20 ms for up to 10 s until it returns `Some`.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// xorshift64*: reproducible pseudo-random input without a dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// One of `xs`.
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next_u64() % xs.len() as u64) as usize]
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The lines of `s` that contain `needle`.
pub fn lines_with<'a>(s: &'a str, needle: &str) -> Vec<&'a str> {
    s.lines().filter(|l| l.contains(needle)).collect()
}

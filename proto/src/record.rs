//! The record: one utmp/utmpx entry, independent of any C layout.

/// Size of `ut_line`.
pub const LINE_SIZE: usize = 32;
/// Size of `ut_id`.
pub const ID_SIZE: usize = 4;
/// Size of `ut_user`.
pub const USER_SIZE: usize = 32;
/// Size of `ut_host`.
pub const HOST_SIZE: usize = 256;
/// Size of the reserved tail, preserved byte for byte.
pub const RESERVED_SIZE: usize = 20;

/// `ut_type`: a transparent newtype so that unknown values survive a round trip.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(transparent)]
pub struct Kind(pub i16);

impl Kind {
    /// An unused slot.
    pub const EMPTY: Kind = Kind(0);
    /// A change of run level.
    pub const RUN_LVL: Kind = Kind(1);
    /// The time of system boot.
    pub const BOOT_TIME: Kind = Kind(2);
    /// The time after a clock change.
    pub const NEW_TIME: Kind = Kind(3);
    /// The time before a clock change.
    pub const OLD_TIME: Kind = Kind(4);
    /// A process spawned by init.
    pub const INIT_PROCESS: Kind = Kind(5);
    /// A getty waiting for a login.
    pub const LOGIN_PROCESS: Kind = Kind(6);
    /// A logged-in user's session.
    pub const USER_PROCESS: Kind = Kind(7);
    /// A session that ended.
    pub const DEAD_PROCESS: Kind = Kind(8);
    /// Accounting (unused on Linux).
    pub const ACCOUNTING: Kind = Kind(9);

    /// The four types glibc treats as process entries, matched by id or line.
    pub fn is_process(self) -> bool {
        matches!(
            self,
            Kind::INIT_PROCESS | Kind::LOGIN_PROCESS | Kind::USER_PROCESS | Kind::DEAD_PROCESS
        )
    }

    /// The four clock/run-level types, matched by type alone.
    pub fn is_clock(self) -> bool {
        matches!(
            self,
            Kind::RUN_LVL | Kind::BOOT_TIME | Kind::NEW_TIME | Kind::OLD_TIME
        )
    }
}

/// One utmp entry. Field names follow the C struct without the `ut_` prefix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Record {
    /// `ut_type`.
    pub kind: Kind,
    /// `ut_pid`.
    pub pid: i32,
    /// `ut_line`: the tty without `/dev/`, NUL padded.
    pub line: [u8; LINE_SIZE],
    /// `ut_id`: the inittab id or the tty suffix.
    pub id: [u8; ID_SIZE],
    /// `ut_user`.
    pub user: [u8; USER_SIZE],
    /// `ut_host`.
    pub host: [u8; HOST_SIZE],
    /// `ut_exit.e_termination`.
    pub exit_termination: i16,
    /// `ut_exit.e_exit`.
    pub exit_exit: i16,
    /// `ut_session`.
    pub session: i32,
    /// `ut_tv.tv_sec`.
    pub tv_sec: i64,
    /// `ut_tv.tv_usec`.
    pub tv_usec: i64,
    /// `ut_addr_v6`.
    pub addr_v6: [u32; 4],
    /// The reserved bytes, kept as they came.
    pub reserved: [u8; RESERVED_SIZE],
}

impl Default for Record {
    fn default() -> Self {
        Record::EMPTY
    }
}

impl Record {
    /// An all-zero record.
    pub const EMPTY: Record = Record {
        kind: Kind::EMPTY,
        pid: 0,
        line: [0; LINE_SIZE],
        id: [0; ID_SIZE],
        user: [0; USER_SIZE],
        host: [0; HOST_SIZE],
        exit_termination: 0,
        exit_exit: 0,
        session: 0,
        tv_sec: 0,
        tv_usec: 0,
        addr_v6: [0; 4],
        reserved: [0; RESERVED_SIZE],
    };

    /// `ut_user` up to its first NUL.
    pub fn user_str(&self) -> &[u8] {
        cstr(&self.user)
    }

    /// `ut_line` up to its first NUL.
    pub fn line_str(&self) -> &[u8] {
        cstr(&self.line)
    }
}

/// The bytes of a fixed-size C string field up to its first NUL.
pub fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or(field)
}

/// Copy `src` into a fixed-size field as `strncpy` does: truncate, NUL pad.
pub fn set_field(field: &mut [u8], src: &[u8]) {
    let src = cstr(src);
    for (i, b) in field.iter_mut().enumerate() {
        *b = src.get(i).copied().unwrap_or(0);
    }
}

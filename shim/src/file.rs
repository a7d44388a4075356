//! Plain files named by the program (not the system databases): handled
//! in-process with glibc's semantics and POSIX locks, under the caller's
//! own permissions.

use crate::client::Deadline;
use crate::sys::{self, Fd};
use core::ffi::CStr;
use proto::table::{Storage, Table};
use proto::{Errno, Layout, Record};

/// An open file as [`Storage`].
pub struct FdStorage<'a>(pub &'a Fd);

impl Storage for FdStorage<'_> {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        sys::pread(self.0, buf, offset)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        sys::pwrite(self.0, buf, offset)
    }
    fn size(&mut self) -> Result<u64, Errno> {
        sys::file_size(self.0)
    }
    fn truncate(&mut self, len: u64) -> Result<(), Errno> {
        sys::truncate(self.0, len)
    }
}

/// Takes glibc's whole-file lock (`F_RDLCK` or `F_WRLCK`), retrying until
/// `deadline` where glibc waits up to 10 s with an alarm.
pub fn lock(fd: &Fd, kind: libc::c_int, deadline: Deadline) -> Result<(), Errno> {
    loop {
        match sys::try_lock(fd, kind) {
            Ok(()) => return Ok(()),
            Err(e) if e == Errno::EAGAIN || e == Errno::EACCES || e == Errno::EINTR => {
                if deadline.expired() {
                    return Err(e);
                }
                sys::sleep_us(1000);
            }
            Err(e) => return Err(e),
        }
    }
}

/// `updwtmpx` on a plain file: append one record under a write lock,
/// cutting a torn tail first and rolling back a partial write. Like glibc,
/// the file is not created.
pub fn append(
    path: &CStr,
    layout: Layout,
    record: &Record,
    deadline: Deadline,
) -> Result<(), Errno> {
    let fd = sys::open(path, libc::O_WRONLY)?;
    lock(&fd, libc::F_WRLCK, deadline)?;
    let mut table = Table::new(FdStorage(&fd), layout);
    let result = table.count().and_then(|n| table.write(n, record));
    let _ = sys::try_lock(&fd, libc::F_UNLCK);
    result
}

//! Prints the three layouts this build chose at compile time, in the
//! `name=value` form of tests/c/layout.c's probe, so scripts/test-arch can
//! compare a cross build's table with that architecture's C compiler.
use proto::layout::{Layout, HOST};

fn main() {
    for (name, layout) in [
        ("glibc", Layout::Glibc),
        ("musl", Layout::Musl),
        ("wire", Layout::Wire),
    ] {
        let s = layout.shape();
        println!(
            "{name}: size={} align={} ut_type={} ut_pid={} ut_line={} ut_id={} ut_user={} \
             ut_host={} ut_exit={} ut_session={} ut_session_size={} ut_tv.tv_sec={} \
             ut_tv.tv_sec_size={} ut_tv.tv_usec={} ut_tv.tv_usec_size={} ut_addr_v6={} \
             RESERVED={} RESERVED_size=20 big_endian={}",
            s.size,
            s.align,
            s.kind,
            s.pid,
            s.line,
            s.id,
            s.user,
            s.host,
            s.exit,
            s.session,
            s.session_width,
            s.tv_sec,
            s.tv_width,
            s.tv_usec,
            s.tv_width,
            s.addr,
            s.reserved,
            u8::from(HOST.big_endian()),
        );
    }
}

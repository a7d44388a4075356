//! Integration tests: the built shim and daemons against real programs.
//! Run through `scripts/test`, which builds everything they use.

// Before anything else, and before the test harness starts its threads:
// nothing the suite does may reach the machine's own files.
#[used]
#[unsafe(link_section = ".init_array")]
static ISOLATE: extern "C" fn() = {
    extern "C" fn isolate() {
        util::isolate_from_the_machine();
    }
    isolate
};

mod admission;
mod boot;
mod deploy;
mod differential;
mod e2e;
mod faults;
mod files;
mod hostile;
mod hosts;
mod impostor;
mod isolation;
mod launch;
mod layouts;
mod matrix;
mod multiplexers;
mod programs;
mod reads;
mod rotation;
mod security;
mod symbols;
mod unwritable;
mod utempter;
mod write;
mod wtmpreads;

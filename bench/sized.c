/* An empty shared library as large as libutmps.so: SIZE bytes of code
 * that never runs (scripts/bench passes the size of the shim's code
 * segment), linked with the minimal layout. What preloading it costs an
 * exec is what a library of the shim's size and layout costs apart from
 * anything the shim does: the loader's first read of a library maps up to
 * 16 of its pages at once (the kernel's fault-around), and unmapping them
 * at exit costs as much again, whatever the code. */
#define STR_(x) #x
#define STR(x) STR_(x)

__attribute__((used)) static void padding(void)
{
    __asm__ volatile(".fill " STR(SIZE) ",1,0x90");
}

int utmps_bench_sized;

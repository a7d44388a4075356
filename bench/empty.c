/* An empty shared library: what preloading any library costs an exec. */
int utmps_bench_empty;

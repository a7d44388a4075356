/* true: the smallest program, to measure what preloading adds to an exec. */
int main(void) { return 0; }

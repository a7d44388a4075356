/* utempter: libutempter's API from a test program (linked with
 * -lutempter; the preloaded shim's definitions win).
 *
 *   utempter add FD HOST      prints utempter_add_record's result
 *   utempter remove FD        prints utempter_remove_record's result
 *   utempter add-remove FD    add, then utempter_remove_added_record
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utempter.h>

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "add")) {
        printf("%d\n", utempter_add_record(atoi(argv[2]), argv[3]));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "remove")) {
        printf("%d\n", utempter_remove_record(atoi(argv[2])));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "add-remove")) {
        int a = utempter_add_record(atoi(argv[2]), "both");
        int r = utempter_remove_added_record();
        printf("%d %d\n", a, r);
        return 0;
    }
    fprintf(stderr, "usage: utempter add FD HOST | remove FD | add-remove FD\n");
    return 2;
}

/* A program using an installed cmboot: prints the library's version (tests/packaging/install-consumers.sh). */
#include <stdio.h>
#include <string.h>

#include <cmboot/cmboot.h>

int main(void)
{
    const char *v = cmboot_version();
    if (!v || strcmp(v, CMBOOT_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: library %s, headers %s\n", v ? v : "(null)", CMBOOT_VERSION_STRING);
        return 1;
    }
    printf("%s\n", v);
    return 0;
}

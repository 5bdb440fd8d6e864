/* Reads the dynamic section of an ELF file from disk: every offset checked against the file size. */
#include "elf_needed.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/error_map.h"

#define ELF_MAX_SIZE (256u << 20)

/* Whether [off, off + len) lies inside a file of size. */
static bool inside(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* One walker for both classes: the macro instantiates it for Elf32 and Elf64 types. */
#define DEFINE_SCAN(NAME, Ehdr, Shdr, Dyn)                                                                             \
    static int NAME(const uint8_t *img, uint64_t size, const char *prefix, bool *found)                                \
    {                                                                                                                  \
        Ehdr eh;                                                                                                       \
        if (!inside(0, sizeof eh, size))                                                                               \
            return CMBOOT_ERR_FORMAT;                                                                                  \
        memcpy(&eh, img, sizeof eh);                                                                                   \
        if (eh.e_shentsize != sizeof(Shdr) || eh.e_shnum == 0 ||                                                       \
            !inside(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Shdr), size))                                            \
            return CMBOOT_ERR_FORMAT;                                                                                  \
        size_t plen = strlen(prefix);                                                                                  \
        bool seen_dynamic = false;                                                                                     \
        for (unsigned i = 0; i < eh.e_shnum; i++) {                                                                    \
            Shdr sh;                                                                                                   \
            memcpy(&sh, img + eh.e_shoff + (uint64_t)i * sizeof sh, sizeof sh);                                        \
            if (sh.sh_type != SHT_DYNAMIC)                                                                             \
                continue;                                                                                              \
            seen_dynamic = true;                                                                                       \
            Shdr str;                                                                                                  \
            if (sh.sh_link >= eh.e_shnum || !inside(sh.sh_offset, sh.sh_size, size))                                   \
                return CMBOOT_ERR_FORMAT;                                                                              \
            memcpy(&str, img + eh.e_shoff + (uint64_t)sh.sh_link * sizeof str, sizeof str);                            \
            if (!inside(str.sh_offset, str.sh_size, size) || str.sh_size == 0)                                         \
                return CMBOOT_ERR_FORMAT;                                                                              \
            const char *strtab = (const char *)img + str.sh_offset;                                                    \
            for (uint64_t off = 0; off + sizeof(Dyn) <= sh.sh_size; off += sizeof(Dyn)) {                              \
                Dyn d;                                                                                                 \
                memcpy(&d, img + sh.sh_offset + off, sizeof d);                                                        \
                if (d.d_tag == DT_NULL)                                                                                \
                    break;                                                                                             \
                if (d.d_tag != DT_NEEDED || d.d_un.d_val >= str.sh_size)                                               \
                    continue;                                                                                          \
                const char *name = strtab + d.d_un.d_val;                                                              \
                size_t room = str.sh_size - d.d_un.d_val;                                                              \
                if (memchr(name, '\0', room) && strncmp(name, prefix, plen) == 0)                                      \
                    *found = true;                                                                                     \
            }                                                                                                          \
        }                                                                                                              \
        return seen_dynamic ? CMBOOT_OK : CMBOOT_ERR_FORMAT;                                                           \
    }

DEFINE_SCAN(scan32, Elf32_Ehdr, Elf32_Shdr, Elf32_Dyn)
DEFINE_SCAN(scan64, Elf64_Ehdr, Elf64_Shdr, Elf64_Dyn)

int cmb_elf_needs(const char *path, const char *prefix, bool *found)
{
    if (!path || !prefix || !found)
        return CMBOOT_ERR_INVALID_ARG;
    *found = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cmb_error_from_errno(errno);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CMBOOT_ERR_FORMAT;
    }
    if ((uint64_t)st.st_size > ELF_MAX_SIZE) {
        close(fd);
        return CMBOOT_ERR_TOO_LARGE;
    }
    if (st.st_size < EI_NIDENT) {
        close(fd);
        return CMBOOT_ERR_FORMAT;
    }
    uint64_t size = (uint64_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return CMBOOT_ERR_IO;
    const uint8_t *img = map;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint8_t host_data = ELFDATA2LSB;
#else
    const uint8_t host_data = ELFDATA2MSB;
#endif
    int rc = CMBOOT_ERR_FORMAT;
    if (memcmp(img, ELFMAG, SELFMAG) == 0 && img[EI_DATA] == host_data) {
        if (img[EI_CLASS] == ELFCLASS64)
            rc = scan64(img, size, prefix, found);
        else if (img[EI_CLASS] == ELFCLASS32)
            rc = scan32(img, size, prefix, found);
    }
    munmap(map, size);
    return rc;
}

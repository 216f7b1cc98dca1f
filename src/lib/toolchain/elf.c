/* SPDX-License-Identifier: MIT */
/* ELF objects of the toolchain: what they need to load, and pointing them at the toolchain. */
#include "common.h"
#include "toolchain/elf.h"
#include "toolchain/spawn.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

/* Most program headers and dynamic entries looked at: real objects have a few dozen. */
#define PHDR_MAX 256
#define DYN_MAX 4096
/* patchelf takes many files at once; this many keep its argv small. */
#define PATCH_BATCH 64

void cairn_elf_release(struct cairn_elf *e)
{
	free(e->interp);
	for (size_t i = 0; i < e->n_needed; i++)
		free(e->needed[i]);
	free(e->needed);
	free(e->rpath);
	free(e->runpath);
	free(e->soname);
	memset(e, 0, sizeof(*e));
}

static int read_at(int fd, void *p, size_t len, uint64_t off, const char *path,
		   struct cairn_error **err)
{
	ssize_t n;

	if (off > (uint64_t)INT64_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "read ELF '%s': bad offset", path);
	n = pread(fd, p, len, (off_t)off);
	if (n < 0)
		return cairn_error_set_errno(err, "read ELF '%s'", path);
	if ((size_t)n != len)
		return cairn_error_set(err, CAIRN_EINVAL, "read ELF '%s': truncated", path);
	return 0;
}

/* The file offset of virtual address `va`, from the PT_LOAD segment holding it. */
static int va_offset(uint64_t *off, const Elf64_Phdr *ph, size_t n, uint64_t va)
{
	for (size_t i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr &&
		    va - ph[i].p_vaddr < ph[i].p_filesz) {
			*off = va - ph[i].p_vaddr + ph[i].p_offset;
			return 0;
		}
	return -1;
}

/* A copy of the string at `at` of the string table `tab` (`len` bytes), or NULL. */
static char *table_str(const char *tab, size_t len, uint64_t at)
{
	const char *end;

	if (at >= len)
		return NULL;
	end = memchr(tab + at, '\0', len - at);
	if (!end || (size_t)(end - (tab + at)) >= CAIRN_ELF_STR_MAX)
		return NULL;
	return xstrdup(tab + at);
}

/* DT_NEEDED, DT_RPATH, DT_RUNPATH and DT_SONAME of the dynamic section at `dyn_off`. */
static int read_dynamic(struct cairn_elf *e, int fd, const char *path, const Elf64_Phdr *ph,
			size_t n_ph, const Elf64_Phdr *dyn, struct cairn_error **err)
{
	size_t n = dyn->p_filesz / sizeof(Elf64_Dyn);
	cleanup_free Elf64_Dyn *d = NULL;
	cleanup_free char *tab = NULL;
	uint64_t strtab = 0, strsz = 0, off;
	int ret;

	if (n == 0)
		return 0;
	if (n > DYN_MAX)
		return cairn_error_set(err, CAIRN_EINVAL, "read ELF '%s': %zu dynamic entries",
				       path, n);
	d = xcalloc(n, sizeof(*d));
	ret = read_at(fd, d, n * sizeof(*d), dyn->p_offset, path, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n && d[i].d_tag != DT_NULL; i++) {
		if (d[i].d_tag == DT_STRTAB)
			strtab = d[i].d_un.d_ptr;
		else if (d[i].d_tag == DT_STRSZ)
			strsz = d[i].d_un.d_val;
	}
	if (!strtab || !strsz)
		return 0;
	if (strsz > 16u * 1024 * 1024 || va_offset(&off, ph, n_ph, strtab) < 0)
		return cairn_error_set(err, CAIRN_EINVAL, "read ELF '%s': bad string table", path);
	tab = xmalloc(strsz);
	ret = read_at(fd, tab, strsz, off, path, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n && d[i].d_tag != DT_NULL; i++) {
		char *s;

		if (d[i].d_tag != DT_NEEDED && d[i].d_tag != DT_RPATH && d[i].d_tag != DT_RUNPATH &&
		    d[i].d_tag != DT_SONAME)
			continue;
		s = table_str(tab, strsz, d[i].d_un.d_val);
		if (!s)
			return cairn_error_set(err, CAIRN_EINVAL, "read ELF '%s': bad string",
					       path);
		if (d[i].d_tag == DT_NEEDED && e->n_needed < CAIRN_ELF_NEEDED_MAX) {
			e->needed = xreallocarray(e->needed, e->n_needed + 1, sizeof(*e->needed));
			e->needed[e->n_needed++] = s;
			continue;
		}
		if (d[i].d_tag == DT_RPATH && !e->rpath)
			e->rpath = TAKE_PTR(s);
		else if (d[i].d_tag == DT_RUNPATH && !e->runpath)
			e->runpath = TAKE_PTR(s);
		else if (d[i].d_tag == DT_SONAME && !e->soname)
			e->soname = TAKE_PTR(s);
		free(s);
	}
	return 0;
}

static int read_headers(struct cairn_elf *e, int fd, const char *path, const Elf64_Ehdr *eh,
			struct cairn_error **err)
{
	cleanup_free Elf64_Phdr *ph = NULL;
	const Elf64_Phdr *dyn = NULL;
	int ret;

	if (eh->e_phnum == 0)
		return 0;
	if (eh->e_phnum > PHDR_MAX || eh->e_phentsize != sizeof(Elf64_Phdr))
		return cairn_error_set(err, CAIRN_EINVAL, "read ELF '%s': bad program headers",
				       path);
	ph = xcalloc(eh->e_phnum, sizeof(*ph));
	ret = read_at(fd, ph, eh->e_phnum * sizeof(*ph), eh->e_phoff, path, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = &ph[i];
		if (ph[i].p_type != PT_INTERP || e->interp)
			continue;
		if (ph[i].p_filesz == 0 || ph[i].p_filesz > CAIRN_ELF_STR_MAX)
			return cairn_error_set(err, CAIRN_EINVAL, "read ELF '%s': bad interpreter",
					       path);
		e->interp = xcalloc(1, ph[i].p_filesz + 1);
		ret = read_at(fd, e->interp, ph[i].p_filesz, ph[i].p_offset, path, err);
		if (ret < 0)
			return ret;
	}
	return dyn ? read_dynamic(e, fd, path, ph, eh->e_phnum, dyn, err) : 0;
}

int cairn_elf_read(struct cairn_elf *out, int dirfd, const char *path, struct cairn_error **err)
{
	cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	const union {
		uint16_t u;
		uint8_t b[2];
	} order = {.u = 1};
	Elf64_Ehdr eh;
	ssize_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return cairn_error_set_errno(err, "open '%s'", path);
	n = pread(fd, &eh, sizeof(eh), 0);
	if (n < 0)
		return cairn_error_set_errno(err, "read '%s'", path);
	if ((size_t)n < SELFMAG || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return 0;
	if ((size_t)n < sizeof(eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != (order.b[0] ? ELFDATA2LSB : ELFDATA2MSB))
		return cairn_error_set(
			err, CAIRN_EINVAL,
			"read ELF '%s': not a 64-bit object of the host's byte order", path);
	out->machine = eh.e_machine;
	out->type = eh.e_type;
	ret = read_headers(out, fd, path, &eh, err);
	if (ret < 0) {
		cairn_elf_release(out);
		return ret;
	}
	return 1;
}

int cairn_elf_patch(char *const *files, size_t n, const char *interp, const char *rpath,
		    const char *patchelf, struct cairn_error **err)
{
	for (size_t at = 0; at < n; at += PATCH_BATCH) {
		const char *argv[8 + PATCH_BATCH];
		size_t k = 0;
		int ret;

		argv[k++] = patchelf;
		if (interp) {
			argv[k++] = "--set-interpreter";
			argv[k++] = interp;
		}
		argv[k++] = "--force-rpath";
		argv[k++] = "--set-rpath";
		argv[k++] = rpath;
		for (size_t i = at; i < n && i < at + PATCH_BATCH; i++)
			argv[k++] = files[i];
		argv[k] = NULL;
		ret = cairn_spawn_run(NULL, argv, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

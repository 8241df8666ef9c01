/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio_ext.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"

/* fsyncs the directory that contains path. */
static int fsync_parent_directory(const char *path) {
        _cleanup_free_ char *copy = NULL;
        _cleanup_close_ int dfd = -EBADF;

        assert(path);

        copy = strdup(path);
        if (!copy)
                return -ENOMEM;

        dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        if (fsync(dfd) < 0)
                return negative_errno();
        return 0;
}

/* Runs writer on a stdio stream of fd; the stream is flushed and closed, fd stays open. */
static int write_stream(int fd, FileWriter writer, void *userdata) {
        _cleanup_close_ int copy = -EBADF;
        FILE *f;
        int r;

        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return negative_errno();
        f = fdopen(copy, "we");
        if (!f)
                return negative_errno();
        TAKE_FD(copy);
        (void)__fsetlocking(f, FSETLOCKING_BYCALLER); /* one thread: no lock per character */

        r = writer(f, userdata);
        if (fflush(f) != 0 && r >= 0)
                r = negative_errno();
        if (ferror(f) && r >= 0)
                r = -EIO;
        if (fclose(f) != 0 && r >= 0)
                r = negative_errno();
        return r;
}

static int write_file_atomic_full(const char *path, mode_t mode, bool keep_old, FileWriter writer,
        void *userdata) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(path);
        assert(writer);

        if (asprintf(&tmp, "%s" FILE_TMP_INFIX "XXXXXX", path) < 0)
                return -ENOMEM;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();

        r = fchmod(fd, mode) < 0 ? negative_errno() : 0;
        if (r >= 0)
                r = write_stream(fd, writer, userdata);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        /* Only now that the new content is safe (a full disk fails the write above): the
         * previous generation is replaced only by a file that is itself replaced. */
        if (r >= 0 && keep_old) {
                r = file_keep_old(path);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }

        /* The rename is durable once the directory entry is on disk. The new content is in
         * place already whatever this says, so callers must not treat its failure as "nothing
         * was written": it is best effort. */
        (void)fsync_parent_directory(path);
        return 0;
}

typedef struct Buffer {
        const void *data;
        size_t size;
} Buffer;

static int write_buffer(FILE *f, void *userdata) {
        const Buffer *b = userdata;

        if (b->size > 0 && fwrite(b->data, 1, b->size, f) != b->size)
                return -EIO;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        assert(data || size == 0);
        return write_file_atomic_full(path, mode, false, write_buffer, &(Buffer){data, size});
}

int write_file_atomic_keep_old(const char *path, const void *data, size_t size, mode_t mode) {
        assert(data || size == 0);
        return write_file_atomic_full(path, mode, true, write_buffer, &(Buffer){data, size});
}

int write_file_atomic_stream(const char *path, mode_t mode, bool keep_old, FileWriter writer,
        void *userdata) {
        return write_file_atomic_full(path, mode, keep_old, writer, userdata);
}

/* Makes to a hard link of from, atomically, through the temporary name tmp. */
static int link_atomic(const char *from, const char *tmp, const char *to) {
        int r;

        (void)unlink(tmp);
        if (link(from, tmp) < 0)
                return negative_errno();
        r = rename(tmp, to) < 0 ? negative_errno() : 0;
        /* Also after success: when to already was a link of the same file, rename() does
         * nothing and leaves tmp. */
        (void)unlink(tmp);
        if (r < 0)
                return r;
        (void)fsync_parent_directory(to); /* best effort, as in write_file_atomic() */
        return 0;
}

static int old_names(const char *path, char **ret_old, char **ret_tmp) {
        if (asprintf(ret_old, "%s" FILE_OLD_SUFFIX, path) < 0)
                return -ENOMEM;
        if (asprintf(ret_tmp, "%s.new", *ret_old) < 0)
                return -ENOMEM;
        return 0;
}

int file_keep_old(const char *path) {
        _cleanup_free_ char *old = NULL, *tmp = NULL;

        assert(path);

        if (old_names(path, &old, &tmp) < 0)
                return -ENOMEM;
        return link_atomic(path, tmp, old);
}

int file_restore_old(const char *path) {
        _cleanup_free_ char *old = NULL, *tmp = NULL;

        assert(path);

        if (old_names(path, &old, &tmp) < 0)
                return -ENOMEM;
        return link_atomic(old, tmp, path);
}

/* "<base>.tmp-XXXXXX" as mkostemp() makes them from write_file_atomic()'s template. Only that:
 * "<base>." and any six letters or digits would also be an admin's "state.json.backup". */
static bool is_write_temporary(const char *name, const char *base) {
        size_t n = strlen(base), k = strlen(FILE_TMP_INFIX);

        if (strncmp(name, base, n) != 0 || strncmp(name + n, FILE_TMP_INFIX, k) != 0)
                return false;
        name += n + k;
        return strlen(name) == 6 &&
               strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == 6;
}

static void closedirp(DIR **d) {
        if (*d)
                (void)closedir(*d);
}

int file_remove_interrupted_writes(const char *path) {
        _cleanup_free_ char *copy_dir = NULL, *copy_base = NULL, *old_new = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        const char *base;
        int n = 0;

        assert(path);

        copy_dir = strdup(path);
        copy_base = strdup(path);
        if (!copy_dir || !copy_base)
                return -ENOMEM;
        base = basename(copy_base);
        if (asprintf(&old_new, "%s" FILE_OLD_SUFFIX ".new", base) < 0)
                return -ENOMEM;

        d = opendir(dirname(copy_dir));
        if (!d)
                return negative_errno();
        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return negative_errno();
                        break;
                }
                if (!is_write_temporary(de->d_name, base) && !streq(de->d_name, old_new))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return negative_errno();
                }
                n++;
        }
        return n;
}

int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        assert(path);
        assert(ret_data);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t)st.st_size > max_size)
                return -EFBIG;

        return read_full_fd(fd, max_size, ret_data, ret_size);
}

int read_full_fd(int fd, size_t max_size, char **ret_data, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        assert(fd >= 0);
        assert(ret_data);

        for (;;) {
                ssize_t n;

                if (allocated - size < 4096) {
                        size_t a = MAX(allocated * 2, (size_t)65536);
                        char *p;

                        p = realloc(buf, a + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = a;
                }
                n = read(fd, buf + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t)n;
                if (size > max_size)
                        return -EFBIG;
        }

        buf[size] = 0;
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int mkdir_safe(const char *path, mode_t mode) {
        struct stat st;

        assert(path);

        if (mkdir(path, mode) >= 0)
                return 0;
        if (errno != EEXIST)
                return negative_errno();
        if (stat(path, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0)
                return negative_errno();
        return 0;
}

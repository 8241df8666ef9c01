/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Writes the file so that a crash at any point leaves either the old or the new content:
 * a temporary file in the same directory, fsync, rename over the target, fsync the
 * directory. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* The suffix of the previous generation of a file that keeps one ("state.json.old"). */
#define FILE_OLD_SUFFIX ".old"
/* The temporaries of write_file_atomic(): "<path>.tmp-" and six letters or digits. */
#define FILE_TMP_INFIX ".tmp-"

/* write_file_atomic() that keeps the file it replaces as "<path>.old" (file_keep_old()), once
 * the new content is written and synced: a write that fails (a full disk) changes nothing. */
int write_file_atomic_keep_old(const char *path, const void *data, size_t size, mode_t mode);

/* Writes the content of a write_file_atomic() (or, keep_old, write_file_atomic_keep_old())
 * from a writer on a stdio stream of the temporary file, for content too big to build in memory
 * first. The writer returns a negative errno, or 0; a stream error also fails the write. */
typedef int (*FileWriter)(FILE *f, void *userdata);
int write_file_atomic_stream(const char *path, mode_t mode, bool keep_old, FileWriter writer,
        void *userdata);

/* Keeps path's current content as its previous generation, "<path>.old": hard-links it under
 * "<path>.old.new" and renames that over "<path>.old", so every step leaves complete files.
 * -ENOENT when path does not exist (then "<path>.old" is left as it is). */
int file_keep_old(const char *path);

/* The reverse: replaces path atomically with a hard link of "<path>.old" (through the same
 * "<path>.old.new"). */
int file_restore_old(const char *path);

/* Removes what an interrupted write_file_atomic() or file_keep_old() of path leaves in its
 * directory: temporaries "<path>.tmp-XXXXXX" (six letters or digits) and "<path>.old.new", and
 * nothing else ("<path>.backup" of an admin stays). Returns how many were removed. */
int file_remove_interrupted_writes(const char *path);

/* Reads a whole regular file of at most max_size bytes, NUL-terminated. */
int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size);

/* Reads fd (a pipe, a terminal, a file) to its end: at most max_size bytes, NUL-terminated;
 * -EFBIG beyond that. */
int read_full_fd(int fd, size_t max_size, char **ret_data, size_t *ret_size);

/* Creates the directory (not its parents) with the mode if it is missing and checks that an
 * existing one is a directory; chmods an existing directory to the mode. */
int mkdir_safe(const char *path, mode_t mode);

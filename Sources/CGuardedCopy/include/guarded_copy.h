// A copy to or from a file mapping that survives the file shrinking under
// it. A page of a MAP_SHARED mapping past the file's end, or one the file
// system cannot provide (no space for a hole, an I/O error), raises SIGBUS;
// inside guarded_copy that signal ends the copy instead of the process.
#ifndef GUARDED_COPY_H
#define GUARDED_COPY_H

#include <stddef.h>

/// Installs the process's SIGBUS handler (once; later calls return the first
/// result). 0 on success, -1 with errno set. A SIGBUS outside guarded_copy
/// goes to the action that was installed before.
int guarded_copy_prepare(void);

/// Copies `count` bytes from `source` to `destination` and returns how many
/// it copied: `count`, or fewer when a page of either could not be read or
/// written (SIGBUS); then every byte before that page was copied.
/// guarded_copy_prepare must have succeeded first.
size_t guarded_copy(void *destination, const void *source, size_t count);

#endif

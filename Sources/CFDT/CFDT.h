// libfdt's public header as Debian's libfdt-dev installs it (/usr/include).
// ArchARM64 writes the guest's device tree with its sequential-write API.
#include <libfdt.h>

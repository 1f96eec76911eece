// libslirp's public header as Debian installs it (/usr/include/slirp/).
// It needs no glib header, so no -I from pkg-config is required.
#include <slirp/libslirp.h>

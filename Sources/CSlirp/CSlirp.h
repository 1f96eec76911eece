// libslirp's public header as Debian installs it (/usr/include/slirp/).
// It needs no glib header, so no -I from pkg-config is required.
#include <slirp/libslirp.h>

// lkvm loads libslirp with dlopen when `-n mode=user` asks for it (see
// SlirpLibrary.swift): these are the types of the entry points it looks up,
// taken from the declarations above so that they cannot drift from them.
typedef __typeof__(&slirp_new) lkvm_slirp_new_fn;
typedef __typeof__(&slirp_cleanup) lkvm_slirp_cleanup_fn;
typedef __typeof__(&slirp_input) lkvm_slirp_input_fn;
typedef __typeof__(&slirp_pollfds_fill) lkvm_slirp_pollfds_fill_fn;
typedef __typeof__(&slirp_pollfds_poll) lkvm_slirp_pollfds_poll_fn;
typedef __typeof__(&slirp_add_hostfwd) lkvm_slirp_add_hostfwd_fn;

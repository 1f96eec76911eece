// libelf's class-independent interface (gelf) as Debian's libelf-dev installs it.
#include <gelf.h>

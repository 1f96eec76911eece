/*
 * vsock-tool: the lab's vsock and Unix-socket ends (busybox has neither).
 * Built statically by lab/setup; in the L2 initramfs and the L1 base.
 *
 *   vsock-tool listen-vsock PORT       serve one AF_VSOCK stream: read a line,
 *                                      answer it in upper case, print served=LINE
 *   vsock-tool connect-vsock CID PORT MSG
 *                                      send MSG and a newline, print reply=ANSWER
 *   vsock-tool unix-connect PATH LINE...
 *                                      send each LINE and a newline, print
 *                                      everything read until the peer closes
 *   vsock-tool unix-listen PATH        serve Unix clients forever like listen-vsock
 *
 * Every mode gives up after 60 s (alarm) so that a broken device cannot hang
 * the lab. "listening" is printed once a server listens.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static void fail(const char *what) {
    fprintf(stderr, "vsock-tool: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int write_all(int fd, const char *bytes, size_t count) {
    while (count > 0) {
        ssize_t n = write(fd, bytes, count);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        bytes += n;
        count -= (size_t)n;
    }
    return 0;
}

/* Reads up to a newline or the end of the stream; returns the length without it. */
static size_t read_line(int fd, char *line, size_t size) {
    size_t used = 0;
    while (used + 1 < size) {
        ssize_t n = read(fd, line + used, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || line[used] == '\n') break;
        used++;
    }
    line[used] = 0;
    return used;
}

/* One client: read a line, answer it upper-cased with a newline, report it. */
static void serve(int client) {
    char line[512];
    size_t length = read_line(client, line, sizeof line);
    char answer[sizeof line + 1];
    for (size_t i = 0; i < length; i++) answer[i] = (char)toupper((unsigned char)line[i]);
    answer[length] = '\n';
    if (write_all(client, answer, length + 1) != 0) fail("write");
    printf("served=%s\n", line);
    fflush(stdout);
    close(client);
}

static void listening(int fd) {
    if (listen(fd, 4) != 0) fail("listen");
    printf("listening\n");
    fflush(stdout);
}

static int unix_socket(const char *path, struct sockaddr_un *address) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address->sun_path) { errno = ENAMETOOLONG; fail(path); }
    strcpy(address->sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) fail("socket(AF_UNIX)");
    return fd;
}

static struct sockaddr_vm vsock_address(unsigned cid, unsigned port) {
    struct sockaddr_vm address;
    memset(&address, 0, sizeof address);
    address.svm_family = AF_VSOCK;
    address.svm_cid = cid;
    address.svm_port = port;
    return address;
}

int main(int argc, char **argv) {
    alarm(60);
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "listen-vsock") == 0 && argc == 3) {
        int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
        if (fd < 0) fail("socket(AF_VSOCK)");
        struct sockaddr_vm address = vsock_address(VMADDR_CID_ANY, (unsigned)strtoul(argv[2], 0, 10));
        if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) fail("bind");
        listening(fd);
        int client = accept(fd, 0, 0);
        if (client < 0) fail("accept");
        serve(client);
        return 0;
    }
    if (strcmp(mode, "connect-vsock") == 0 && argc == 5) {
        int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
        if (fd < 0) fail("socket(AF_VSOCK)");
        struct sockaddr_vm address = vsock_address((unsigned)strtoul(argv[2], 0, 10), (unsigned)strtoul(argv[3], 0, 10));
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) fail("connect");
        if (write_all(fd, argv[4], strlen(argv[4])) != 0 || write_all(fd, "\n", 1) != 0) fail("write");
        char line[512];
        read_line(fd, line, sizeof line);
        printf("reply=%s\n", line);
        close(fd);
        return 0;
    }
    if (strcmp(mode, "unix-connect") == 0 && argc >= 4) {
        struct sockaddr_un address;
        int fd = unix_socket(argv[2], &address);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) fail("connect");
        for (int i = 3; i < argc; i++) {
            if (write_all(fd, argv[i], strlen(argv[i])) != 0 || write_all(fd, "\n", 1) != 0) fail("write");
        }
        char buffer[512];
        ssize_t n;
        while ((n = read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
            if (n > 0) fwrite(buffer, 1, (size_t)n, stdout);
        }
        fflush(stdout);
        return 0;
    }
    if (strcmp(mode, "unix-listen") == 0 && argc == 3) {
        alarm(0); /* a server for the VM's whole life; its owner kills it */
        struct sockaddr_un address;
        int fd = unix_socket(argv[2], &address);
        unlink(argv[2]);
        if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) fail("bind");
        listening(fd);
        for (;;) {
            int client = accept(fd, 0, 0);
            if (client < 0) {
                if (errno == EINTR) continue;
                fail("accept");
            }
            serve(client);
        }
    }
    fprintf(stderr, "usage: vsock-tool listen-vsock PORT | connect-vsock CID PORT MSG | "
                    "unix-connect PATH LINE... | unix-listen PATH\n");
    return 2;
}

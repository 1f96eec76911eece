import ArgumentParser
import Glibc

@main
struct LKVM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lkvm",
        abstract: "A Linux/KVM virtual machine monitor for kernel developers.",
        discussion: """
            Boots the kernel you just built, on x86-64 or arm64, in a second.

            Examples:
              lkvm run -k arch/x86/boot/bzImage
              lkvm run -k bzImage -i initrd.gz -p "rdinit=/bin/sh" -m 512 -c 2
              lkvm run --board Boards/pc.toml -k bzImage

            Inside the console, Ctrl-A x quits lkvm.
            No KVM on this host? Boot the same arguments in the lab: lab/run -- ARGS
            """,
        version: "lkvm 0.1.0",
        subcommands: [RunCommand.self, SandboxCommand.self, ListCommand.self, StopCommand.self, PauseCommand.self,
                      ResumeCommand.self, DebugCommand.self, StatCommand.self, BalloonCommand.self])

    /// One-line errors instead of ArgumentParser's usage dump: our users read
    /// errors in scripts and CI logs.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch let error as LKVMError {
            TerminalMode.restore()
            printError(error.description)
            Glibc.exit(error.exitStatus)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code.rawValue == 0 {
                exit(withError: error)  // --help and friends print their text
            }
            printError(message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)")
            Glibc.exit(64)
        }
    }
}

func printError(_ message: String) {
    writeStandardError("lkvm: error: \(message)\n")
}

/// Writes lkvm's own messages to stderr without waiting forever on a
/// terminal or pipe that nobody reads (the same one the guest's console
/// filled): SIGTERM then stopped the VM but lkvm hung on its last line. A
/// regular file is written as is; anything else gets up to a second to take
/// the text, through a non-blocking descriptor of its own (a new open file
/// description: the terminal's own flags stay as they are).
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var info = stat()
    if fstat(STDERR_FILENO, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
        var ready = pollfd(fd: STDERR_FILENO, events: Int16(POLLOUT), revents: 0)
        guard poll(&ready, 1, 1000) == 1 else { return }
        let fd = open("/proc/self/fd/\(STDERR_FILENO)", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            var deadline = 100  // 10 ms steps: a slow terminal gets a second for the rest
            while !bytes.isEmpty && deadline > 0 {
                let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written > 0 { bytes.removeFirst(written); continue }
                if written < 0 && errno != EAGAIN && errno != EINTR { return }
                deadline -= 1
                usleep(10_000)
            }
            return
        }
    }
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if written > 0 { bytes.removeFirst(written) } else if written < 0 && errno == EINTR { continue } else { return }
    }
}

/// A user-facing failure: one line, and lkvm's exit status.
struct LKVMError: Error, CustomStringConvertible {
    let description: String
    var exitStatus: Int32 = 1
    init(_ description: String, exitStatus: Int32 = 1) {
        self.description = description
        self.exitStatus = exitStatus
    }
}

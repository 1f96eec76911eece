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
        subcommands: [RunCommand.self])

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
    let line = "lkvm: error: \(message)\n"
    _ = line.withCString { Glibc.write(STDERR_FILENO, $0, strlen($0)) }
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

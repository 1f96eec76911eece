import Glibc
import LKVMCore
import LKVMDevices

/// Guest console output to lkvm's standard output, unbuffered.
struct StandardOutputConsole: ConsoleOutput {
    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}

/// Puts a terminal on standard input into raw mode for the guest (so Ctrl-C
/// reaches it) and restores it on every way out of lkvm.
enum TerminalMode {
    nonisolated(unsafe) private static var saved: termios?

    static func enterRaw() {
        guard isatty(STDIN_FILENO) == 1 else { return }
        var mode = termios()
        guard tcgetattr(STDIN_FILENO, &mode) == 0 else { return }
        saved = mode
        cfmakeraw(&mode)
        mode.c_oflag |= tcflag_t(OPOST | ONLCR)  // keep host-side newline handling for our own messages
        tcsetattr(STDIN_FILENO, TCSANOW, &mode)
        atexit { TerminalMode.restore() }
    }

    static func restore() {
        guard var mode = saved else { return }
        tcsetattr(STDIN_FILENO, TCSANOW, &mode)
        saved = nil
    }
}

/// Reads standard input on its own thread and feeds it to the guest's console
/// device, handling the Ctrl-A x escape. End of input just stops reading.
enum ConsoleInputPump {
    static func start(deliver: @escaping @Sendable ([UInt8]) -> Void,
                      controller: VMController) throws(HypervisorError) {
        _ = try HostThread(name: "stdin") {
            var escape = ConsoleEscape()
            var buffer = [UInt8](repeating: 0, count: 256)
            while !controller.isStopping {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }
                switch escape.filter(Array(buffer[..<count])) {
                case .forward(let bytes):
                    if !bytes.isEmpty { deliver(bytes) }
                case .quit(let bytes):
                    if !bytes.isEmpty { deliver(bytes) }
                    controller.requestStop(.consoleQuit)
                    return
                }
            }
        }
    }
}

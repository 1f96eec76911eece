/// What `lkvm sandbox` reports and exits with once the VM has stopped,
/// from what the guest left behind: the status file its init wrote (nil when
/// there is none), the first kernel panic and oops lines on its console, and
/// why the VM stopped.
public struct SandboxOutcome: Equatable, Sendable {
    /// A guest kernel panic, or the VM stopped before the command finished,
    /// or lkvm could not set the sandbox up (as `timeout` and `env` use it).
    public static let guestFailureStatus: Int32 = 125
    /// The command finished but the guest kernel reported an oops or BUG.
    public static let guestOopsStatus: Int32 = 126

    /// Lines for stderr, without the "lkvm: " prefix.
    public let messages: [String]
    public let exitStatus: Int32

    public init(statusFile: [UInt8]?, panicLine: String?, oopsLine: String?, stop: StopReason) {
        if let panicLine {
            var messages = ["guest kernel panic: \(panicLine)"]
            if let oopsLine { messages.append("first oops before it: \(oopsLine)") }
            self.messages = messages
            exitStatus = Self.guestFailureStatus
            return
        }
        guard let statusFile else {
            var messages = oopsLine.map { ["guest kernel oops: \($0)"] } ?? []
            messages.append("the command did not finish (\(Self.describe(stop)))")
            self.messages = messages
            if case .signal(let number) = stop { exitStatus = 128 + number } else { exitStatus = Self.guestFailureStatus }
            return
        }
        let text = String(decoding: statusFile, as: UTF8.self).filter { $0 != "\n" }
        guard let status = Int32(text), (0...255).contains(status) else {
            messages = ["the guest's status file holds '\(text.prefix(40))', not an exit status"]
            exitStatus = Self.guestFailureStatus
            return
        }
        if let oopsLine {
            messages = ["guest kernel oops (the command exited \(status)): \(oopsLine)"]
            exitStatus = Self.guestOopsStatus
        } else {
            // The shell reports a command killed by signal N as 128+N, which
            // is also what lkvm's own death by that signal would give: say
            // whose it is.
            messages = Self.signalName(forShellStatus: status).map {
                ["the command was killed by \($0) (exit status \(status))"]
            } ?? []
            exitStatus = status
        }
    }

    /// "signal 11 (SIGSEGV)" for a shell status of 139; nil below 129 or
    /// past the realtime signals (a plain exit status then).
    static func signalName(forShellStatus status: Int32) -> String? {
        let number = status - 128
        guard (1...64).contains(number) else { return nil }
        let names = ["HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1",
                     "SEGV", "USR2", "PIPE", "ALRM", "TERM"]
        guard number <= names.count else { return "signal \(number)" }
        return "signal \(number) (SIG\(names[Int(number) - 1]))"
    }

    static func describe(_ stop: StopReason) -> String {
        switch stop {
        case .powerOff: "the guest powered off"
        case .reset: "the guest rebooted"
        case .halted: "the guest halted"
        case .signal(let number): "lkvm was stopped by signal \(number)"
        case .consoleQuit: "quit from the console"
        case .stopRequested: "the VM was stopped by lkvm stop"
        case .fatal(let message, _): message
        }
    }
}

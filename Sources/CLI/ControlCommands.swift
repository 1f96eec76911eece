import ArgumentParser
import Glibc
import LKVMCore

/// What every control verb shares: the run directory, name checks, one
/// request and its answer, errors as one line.
enum ControlVerb {
    static var directory: RunDirectory { RunDirectory.resolve() }

    /// The rule `lkvm run --name` enforces; it also keeps names from reaching
    /// outside the run directory.
    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { $0 < 0x80 && (isalnum(Int32($0)) != 0 || "._-".utf8.contains($0)) }
            && name != "." && name != ".."
    }

    static func send(_ request: ControlRequest, to name: String, timeout: Double = 10) throws(LKVMError) -> ControlResponse {
        guard isValidName(name) else { throw LKVMError("no VM named \(name) is running") }
        let response: ControlResponse
        do { response = try ControlClient.send(request, directory: directory, name: name, timeout: timeout) } catch {
            throw LKVMError(error.description)
        }
        if case .failure(let message) = response { throw LKVMError(message) }
        return response
    }

    static func print(_ text: String) {
        var line = text
        if !line.hasSuffix("\n") { line += "\n" }
        var bytes = Array(line.utf8)
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written > 0 { bytes.removeFirst(written) } else if written < 0 && errno == EINTR { continue } else { return }
        }
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List this user's running VMs (name, pid, state, vCPUs, memory).")

    func run() throws {
        var rows = [["NAME", "PID", "STATE", "VCPUS", "MEMORY"]]
        for name in ControlClient.candidateNames(in: ControlVerb.directory) where ControlVerb.isValidName(name) {
            do {
                let response = try ControlClient.send(.list, directory: ControlVerb.directory, name: name, timeout: 3)
                switch response {
                case .success:
                    rows.append([name, response["pid"]?.intValue.map(String.init) ?? "?",
                                 response["state"]?.stringValue ?? "?",
                                 response["vcpus"]?.intValue.map(String.init) ?? "?",
                                 response["memory_mib"]?.intValue.map { "\($0) MiB" } ?? "?"])
                case .failure(let message):
                    rows.append([name, "?", "error: \(message)", "?", "?"])
                }
            } catch .notRunning {
                continue  // a dead VM's leftovers, now cleaned
            } catch {
                let pid = VMNameLock.ownerPID(directory: ControlVerb.directory, name: name).map { String($0) } ?? "?"
                if case .starting = error { rows.append([name, pid, "starting", "?", "?"]) } else {
                    rows.append([name, pid, "unresponsive", "?", "?"])
                }
            }
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let cells = zip(row, widths).map { cell, width in cell + String(repeating: " ", count: width - cell.count) }
            ControlVerb.print(cells.joined(separator: "  ").trimmingTrailingSpaces)
        }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

struct StopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop a running VM (or all of them) and wait until it has exited.")

    @Argument(help: "The VM's name (lkvm run --name).")
    var name: String?

    @Flag(name: .long, help: "Stop every VM of this user.")
    var all = false

    /// How long to wait for a stopped VM to exit.
    static let exitWait: Double = 15

    func validate() throws {
        if all == (name != nil) { throw ValidationError("give a VM name or --all") }
    }

    func run() throws {
        let names = all ? ControlClient.candidateNames(in: ControlVerb.directory).filter(ControlVerb.isValidName) : [name!]
        var failures: [String] = []
        for name in names {
            do {
                _ = try ControlVerb.send(.stop, to: name)
            } catch {
                // --all: a VM that died meanwhile is not an error.
                if all && error.description.hasPrefix("no VM named") { continue }
                failures.append(error.description)
                continue
            }
            if !Self.waitForExit(name) { failures.append("VM \(name) did not exit within \(Int(Self.exitWait)) s") }
        }
        if let first = failures.first {
            for extra in failures.dropFirst() { printError(extra) }
            throw LKVMError(first)
        }
    }

    /// The VM's lock is free once its process is gone (or has released it on the way out).
    static func waitForExit(_ name: String) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let deadline = now.tv_sec + Int(exitWait)
        while VMNameLock.isHeld(directory: ControlVerb.directory, name: name) {
            clock_gettime(CLOCK_MONOTONIC, &now)
            if now.tv_sec > deadline { return false }
            usleep(20_000)
        }
        return true
    }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Pause a VM: its vCPUs stop running guest code (and its clock stops) until resume.")

    @Argument(help: "The VM's name.")
    var name: String

    func run() throws {
        _ = try ControlVerb.send(.pause, to: name)
        ControlVerb.print("VM \(name) paused")
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused VM.")

    @Argument(help: "The VM's name.")
    var name: String

    func run() throws {
        _ = try ControlVerb.send(.resume, to: name)
        ControlVerb.print("VM \(name) resumed")
    }
}

struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Print every vCPU's registers and the kernel function it is in (read with the vCPUs briefly paused).")

    @Argument(help: "The VM's name.")
    var name: String

    @Option(name: .long, help: "Also send the guest this magic SysRq key through its serial console (l: every CPU's backtrace, t: every task's stack; the guest must allow it: sysrq_always_enabled or kernel.sysrq=1).")
    var sysrq: String?

    @Flag(name: .long, help: "Also inject an NMI into every vCPU (x86; Linux logs an unknown NMI, and panics with its stacks when kernel.unknown_nmi_panic=1).")
    var nmi = false

    func run() throws {
        let response = try ControlVerb.send(.debug(sysrq: sysrq, nmi: nmi), to: name)
        ControlVerb.print(response["report"]?.stringValue ?? "")
    }

    func validate() throws {
        if let sysrq, sysrq.count != 1 { throw ValidationError("--sysrq \(sysrq): give one key, such as t") }
    }
}

struct StatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat", abstract: "Print a VM's memory figures (guest RAM, host RSS, balloon).")

    @Argument(help: "The VM's name.")
    var name: String

    func run() throws {
        let response = try ControlVerb.send(.stat, to: name)
        var lines = ["VM \(name)"]
        if let memory = response["memory_mib"]?.intValue { lines.append("  guest memory  \(memory) MiB") }
        if let rss = response["host_rss_kib"]?.intValue { lines.append("  host RSS      \(rss / 1024) MiB (\(rss) KiB)") }
        if case .object(let fields)? = response["balloon"] {
            lines.append("  balloon:")
            for (key, value) in fields { lines.append("    \(key)  \(value.serialized)") }
            if response["balloon_stats_fresh"]?.boolValue == false {
                lines.append("    (the guest sent no fresh statistics within 2 s: these are older, or none)")
            }
        }
        ControlVerb.print(lines.joined(separator: "\n"))
    }
}

struct BalloonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "balloon", abstract: "Inflate (take memory from the guest) or deflate (give it back) a VM's balloon.")

    @Argument(help: "The VM's name.")
    var name: String

    @Option(name: .long, help: "MiB to add to the balloon.")
    var inflate: Int?

    @Option(name: .long, help: "MiB to take out of the balloon.")
    var deflate: Int?

    func validate() throws {
        guard (inflate == nil) != (deflate == nil) else { throw ValidationError("give exactly one of --inflate MiB and --deflate MiB") }
        if let amount = inflate ?? deflate, amount <= 0 || amount > 1 << 30 {
            throw ValidationError("\(inflate != nil ? "--inflate" : "--deflate") \(amount): give a positive number of MiB")
        }
    }

    func run() throws {
        let delta = inflate ?? -(deflate ?? 0)
        let response = try ControlVerb.send(.balloon(deltaMiB: delta), to: name)
        ControlVerb.print("VM \(name): balloon target \(response["target_mib"]?.intValue ?? 0) MiB")
    }
}

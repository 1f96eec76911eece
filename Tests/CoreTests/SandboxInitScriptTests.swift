import Foundation
@testable import LKVMCore
import XCTest

final class SandboxInitScriptTests: XCTestCase {
    static let awkward = ["sh", "-c", "echo \"$1\"", "it's", "two words", "$HOME `id` $(id)", "line1\nline2",
                          "back\\slash", "", "'", "''\"\"", "*", "-n", "ünïcödé"]

    /// The quoted words, read back by a real sh, are the original arguments.
    func testQuotedArgumentsSurviveARealShell() throws {
        let words = Self.awkward.map(SandboxInitScript.shellQuoted).joined(separator: " ")
        XCTAssertEqual(try Self.nulSeparatedOutput(of: "for a in " + words + "; do printf '%s\\0' \"$a\"; done"),
                       Self.awkward)
    }

    func testTheScriptRunsTheCommandInAChrootAndRecordsItsStatus() {
        let script = SandboxInitScript(command: ["touch", "/tmp/x y"], modules: ["9pnet.ko", "9p.ko"], term: "xterm")
        let lines = script.text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "#!/bin/busybox sh")
        let loads = lines.filter { $0.contains("insmod") }
        XCTAssertEqual(loads.count, 2)
        XCTAssertTrue(loads[0].contains("'/lib/modules/9pnet.ko'"))
        XCTAssertTrue(loads[1].contains("'/lib/modules/9p.ko'"))
        let root = lines.firstIndex { $0.contains("hostroot /newroot") }!
        XCTAssertTrue(lines[root].contains(",ro,"), lines[root])
        let run = lines.firstIndex { $0.contains("chroot /newroot") }!
        XCTAssertGreaterThan(run, root)
        XCTAssertTrue(lines[run].hasSuffix(" 'touch' '/tmp/x y'"), lines[run])
        XCTAssertTrue(lines[run].contains("HOME=/root TERM='xterm'"), lines[run])
        XCTAssertEqual(lines[run + 1], "echo $? >/scratch/status")
        XCTAssertEqual(lines.last, "$bb poweroff -f")
        // /tmp is the scratch share's tmp/, not the directory holding the status.
        XCTAssertTrue(lines.contains { $0.hasPrefix("$bb mount --bind /scratch/tmp /newroot/tmp") })
    }

    /// The chroot line, run by a real sh with stand-ins for busybox, passes
    /// every awkward argument through unchanged.
    func testTheCommandLineHandsArgumentsOverIntact() throws {
        let script = SandboxInitScript(command: ["printf", "%s\\0"] + Self.awkward, modules: [], term: "dumb")
        // "$bb env -i ... $bb chroot /newroot /bin/sh -c ..." up to the status
        // line (an argument holds a newline) → run the part after the chroot directly.
        let text = script.text
        let shell = String(text[text.range(of: "chroot /newroot ")!.upperBound..<text.range(of: "\necho $? >")!.lowerBound])
        XCTAssertEqual(try Self.nulSeparatedOutput(of: "cd / && " + shell), Self.awkward)
    }

    /// Runs `command` with a real /bin/sh; its output split at NUL bytes.
    static func nulSeparatedOutput(of command: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data.split(separator: 0, omittingEmptySubsequences: false).dropLast()
            .map { String(decoding: $0, as: UTF8.self) }
    }
}

final class GuestPanicWatchTests: XCTestCase {
    func testAPanicAfterAnOopsIsRememberedWithIt() {
        var watch = GuestPanicWatch()
        let console = """
            [    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)\r
            [   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000008\r
            [   12.345690] #PF: supervisor read access in kernel mode\r
            [   12.345712] Oops: 0000 [#1] PREEMPT SMP NOPTI\r
            [   12.400001] Kernel panic - not syncing: Fatal exception\r

            """
        // Split mid-line, as console writes come.
        let bytes = Array(console.utf8)
        watch.consume(Array(bytes[..<100]))
        watch.consume(Array(bytes[100...]))
        XCTAssertEqual(watch.panicLine, "Kernel panic - not syncing: Fatal exception")
        XCTAssertEqual(watch.oopsLine, "BUG: kernel NULL pointer dereference, address: 0000000000000008")
    }

    func testGeneralProtectionFaultWithACallerIdIsAnOops() {
        var watch = GuestPanicWatch()
        watch.consume(Array("[   33.100000][ T1234] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP\n".utf8))
        XCTAssertNil(watch.panicLine)
        XCTAssertEqual(watch.oopsLine, "general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP")
    }

    func testProgramOutputIsNotTakenForTheKernel() {
        var watch = GuestPanicWatch()
        watch.consume(Array("BUG: this is my program\nKernel panic - not syncing: just a string\n[main] Oops: trinity\n".utf8))
        watch.consume(Array("[not a stamp] Kernel panic - not syncing: x\n".utf8))
        watch.finish()
        XCTAssertNil(watch.panicLine)
        XCTAssertNil(watch.oopsLine)
    }

    func testAnUnfinishedLastLineCountsAndLongLinesAreCut() {
        var watch = GuestPanicWatch()
        watch.consume(Array(repeating: UInt8(ascii: "x"), count: 100_000) + [UInt8(ascii: "\n")])
        watch.consume(Array("[    5.000000] Kernel panic - not syncing: VFS: Unable to mount root fs".utf8))
        XCTAssertNil(watch.panicLine)
        watch.finish()
        XCTAssertEqual(watch.panicLine, "Kernel panic - not syncing: VFS: Unable to mount root fs")
    }
}

final class SandboxOutcomeTests: XCTestCase {
    func testTheCommandsStatusPassesThrough() {
        let outcome = SandboxOutcome(statusFile: Array("7\n".utf8), panicLine: nil, oopsLine: nil, stop: .powerOff)
        XCTAssertEqual(outcome, SandboxOutcome(statusFile: Array("7".utf8), panicLine: nil, oopsLine: nil, stop: .reset))
        XCTAssertEqual(outcome.exitStatus, 7)
        XCTAssertEqual(outcome.messages, [])
    }

    func testACommandKilledBySignalIsNamedAsTheCommands() {
        let outcome = SandboxOutcome(statusFile: Array("139\n".utf8), panicLine: nil, oopsLine: nil, stop: .powerOff)
        XCTAssertEqual(outcome.exitStatus, 139)
        XCTAssertEqual(outcome.messages, ["the command was killed by signal 11 (SIGSEGV) (exit status 139)"])
        XCTAssertEqual(SandboxOutcome(statusFile: Array("170".utf8), panicLine: nil, oopsLine: nil, stop: .powerOff).messages,
                       ["the command was killed by signal 42 (exit status 170)"])
        for plain in ["128", "193", "255"] {
            XCTAssertEqual(SandboxOutcome(statusFile: Array(plain.utf8), panicLine: nil, oopsLine: nil, stop: .powerOff).messages,
                           [], plain)
        }
    }

    func testAPanicIs125EvenAfterTheCommandFinished() {
        let outcome = SandboxOutcome(statusFile: Array("0\n".utf8), panicLine: "Kernel panic - not syncing: Fatal exception",
                                     oopsLine: "Oops: 0000 [#1] SMP", stop: .reset)
        XCTAssertEqual(outcome.exitStatus, 125)
        XCTAssertEqual(outcome.messages.first, "guest kernel panic: Kernel panic - not syncing: Fatal exception")
    }

    func testAnOopsWithoutPanicIs126() {
        let outcome = SandboxOutcome(statusFile: Array("0\n".utf8), panicLine: nil, oopsLine: "BUG: unable to handle page fault",
                                     stop: .powerOff)
        XCTAssertEqual(outcome.exitStatus, 126)
        XCTAssertEqual(outcome.messages, ["guest kernel oops (the command exited 0): BUG: unable to handle page fault"])
    }

    func testNoStatusFileMeansTheCommandDidNotFinish() {
        let outcome = SandboxOutcome(statusFile: nil, panicLine: nil, oopsLine: nil, stop: .reset)
        XCTAssertEqual(outcome.exitStatus, 125)
        XCTAssertEqual(outcome.messages, ["the command did not finish (the guest rebooted)"])
        XCTAssertEqual(SandboxOutcome(statusFile: nil, panicLine: nil, oopsLine: nil, stop: .signal(15)).exitStatus, 143)
    }

    func testAGarbledStatusFileIsAFailureNotAStatus() {
        for text in ["", "x", "256", "-1", "1 2"] {
            XCTAssertEqual(SandboxOutcome(statusFile: Array(text.utf8), panicLine: nil, oopsLine: nil, stop: .powerOff).exitStatus,
                           125, text)
        }
    }
}

final class ELFInterpreterTests: XCTestCase {
    /// A minimal ELF64 little-endian header with `types` as its program headers.
    static func elf(_ types: [UInt32]) -> [UInt8] {
        var file = [UInt8](repeating: 0, count: 64 + 56 * types.count)
        file[0...5] = [0x7F, 0x45, 0x4C, 0x46, 2, 1]
        file[0x20] = 64  // e_phoff
        file[0x36] = 56  // e_phentsize
        file[0x38] = UInt8(types.count)
        for (index, type) in types.enumerated() { file[64 + 56 * index] = UInt8(type) }
        return file
    }

    func testInterpreterHeaderIsFound() throws {
        XCTAssertTrue(try ELFInterpreter.needsInterpreter(Self.elf([6, 3, 1])))
        XCTAssertFalse(try ELFInterpreter.needsInterpreter(Self.elf([1, 1, 4])))
    }

    func testBadFilesAreErrors() {
        XCTAssertThrowsError(try ELFInterpreter.needsInterpreter(Array("#!/bin/sh\n".utf8) + [UInt8](repeating: 0, count: 60)))
        var truncated = Self.elf([1, 3])
        truncated.removeLast(60)
        XCTAssertThrowsError(try ELFInterpreter.needsInterpreter(truncated))
    }

    func testTheHostsBinaries() throws {
        guard let busybox = FileManager.default.contents(atPath: "/bin/busybox"),
              let shell = FileManager.default.contents(atPath: "/usr/bin/env") else { throw XCTSkip("no /bin/busybox or /usr/bin/env") }
        XCTAssertTrue(try ELFInterpreter.needsInterpreter(Array(shell)), "/usr/bin/env is dynamically linked")
        if try !ELFInterpreter.needsInterpreter(Array(busybox)) { return }
        throw XCTSkip("/bin/busybox here is not the static one")
    }
}

import Foundation

/// The lkvm binary these tests run: the one built beside the test runner, so
/// that `swift test --scratch-path DIR` tests DIR's lkvm, not another build's.
enum CLITestBinary {
    static let path: String = {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        // The runner may be inside lkvmPackageTests.xctest/ (a bundle directory).
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("lkvm").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return BadInputTests.repo.appendingPathComponent(".build/debug/lkvm").path
    }()
}

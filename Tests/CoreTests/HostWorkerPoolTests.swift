import Foundation
import Glibc
@testable import LKVMCore
import Synchronization
import XCTest

final class HostWorkerPoolTests: XCTestCase {
    /// Which thread ran each part, and when `run` had returned.
    final class Log: Sendable {
        let threads = Mutex<[Int: UInt]>([:])
        func record(_ part: Int) { threads.withLock { $0[part] = UInt(bitPattern: Int(bitPattern: pthread_self())) } }
    }

    func testEveryPartRunsOnceAndRunReturnsOnlyWhenAllHaveFinished() throws {
        let pool = try HostWorkerPool(helpers: 2, name: "test-pool")
        XCTAssertEqual(pool.helperCount, 2)
        for round in 0..<50 {
            let log = Log()
            let ran = Mutex([Int](repeating: 0, count: 3))
            pool.run((0..<3).map { part in
                {
                    if part > 0 { usleep(UInt32(200 * (part + round % 3))) }  // helpers finish after the caller
                    ran.withLock { $0[part] += 1 }
                    log.record(part)
                }
            })
            XCTAssertEqual(ran.withLock { $0 }, [1, 1, 1], "round \(round)")
            let threads = log.threads.withLock { $0 }
            XCTAssertEqual(threads[0], UInt(bitPattern: Int(bitPattern: pthread_self())), "part 0 runs on the caller")
            XCTAssertEqual(Set(threads.values).count, 3, "three parts, three threads")
        }
    }

    func testPartsBeyondTheHelpersRunOnTheCaller() throws {
        let pool = try HostWorkerPool(helpers: 1, name: "test-pool")
        let log = Log()
        pool.run((0..<4).map { part in { log.record(part) } })
        let threads = log.threads.withLock { $0 }
        let me = UInt(bitPattern: Int(bitPattern: pthread_self()))
        XCTAssertEqual(threads.count, 4)
        XCTAssertEqual([threads[0], threads[2], threads[3]], [me, me, me])
        XCTAssertNotEqual(threads[1], me)
        pool.run([])  // nothing to do is fine too
    }

    func testThePoolsThreadsEndWithIt() throws {
        // Threads are named NAME-INDEX (HostThread); count those of this pool.
        func poolThreads() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").filter { task in
                let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
                return comm?.hasPrefix("pool-ends-") == true
            }.count
        }
        do {
            let pool = try HostWorkerPool(helpers: 3, name: "pool-ends")
            pool.run((0..<4).map { _ in {} })  // each helper has run, so it is named by now
            XCTAssertEqual(try poolThreads(), 3)
        }
        XCTAssertEqual(try poolThreads(), 0, "deinit joined the helpers")
    }
}
